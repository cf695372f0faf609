package org.zfsbackup.config;

import static java.util.concurrent.TimeUnit.SECONDS;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.std.StdDelegatingDeserializer;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.databind.util.StdConverter;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.config.spi.ConfigProcessor;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.zfsbackup.config.ConfigRules.Check;
import org.zfsbackup.config.ConfigRules.Rule;
import org.zfsbackup.zfs.DatasetName;

/**
 * Loads the configuration once. Vert.x Config reads the file ({@link StrictFormat}) and merges
 * environment variables, then system properties, over it (names and formats: {@link #overrides},
 * docs/configuration.md). A walk along the record types then gives absent keys their default, turns
 * override strings into the key's type and applies each {@link Check}; Jackson binds; {@link
 * ConfigRules} checks across keys. Every problem is reported in one run: Jackson stops at the
 * first, so binding is repeated, each failure recorded under its key path and its value nulled (an
 * unknown key removed), until the rest binds. The broker password comes from {@code
 * ZFS_BACKUP_AGENT_MQTT_PASSWORD} or the file named by {@code mqtt.password_file}; it is held as a
 * {@link AgentConfig.Secret} and appears in no message.
 */
public final class ConfigLoader {
  static final String PASSWORD_ENV = "ZFS_BACKUP_AGENT_MQTT_PASSWORD";
  private static final long TIMEOUT_S = 30;

