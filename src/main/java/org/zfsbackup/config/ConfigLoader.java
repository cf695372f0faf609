package org.zfsbackup.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.std.StdDelegatingDeserializer;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.databind.type.TypeFactory;
import com.fasterxml.jackson.databind.util.StdConverter;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.zfsbackup.config.ConfigRules.Check;
import org.zfsbackup.config.ConfigRules.Rule;
import org.zfsbackup.zfs.DatasetName;

/**
 * Loads the configuration once: the YAML file (JSON when it ends in {@code .json}; a key given
 * twice is an error in both), then environment variables, then system properties, each winning;
 * then defaults and {@link Check}s along the record types, Jackson's binding, and {@link
 * ConfigRules}. Every problem is reported in one run: Jackson stops at the first, so binding is
 * repeated, each failure recorded under its key path and its value nulled (an unknown key removed),
 * until the rest binds.
 *
 * <p>Overrides: {@code ZFS_BACKUP_AGENT_} + the key path upper-cased, levels joined by {@code __}
 * ({@code ZFS_BACKUP_AGENT_MQTT__URL} sets {@code mqtt.url}), or the system property {@code
 * zfs-backup-agent.} + the key path. Their strings become the key's type (lists as JSON or
 * comma-separated, mappings as JSON); a list is replaced whole.
 *
 * <p>The broker password comes from {@code ZFS_BACKUP_AGENT_MQTT_PASSWORD} or, failing that, from
 * the file named by {@code mqtt.password_file}; it is held as a {@link AgentConfig.Secret} and
 * appears in no message.
 */
public final class ConfigLoader {
  static final String PASSWORD_ENV = "ZFS_BACKUP_AGENT_MQTT_PASSWORD";