  /** Strict: no value changes type on the way (a quoted "22" is no port, 1.5 no integer). */
  static final ObjectMapper JSON =
      JsonMapper.builder()
          .addModule(new Jdk8Module())
          .addModule(
              new SimpleModule()
                  .addDeserializer(
                      Path.class,
                      new StdDelegatingDeserializer<>(
                          new StdConverter<String, Path>() {
                            @Override
                            public Path convert(String value) {
                              return Path.of(value); // any string, ':' included
                            }
                          }))
                  .addDeserializer(
                      Duration.class,
                      new StdDelegatingDeserializer<>(
                          new StdConverter<Integer, Duration>() {
                            @Override
                            public Duration convert(Integer seconds) {
                              return Duration.ofSeconds(seconds);
                            }
                          })))
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .withCoercionConfigDefaults(
              c ->
                  Arrays.stream(CoercionInputShape.values())
                      .forEach(shape -> c.setCoercion(shape, CoercionAction.Fail)))
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS) // YAML dates: strings
          .build();

  private final Problems problems = new Problems();

  private ConfigLoader() {}

  /** Loads {@code file} with overrides from {@code env} and the JVM's system properties. */
  public static AgentConfig load(Path file, Map<String, String> env) {
    Map<String, String> properties = new HashMap<>();
    System.getProperties().forEach((k, v) -> properties.put(String.valueOf(k), String.valueOf(v)));
    return load(file, env, properties);
  }

  /**
   * Loads {@code file} with overrides from {@code env} and {@code systemProperties}.
   *
   * @throws ConfigException naming the key path of every problem found, one per line
   */
  public static AgentConfig load(
      Path file, Map<String, String> env, Map<String, String> systemProperties) {
    if (!Files.isRegularFile(file)) {
      throw new ConfigException(
          String.format(
              "config file %s not found (absolute: %s); use --config PATH, or start from %s",
              file, file.toAbsolutePath(), "config/agent.example.yaml"));
    } else if (!Files.isReadable(file)) {
      throw new ConfigException("config file " + file + " is not readable");
    }
    ConfigLoader loader = new ConfigLoader();
    List<ConfigStoreOptions> stores = new ArrayList<>();
    loader.overrides(stores, env, "ZFS_BACKUP_AGENT_", "__", "environment variable ");
    loader.overrides(stores, systemProperties, "zfs-backup-agent.", "\\.", "system property ");
    ObjectNode tree = retrieve(file, stores);
    loader.complete(tree, JSON.constructType(AgentConfig.class), "");
    derivedDefaults(tree);
    loader.password(tree, env.get(PASSWORD_ENV));
    AgentConfig config = loader.bind(tree);
    ConfigRules.check(config, loader.problems);
    if (!loader.problems.isEmpty()) {
      throw new ConfigException(loader.problems.list());
    }
    return config;
  }

  /** Vert.x Config reads the file and merges the overrides over it, with a short-lived Vert.x. */
  private static ObjectNode retrieve(Path file, List<ConfigStoreOptions> overrides) {
    boolean json = file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
    JsonObject store = new JsonObject().put("path", file.toAbsolutePath().toString());
    ConfigRetrieverOptions options =
        new ConfigRetrieverOptions()
            .setIncludeDefaultStores(false)
            .setScanPeriod(0)
            .addStore(
                new ConfigStoreOptions()
                    .setType("file")
                    .setFormat(StrictFormat.NAME)
                    .setConfig(store.put("json", json)));
    overrides.forEach(options::addStore);
    // No .vertx cache directory here, and no class-path fallback for a relative path.
    Vertx vertx =
        Vertx.vertx(
            new VertxOptions()
                .setEventLoopPoolSize(1)
                .setWorkerPoolSize(1)
                .setInternalBlockingPoolSize(1)
                .setFileSystemOptions(
                    new FileSystemOptions()
                        .setFileCachingEnabled(false)
                        .setClassPathResolvingEnabled(false)));
    ConfigRetriever retriever = ConfigRetriever.create(vertx, options);
    try {
      JsonObject merged =
          retriever.getConfig().toCompletionStage().toCompletableFuture().get(TIMEOUT_S, SECONDS);
      return (ObjectNode) JSON.readTree(merged.encode());
    } catch (ExecutionException | IOException e) {
      // The innermost message has the line and column; no path: the caller names the file.
      Throwable t = e;
      while (t.getCause() != null && t.getCause() != t) {
        t = t.getCause();
      }
      String m = String.valueOf(t.getMessage()).strip().replaceAll("in '(string|reader)', ", "at ");
      String cannot = "cannot parse it as " + (json ? "JSON: " : "YAML: ");
      throw new ConfigException(cannot + m.replaceAll("\\s*\\n\\s*", " "));
    } catch (TimeoutException e) {
      throw new ConfigException("reading " + file + " took longer than " + TIMEOUT_S + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ConfigException("interrupted while reading " + file);
    } finally {
      retriever.close();
      vertx.close();
    }
  }

  /**
   * The file format for Vert.x Config (registered in {@code META-INF/services}): YAML, or JSON when
   * the store's {@code json} is true, stricter than the stock processors: a key given twice in one
   * mapping is an error (they keep the last silently, so a second {@code datasets:} would drop the
   * first list), and a top level that is not a mapping gets a plain message.
   */
  public static final class StrictFormat implements ConfigProcessor {
    static final String NAME = "zfs-backup-agent";

    @Override
    public String name() {
      return NAME;
    }

    @Override
    public Future<JsonObject> process(Vertx vertx, JsonObject store, Buffer input) {
      return vertx.executeBlocking(
          () -> {
            JsonNode tree =
                store.getBoolean("json", false)
                    ? JSON.readTree(input.getBytes())
                    : yaml(input.toString(StandardCharsets.UTF_8));
            if (tree != null && !tree.isObject() && !tree.isMissingNode() && !tree.isNull()) {
              throw new DecodeException(
                  "the top level must be a mapping of keys (pull:, push:, ...), not " + a(tree));
            }
            return new JsonObject(tree != null && tree.isObject() ? tree.toString() : "{}");
          });
    }
  }

  /**
   * Adds the overrides in {@code values} as stores over the file: {@code prefix} + the key path,
   * levels joined by {@code separator} ({@code ZFS_BACKUP_AGENT_MQTT__URL}: {@code mqtt.url}); the
   * string is converted by {@link #complete}. A mapping given whole (JSON) and a key below it: the
   * mapping replaces the file's, then the key applies on top of it.
   */
  private void overrides(
      List<ConfigStoreOptions> stores,
      Map<String, String> values,
      String prefix,
      String separator,
      String kind) {
    JsonObject whole = new JsonObject();
    JsonObject merged = new JsonObject();
    for (Map.Entry<String, String> e : new TreeMap<>(values).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(prefix) || name.equals(PASSWORD_ENV)) {
        continue;
      }
      String[] keys = name.substring(prefix.length()).toLowerCase(Locale.ROOT).split(separator, -1);
      if (Arrays.stream(keys).anyMatch(String::isEmpty)) {
        problems.addGeneral(kind + name + ": not a key path (empty level)");
        continue;
      } else if (Arrays.stream(keys).anyMatch(k -> k.matches("[0-9]+"))) {
        problems.addGeneral(
            kind + name + ": a list cannot be changed item by item;"
                + " override the whole list (JSON)");
        continue;
      }
      JsonObject node = merged;
      for (int i = 0; i < keys.length - 1; node = node.getJsonObject(keys[i++])) {
        JsonObject shadow = node.getValue(keys[i]) instanceof String ? at(whole, keys, i) : null;
        if (shadow != null) {
          shadow.put(keys[i], node.getValue(keys[i])); // replaces the file's mapping first
        }
        if (!(node.getValue(keys[i]) instanceof JsonObject)) {
          JsonNode json = json(String.valueOf(node.getValue(keys[i])));
          node.put(keys[i], new JsonObject(json != null && json.isObject() ? json + "" : "{}"));
        }
      }
      node.put(keys[keys.length - 1], e.getValue());
      problems.origin(String.join(".", keys), kind + name);
    }
    stores.add(new ConfigStoreOptions().setType("json").setConfig(whole));
    stores.add(new ConfigStoreOptions().setType("json").setConfig(merged));
  }

  /** The mapping at the first {@code depth} keys, made where absent; null below a string. */
  private static JsonObject at(JsonObject root, String[] keys, int depth) {
    for (int i = 0; root != null && i < depth; i++) {
      Object child = root.getMap().computeIfAbsent(keys[i], k -> new JsonObject());
      root = child instanceof JsonObject o ? o : null;
    }
    return root;
  }

  /**
   * Walks the tree along the record types: gives an absent key its default (an absent section, its
   * keys' defaults) or reports it missing when required, turns an override's string into the key's
   * type, and checks each value: present, not blank, and following its {@link Check}. Types are
   * left to Jackson.
   */
  private void complete(ObjectNode node, JavaType type, String path) {
    for (BeanPropertyDefinition p : properties(type)) {
      String key = p.getName();
      String at = (path.isEmpty() ? "" : path + ".") + key;
      Check check = p.getPrimaryMember().getAnnotation(Check.class);
      boolean optional = p.getPrimaryType().isReferenceType();
      JavaType t = optional ? p.getPrimaryType().getReferencedType() : p.getPrimaryType();
      JsonNode value = node.get(key);
      if (value == null && p.getMetadata().getDefaultValue() != null) {
        node.set(key, value = yaml(p.getMetadata().getDefaultValue()));
      } else if (value == null && p.isRequired()) {
        problems.add(at, "missing (required)");
        node.putNull(key);
      } else if (value == null && !optional && t.isRecordType()) {
        value = node.putObject(key);
      } else if (value instanceof TextNode text && problems.originOf(at) != null) {
        node.set(key, value = coerce(text.asText(), t));
      }
      check(value, at, check);
      if (value instanceof ObjectNode object && t.isRecordType()) {
        complete(object, t, at);
      }
      for (int i = 0; value instanceof ArrayNode list && i < list.size(); i++) {
        check(list.get(i), at + "[" + i + "]", check);
        if (list.get(i) instanceof ObjectNode object && t.getContentType().isRecordType()) {
          complete(object, t.getContentType(), at + "[" + i + "]");
        }
      }
    }
  }

  private static List<BeanPropertyDefinition> properties(JavaType type) {
    return JSON.getDeserializationConfig().introspect(type).findProperties();
  }

  /** A record's keys, in its order. */
  static List<String> keys(Class<?> type) {
    return properties(JSON.constructType(type)).stream().map(p -> p.getName()).toList();
  }

  private void check(JsonNode value, String at, Check check) {
    if (value != null && value.isNull()) {
      String hint = at.endsWith("]") ? "" : " (give one, or remove the key to get the default)";
      problems.add(at, "has no value" + hint);
    } else if (value != null && value.isTextual() && value.asText().isBlank()) {
      problems.add(at, "must not be empty");
    }
    for (Rule rule : value == null || check == null ? new Rule[0] : check.value()) {
      Optional.ofNullable(ConfigRules.problem(rule, value)).ifPresent(p -> problems.add(at, p));
    }
  }

  /** An override's string as the key's type: int, bool, list (JSON or a,b,c), mapping (JSON). */
  private static JsonNode coerce(String text, JavaType type) {
    String t = text.trim();
    JsonNode json = json(t);
    Class<?> raw = type.getRawClass();
    if (raw == boolean.class || raw == Boolean.class) {
      return t.matches("(?i)true|yes|on|1")
          ? BooleanNode.TRUE
          : t.matches("(?i)false|no|off|0") ? BooleanNode.FALSE : TextNode.valueOf(text);
    } else if (json != null
        && (json.isIntegralNumber() && List.of(Integer.class, Duration.class).contains(raw)
            || json.isArray() && type.isCollectionLikeType()
            || json.isObject() && type.isRecordType())) {
      return json;
    } else if (type.isCollectionLikeType() && type.containedType(0).hasRawClass(String.class)
        && !t.startsWith("[")) {
      ArrayNode list = JSON.createArrayNode();
      Arrays.stream(t.split(",", -1)).filter(s -> !t.isEmpty()).forEach(s -> list.add(s.trim()));
      return list;
    }
    return TextNode.valueOf(text);
  }

  /** Defaults that depend on other keys or on the machine. */
  private static void derivedDefaults(ObjectNode tree) {
    if (tree.get("mqtt") instanceof ObjectNode mqtt && !mqtt.has("client_id")) {
      mqtt.put("client_id", "zfs-backup-agent-" + hostname());
    }
    for (JsonNode source : tree.at("/pull/sources")) {
      if (source instanceof ObjectNode s && !s.has("name") && s.path("host").isTextual()) {
        s.set("name", s.get("host"));
      }
    }
    JsonNode target = tree.at("/pull/target");
    if (tree.get("push") instanceof ObjectNode push
        && target.isTextual()
        && DatasetName.problem(target.asText()).isEmpty()) {
      push.putIfAbsent("strip_prefix", target);
      push.putIfAbsent("datasets", JSON.createArrayNode().add(target));
    }
  }

  /**
   * The password is bound from {@code password_file}, whose name is replaced here by the file's
   * content, or by the environment's password when that is set (and then no file is read).
   */
  private void password(ObjectNode tree, String fromEnv) {
    if (!(tree.get("mqtt") instanceof ObjectNode mqtt)) {
      return;
    } else if (fromEnv != null && !fromEnv.isEmpty()) {
      mqtt.put("password_file", fromEnv);
    } else if (mqtt.get("password_file") instanceof TextNode name && !name.asText().isBlank()) {
      Path file = Path.of(mqtt.remove("password_file").asText());
      try {
        String value = Files.readString(file).replaceFirst("[\r\n]+$", "");
        if (value.isEmpty()) {
          problems.add("mqtt.password_file", file + " is empty");
        } else {
          mqtt.put("password_file", value);
        }
      } catch (IOException | RuntimeException e) {
        // The exception type only: a decoding error's message could quote the content.
        String why =
            Files.isRegularFile(file) && Files.isReadable(file)
                ? e.getClass().getSimpleName()
                : "missing, not a file, or not readable";
        problems.add("mqtt.password_file", "cannot read " + file + " (" + why + ")");
      }
    }
  }

  /** Binds, recording each failure and nulling its value, until the rest binds. */
  private AgentConfig bind(ObjectNode tree) {
    while (true) {
      try {
        return JSON.treeToValue(tree, AgentConfig.class);
      } catch (JsonMappingException e) {
        JsonPointer pointer = JsonPointer.empty();
        String at = "";
        for (JsonMappingException.Reference r : e.getPath()) {
          String field = r.getFieldName();
          pointer =
              field != null ? pointer.appendProperty(field) : pointer.appendIndex(r.getIndex());
          at += field == null ? "[" + r.getIndex() + "]" : (at.isEmpty() ? "" : ".") + field;
        }
        JsonNode value = tree.at(pointer);
        boolean unknown = e instanceof UnrecognizedPropertyException;
        if (pointer.matches() || value.isNull() && !unknown) {
          // Not Jackson's message: it may quote a value. Every value that fails is nulled first.
          throw new ConfigException(
              at + ": cannot be bound (" + e.getClass().getSimpleName() + ")");
        }
        problems.add(at, problem(e, value));
        JsonNode parent = tree.at(pointer.head());
        if (parent instanceof ArrayNode list) {
          list.set(pointer.last().getMatchingIndex(), NullNode.getInstance());
        } else if (unknown) {
          ((ObjectNode) parent).remove(pointer.last().getMatchingProperty());
        } else {
          ((ObjectNode) parent).putNull(pointer.last().getMatchingProperty());
        }
      } catch (IOException e) {
        throw new ConfigException("cannot be bound (" + e.getClass().getSimpleName() + ")");
      }
    }
  }

  private static String problem(JsonMappingException e, JsonNode value) {
    if (e instanceof UnrecognizedPropertyException u) {
      List<String> keys = u.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
      return "unknown key (expected one of: " + String.join(", ", keys) + ")";
    }
    Class<?> type = e instanceof MismatchedInputException m ? m.getTargetType() : null;
    String expected =
        type == null ? "a string"
            : Collection.class.isAssignableFrom(type) ? "a list"
            : type.isRecord() && type != AgentConfig.Secret.class ? "a mapping"
            : type == Boolean.class || type == boolean.class ? "true or false"
            : type == Integer.class || type == Duration.class ? "an integer"
            : "a string";
    boolean outOfRange = expected.equals("an integer") && value.isIntegralNumber();
    return outOfRange ? value + " is out of range" : "expected " + expected + ", got " + a(value);
  }

  /** What kind of value {@code value} is, e.g. "a list". */
  static String a(JsonNode value) {
    String type = value.getNodeType().name().toLowerCase(Locale.ROOT);
    return Map.of("array", "a list", "object", "a mapping", "null", "no value")
        .getOrDefault(type, "a " + type);
  }

  private static JsonNode yaml(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    return JSON.valueToTree(new Yaml(new SafeConstructor(options)).load(text));
  }

  private static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      return null;
    }
  }

  /** For the default client id; {@code /proc} first, since a DNS lookup may hang. */
  static String hostname() {
    String name = "";
    try {
      name = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    name = name.isEmpty() ? System.getenv().getOrDefault("HOSTNAME", "") : name;
    try {
      name = name.isEmpty() ? InetAddress.getLocalHost().getHostName() : name;
    } catch (IOException e) {
      name = "unknown";
    }
    return name.replaceAll("[^A-Za-z0-9_.-]", "-");
  }
}