  /** Strict: no value changes type on the way (a quoted "22" is no port, 1.5 no integer). */
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .addModule(new Jdk8Module())
          .addModule(
              new SimpleModule()
                  .addDeserializer(Path.class, converter(String.class, Path::of))
                  .addDeserializer(Duration.class, converter(Integer.class, Duration::ofSeconds)))
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .withCoercionConfigDefaults(
              c ->
                  Arrays.stream(CoercionInputShape.values())
                      .forEach(shape -> c.setCoercion(shape, CoercionAction.Fail)))
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
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
    ObjectNode tree = read(file);
    loader.override(tree, env, "ZFS_BACKUP_AGENT_", "__", "environment variable ");
    loader.override(tree, systemProperties, "zfs-backup-agent.", "\\.", "system property ");
    loader.complete(tree, AgentConfig.class, "");
    derivedDefaults(tree);
    loader.password(tree, env.get(PASSWORD_ENV));
    AgentConfig config = loader.bind(tree);
    ConfigRules.check(config, loader.problems);
    if (!loader.problems.isEmpty()) {
      throw new ConfigException(
          loader.problems.list(
              Arrays.stream(AgentConfig.class.getRecordComponents())
                  .map(ConfigLoader::key)
                  .toList()));
    }
    return config;
  }

  private static ObjectNode read(Path file) {
    boolean json = file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
    String cannot = "cannot parse it as " + (json ? "JSON: " : "YAML: ");
    JsonNode tree;
    try {
      tree = json ? JSON.readTree(file.toFile()) : yaml(Files.readString(file));
    } catch (IOException | RuntimeException e) {
      // The innermost message has the line and column; no path: the caller names the file.
      Throwable t = e;
      while (t.getCause() != null && t.getCause() != t) {
        t = t.getCause();
      }
      String m = String.valueOf(t.getMessage()).strip().replaceAll("in '(string|reader)', ", "at ");
      throw new ConfigException(cannot + m.replaceAll("\\s*\\n\\s*", " "));
    }
    if (tree == null || tree.isMissingNode() || tree.isNull()) {
      return JSON.createObjectNode();
    }
    if (!(tree instanceof ObjectNode object)) {
      throw new ConfigException(
          cannot + "the top level must be a mapping of keys (pull:, push:, ...), not " + a(tree));
    }
    return object;
  }

  private static JsonNode yaml(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    return JSON.valueToTree(new Yaml(new SafeConstructor(options)).load(text));
  }

  /** Sets each override's key path to its string, creating mappings on the way. */
  private void override(
      ObjectNode tree, Map<String, String> values, String prefix, String separator, String kind) {
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
            kind
                + name
                + ": a list cannot be changed item by item; override the"
                + " whole list (JSON)");
        continue;
      }
      ObjectNode node = tree;
      for (int i = 0; i < keys.length - 1; i++) {
        JsonNode child = node.get(keys[i]);
        child = child instanceof TextNode t ? json(t.asText()) : child; // a mapping given whole
        node.set(keys[i], child instanceof ObjectNode o ? o : JSON.createObjectNode());
        node = (ObjectNode) node.get(keys[i]);
      }
      node.put(keys[keys.length - 1], e.getValue());
      problems.origin(String.join(".", keys), kind + name);
    }
  }

  /**
   * Walks the tree along the record types: gives an absent key its default (an absent section, its
   * keys' defaults) or reports it missing when required, turns an override's string into the key's
   * type, and checks each value: present, not blank, and following its {@link Check}. Types are
   * left to Jackson.
   */
  private void complete(ObjectNode node, Class<?> type, String path) {
    for (RecordComponent c : type.getRecordComponents()) {
      JsonProperty property = c.getAccessor().getAnnotation(JsonProperty.class);
      Check check = c.getAccessor().getAnnotation(Check.class);
      String at = (path.isEmpty() ? "" : path + ".") + key(c);
      Class<?> item =
          c.getGenericType() instanceof ParameterizedType t
              ? (Class<?>) t.getActualTypeArguments()[0]
              : Object.class;
      Class<?> valueType = c.getType() == Optional.class ? item : c.getType();
      JsonNode value = node.get(key(c));
      if (value == null && property != null && !property.defaultValue().isEmpty()) {
        node.set(key(c), value = yaml(property.defaultValue()));
      } else if (value == null && property != null && property.required()) {
        problems.add(at, "missing (required)");
        node.putNull(key(c));
      } else if (value == null && c.getType().isRecord()) {
        value = node.putObject(key(c));
      } else if (value instanceof TextNode text && problems.originOf(at) != null) {
        node.set(key(c), value = coerce(text.asText(), valueType, item));
      }
      check(value, at, check);
      if (value instanceof ObjectNode object && valueType.isRecord()) {
        complete(object, valueType, at);
      }
      for (int i = 0; value instanceof ArrayNode list && i < list.size(); i++) {
        check(list.get(i), at + "[" + i + "]", check);
        if (list.get(i) instanceof ObjectNode object && item.isRecord()) {
          complete(object, item, at + "[" + i + "]");
        }
      }
    }
  }

  private void check(JsonNode value, String at, Check check) {
    if (value != null && value.isNull()) {
      problems.add(
          at,
          "has no value"
              + (at.endsWith("]") ? "" : " (give one, or remove the key to get the default)"));
    } else if (value != null && value.isTextual() && value.asText().isBlank()) {
      problems.add(at, "must not be empty");
    }
    for (Rule rule : value == null || check == null ? new Rule[0] : check.value()) {
      Optional.ofNullable(rule.problem(value)).ifPresent(p -> problems.add(at, p));
    }
  }

  /** An override's string as the key's type: int, bool, list (JSON or a,b,c), mapping (JSON). */
  private static JsonNode coerce(String text, Class<?> type, Class<?> item) {
    String t = text.trim();
    JsonNode json = json(t);
    if (type == boolean.class || type == Boolean.class) {
      return t.matches("(?i)true|yes|on|1")
          ? BooleanNode.TRUE
          : t.matches("(?i)false|no|off|0") ? BooleanNode.FALSE : TextNode.valueOf(text);
    } else if (json != null
        && (json.isIntegralNumber() && (type == Integer.class || type == Duration.class)
            || json.isArray() && type == List.class
            || json.isObject() && type.isRecord())) {
      return json;
    } else if (type == List.class && item == String.class && !t.startsWith("[")) {
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
        if (pointer.matches() || value.isNull()) {
          throw new IllegalStateException("cannot bind the configuration at " + at, e);
        }
        problems.add(at, problem(e, value));
        if (tree.at(pointer.head()) instanceof ArrayNode list) {
          list.set(pointer.last().getMatchingIndex(), NullNode.getInstance());
        } else if (e instanceof UnrecognizedPropertyException) {
          ((ObjectNode) tree.at(pointer.head())).remove(pointer.last().getMatchingProperty());
        } else {
          ((ObjectNode) tree.at(pointer.head())).putNull(pointer.last().getMatchingProperty());
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot bind the configuration", e);
      }
    }
  }

  private static String problem(JsonMappingException e, JsonNode value) {
    Class<?> type = e instanceof MismatchedInputException m ? m.getTargetType() : null;
    if (e instanceof UnrecognizedPropertyException u) {
      List<String> keys = u.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
      return "unknown key (expected one of: " + String.join(", ", keys) + ")";
    } else if (type != null && Collection.class.isAssignableFrom(type)) {
      return "expected a list, got " + a(value);
    } else if (type != null && type.isRecord() && type != AgentConfig.Secret.class) {
      return "expected a mapping, got " + a(value);
    } else if (type == Boolean.class || type == boolean.class) {
      return "expected true or false, got " + a(value);
    } else if (type == Integer.class || type == Duration.class) {
      return value.isIntegralNumber()
          ? value + " is out of range"
          : "expected an integer, got " + a(value);
    }
    return "expected a string, got " + a(value);
  }

  /** What kind of value {@code value} is, e.g. "a list". */
  private static String a(JsonNode value) {
    return value.isNull()
        ? "no value"
        : value.isArray()
            ? "a list"
            : value.isObject()
                ? "a mapping"
                : "a " + value.getNodeType().name().toLowerCase(Locale.ROOT);
  }

  private static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      return null;
    }
  }

  /** A component's key: its {@code @JsonProperty} name, else its name in snake_case. */
  private static String key(RecordComponent c) {
    JsonProperty property = c.getAccessor().getAnnotation(JsonProperty.class);
    return property != null && !property.value().isEmpty()
        ? property.value()
        : c.getName().replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
  }

  /** Reads an {@code S} and makes it a {@code T}: Path from any string, Duration from seconds. */
  private static <S, T> StdDelegatingDeserializer<T> converter(Class<S> from, Function<S, T> f) {
    return new StdDelegatingDeserializer<>(
        new StdConverter<S, T>() {
          @Override
          public T convert(S value) {
            return f.apply(value);
          }

          @Override
          public JavaType getInputType(TypeFactory types) {
            return types.constructType(from);
          }
        });
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
