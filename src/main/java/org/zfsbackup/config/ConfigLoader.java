package org.zfsbackup.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.std.FromStringDeserializer;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
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
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.zfsbackup.zfs.DatasetName;

/**
 * Loads the configuration once: the YAML file (JSON when it ends in {@code .json}; a key given
 * twice is an error in both), then environment variables, then system properties, each winning
 * over the previous; Jackson binds the result into {@link AgentConfig}, and {@link ConfigRules}
 * checks what types cannot say. Nothing else in the agent sees the raw tree.
 *
 * <p>Every problem is reported in one run: Jackson stops at the first one, so binding is repeated,
 * each failure recorded under its key path and its value replaced by null (an unknown key removed)
 * until the rest binds.
 *
 * <p>Overrides: {@code ZFS_BACKUP_AGENT_} + the key path upper-cased, levels joined by {@code __}
 * ({@code ZFS_BACKUP_AGENT_MQTT__URL} sets {@code mqtt.url}); {@code zfs-backup-agent.} + the key
 * path with dots as a system property. Their strings become the key's type (lists as JSON or
 * comma-separated, mappings as JSON); a list is replaced whole.
 *
 * <p>Secrets: the broker password comes from {@code ZFS_BACKUP_AGENT_MQTT_PASSWORD} or, failing
 * that, from the file named by {@code mqtt.password_file}; it is held as a {@link
 * AgentConfig.Secret} and appears in no message.
 */
public final class ConfigLoader {
  static final String ENV_PREFIX = "ZFS_BACKUP_AGENT_";
  static final String PASSWORD_ENV = "ZFS_BACKUP_AGENT_MQTT_PASSWORD";
  static final String PROPERTY_PREFIX = "zfs-backup-agent.";

  /** Strict: no value changes type on the way (a quoted "22" is not a port, 1.5 not an int). */
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .addModule(new Jdk8Module())
          .addModule(
              new SimpleModule()
                  .addDeserializer(Path.class, new PathDeserializer())
                  .addDeserializer(Duration.class, new SecondsDeserializer()))
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
          .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
          .withCoercionConfig(
              LogicalType.Textual,
              c ->
                  c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                      .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                      .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

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
      throw new ConfigException("config file " + file + " not found (absolute: "
          + file.toAbsolutePath() + "); use --config PATH, or start from config/agent.example.yaml");
    }
    if (!Files.isReadable(file)) {
      throw new ConfigException("config file " + file + " is not readable");
    }
    ObjectNode tree = read(file);
    Problems problems = new Problems();
    new TreeMap<>(env).forEach((name, value) -> {
      if (name.startsWith(ENV_PREFIX) && !name.equals(PASSWORD_ENV)) {
        String path = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
        override(tree, path.split("__", -1), value, "environment variable " + name, problems);
      }
    });
    new TreeMap<>(systemProperties).forEach((name, value) -> {
      if (name.startsWith(PROPERTY_PREFIX)) {
        String path = name.substring(PROPERTY_PREFIX.length());
        override(tree, path.split("\\.", -1), value, "system property " + name, problems);
      }
    });
    complete(tree, AgentConfig.class, "", problems);
    derivedDefaults(tree);
    password(tree, env, problems);
    AgentConfig config = bind(tree, problems);
    ConfigRules.check(config, problems);
    if (!problems.isEmpty()) {
      throw new ConfigException(problems.list());
    }
    return config;
  }

  private static ObjectNode read(Path file) {
    boolean json = file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
    String as = "cannot parse it as " + (json ? "JSON" : "YAML") + ": ";
    JsonNode tree;
    try {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      tree = json ? JSON.readTree(text) : yaml(text);
    } catch (IOException | RuntimeException e) {
      // No path here: the caller's message names the file already.
      throw new ConfigException(as + rootMessage(e));
    }
    if (tree == null || tree.isMissingNode() || tree.isNull()) {
      return JSON.createObjectNode();
    }
    if (!(tree instanceof ObjectNode object)) {
      throw new ConfigException(
          as + "the top level must be a mapping of keys (pull:, push:, ...), not " + describe(tree));
    }
    return object;
  }

  private static JsonNode yaml(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    return JSON.valueToTree(new Yaml(new SafeConstructor(options)).load(text));
  }

  /** Sets one key path to an override's string, creating the mappings on the way. */
  private static void override(
      ObjectNode root, String[] keys, String value, String origin, Problems problems) {
    if (Arrays.stream(keys).anyMatch(String::isEmpty)) {
      problems.addGeneral(origin + ": not a key path (empty level)");
      return;
    }
    if (Arrays.stream(keys).anyMatch(k -> k.chars().allMatch(Character::isDigit))) {
      problems.addGeneral(
          origin + ": a list cannot be changed item by item; override the whole list (JSON)");
      return;
    }
    ObjectNode node = root;
    for (int i = 0; i < keys.length - 1; i++) {
      JsonNode child = node.get(keys[i]);
      child = child instanceof TextNode text ? readJson(text.asText()) : child; // given whole
      ObjectNode next = child instanceof ObjectNode object ? object : JSON.createObjectNode();
      node.set(keys[i], next);
      node = next;
    }
    node.put(keys[keys.length - 1], value);
    problems.origin(String.join(".", keys), origin);
  }

  /**
   * Walks the tree along the record types: gives absent keys their default (an absent section,
   * its keys' defaults), converts override strings to the key's type, and reports keys without a
   * value or with an empty string. Types, missing and unknown keys are left to Jackson.
   */
  private static void complete(ObjectNode node, Class<?> type, String path, Problems problems) {
    for (RecordComponent c : type.getRecordComponents()) {
      JsonProperty p = c.getAccessor().getAnnotation(JsonProperty.class);
      String name = c.getName().replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
      String key = p != null && !p.value().isEmpty() ? p.value() : name;
      String at = path.isEmpty() ? key : path + "." + key;
      Class<?> item =
          c.getGenericType() instanceof ParameterizedType t
              ? (Class<?>) t.getActualTypeArguments()[0]
              : Object.class;
      Class<?> valueType = c.getType() == Optional.class ? item : c.getType();
      JsonNode value = node.get(key);
      if (value == null && p != null && !p.defaultValue().isEmpty()) {
        node.set(key, value = yaml(p.defaultValue()));
      } else if (value == null && c.getType().isRecord() && (p == null || !p.required())) {
        value = node.putObject(key);
      } else if (value instanceof TextNode text && problems.fromOverride(at)) {
        node.set(key, value = coerce(text.asText(), valueType, item));
      }
      noValue(value, at, problems);
      if (value instanceof ObjectNode object && valueType.isRecord()) {
        complete(object, valueType, at, problems);
      }
      for (int i = 0; value instanceof ArrayNode list && i < list.size(); i++) {
        noValue(list.get(i), at + "[" + i + "]", problems);
        if (list.get(i) instanceof ObjectNode object && item.isRecord()) {
          complete(object, item, at + "[" + i + "]", problems);
        }
      }
    }
  }

  private static void noValue(JsonNode value, String at, Problems problems) {
    if (value != null && value.isNull()) {
      problems.add(at, "has no value"
          + (at.endsWith("]") ? "" : " (give one, or remove the key to get the default)"));
    } else if (value != null && value.isTextual() && value.asText().isBlank()) {
      problems.add(at, "must not be empty");
    }
  }

  /** An override's string as the key's type: int, bool, list (JSON or a,b,c), mapping (JSON). */
  private static JsonNode coerce(String text, Class<?> type, Class<?> item) {
    String t = text.trim();
    JsonNode json = readJson(t);
    if (type == boolean.class || type == Boolean.class) {
      return switch (t.toLowerCase(Locale.ROOT)) {
        case "true", "yes", "on", "1" -> BooleanNode.TRUE;
        case "false", "no", "off", "0" -> BooleanNode.FALSE;
        default -> TextNode.valueOf(text);
      };
    }
    if (json != null
        && (json.isIntegralNumber() && (type == Integer.class || type == Duration.class)
            || json.isArray() && type == List.class
            || json.isObject() && type.isRecord())) {
      return json;
    }
    if (type == List.class && item == String.class && !t.startsWith("[")) {
      ArrayNode list = JSON.createArrayNode();
      Arrays.stream(t.split(",", -1)).map(String::trim).filter(s -> !t.isEmpty()).forEach(list::add);
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
   * The password is bound from {@code password_file}: the file's name is replaced by its content
   * here, or by the environment's password when that is set (and then no file is read).
   */
  private static void password(ObjectNode tree, Map<String, String> env, Problems problems) {
    String fromEnv = env.get(PASSWORD_ENV);
    if (!(tree.get("mqtt") instanceof ObjectNode mqtt)) {
      return;
    } else if (fromEnv != null && !fromEnv.isEmpty()) {
      mqtt.put("password_file", fromEnv);
      return;
    } else if (!(mqtt.get("password_file") instanceof TextNode name) || name.asText().isBlank()) {
      return;
    }
    Path file = Path.of(mqtt.remove("password_file").asText());
    String at = "mqtt.password_file";
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      problems.add(at, "cannot read " + file + " (missing, not a file, or not readable)");
      return;
    }
    try {
      String value = Files.readString(file, StandardCharsets.UTF_8).replaceFirst("[\r\n]+$", "");
      if (value.isEmpty()) {
        problems.add(at, file + " is empty");
      } else {
        mqtt.put("password_file", value);
      }
    } catch (IOException | RuntimeException e) {
      // The exception type only: a decoding error's message could quote the content.
      problems.add(at, "cannot read " + file + " (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** Binds, recording each failure and nulling its value, until the rest binds. */
  private static AgentConfig bind(ObjectNode tree, Problems problems) {
    while (true) {
      try {
        return JSON.treeToValue(tree, AgentConfig.class);
      } catch (JsonMappingException e) {
        JsonPointer pointer = JsonPointer.empty();
        StringBuilder at = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
          String field = r.getFieldName();
          pointer = field != null ? pointer.appendProperty(field) : pointer.appendIndex(r.getIndex());
          at.append(field == null ? "[" + r.getIndex() + "]" : (at.isEmpty() ? "" : ".") + field);
        }
        JsonNode parent = tree.at(pointer.head());
        JsonNode value = tree.at(pointer);
        if (pointer.matches() || value.isNull()) {
          throw new IllegalStateException("cannot bind the configuration at " + at, e);
        }
        problems.add(at.toString(), problem(e, value));
        if (e instanceof UnrecognizedPropertyException && parent instanceof ObjectNode object) {
          object.remove(pointer.last().getMatchingProperty());
        } else if (parent instanceof ObjectNode object) {
          object.putNull(pointer.last().getMatchingProperty());
        } else {
          ((ArrayNode) parent).set(pointer.last().getMatchingIndex(), NullNode.getInstance());
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot bind the configuration", e);
      }
    }
  }

  private static String problem(JsonMappingException e, JsonNode value) {
    if (e instanceof UnrecognizedPropertyException u) {
      return "unknown key" + hint(u.getPropertyName(), u.getKnownPropertyIds());
    } else if (value.isMissingNode()) {
      return "missing (required)";
    }
    Class<?> type = e instanceof MismatchedInputException m ? m.getTargetType() : null;
    String expected =
        type == null || type == AgentConfig.Secret.class ? "a string"
            : Collection.class.isAssignableFrom(type) ? "a list"
            : type.isRecord() ? "a mapping"
            : type == boolean.class || type == Boolean.class ? "true or false"
            : Number.class.isAssignableFrom(type) ? "an integer"
            : "a string";
    if (expected.equals("an integer") && value.isIntegralNumber()) {
      return value.asText() + " is out of range";
    }
    return "expected " + expected + ", got " + describe(value);
  }

  /** "did you mean" for a near miss such as {@code clientid} or {@code client-id}. */
  private static String hint(String key, Collection<Object> known) {
    List<String> keys = known.stream().map(String::valueOf).sorted().toList();
    String squashed = key.toLowerCase(Locale.ROOT).replaceAll("[-_]", "");
    return keys.stream()
        .filter(k -> k.replace("_", "").equals(squashed))
        .findFirst()
        .map(k -> " (did you mean '" + k + "'?)")
        .orElse(" (expected one of: " + String.join(", ", keys) + ")");
  }

  private static String describe(JsonNode value) {
    return switch (value.getNodeType()) {
      case NULL -> "no value";
      case STRING -> "a string";
      case BOOLEAN -> "a boolean";
      case NUMBER -> "a number";
      case ARRAY -> "a list";
      case OBJECT -> "a mapping";
      default -> value.getNodeType().toString().toLowerCase(Locale.ROOT);
    };
  }

  private static JsonNode readJson(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      return null;
    }
  }

  /** The innermost cause's message: that is where YAML and JSON parsers put line and column. */
  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip();
    return message.replace("in 'string', ", "at ").replace("in 'reader', ", "at ")
        .replaceAll("\\s*\\n\\s*", " ");
  }

  /** For the default client id; {@code /proc} first, since a DNS lookup may hang. */
  static String hostname() {
    String name = System.getenv("HOSTNAME");
    try {
      name = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
    } catch (IOException | RuntimeException e) {
      // not Linux: HOSTNAME, else DNS
    }
    try {
      name = name == null || name.isEmpty() ? InetAddress.getLocalHost().getHostName() : name;
    } catch (IOException e) {
      name = "unknown";
    }
    return name.replaceAll("[^A-Za-z0-9_.-]", "-");
  }

  /** Any string is a path (the stock one reads {@code a:b} as a URI). */
  private static final class PathDeserializer extends FromStringDeserializer<Path> {
    PathDeserializer() {
      super(Path.class);
    }

    @Override
    protected Path _deserialize(String value, DeserializationContext context) {
      return Path.of(value);
    }
  }

  /** {@code *_s} keys: whole seconds. */
  private static final class SecondsDeserializer extends StdDeserializer<Duration> {
    SecondsDeserializer() {
      super(Duration.class);
    }

    @Override
    public Duration deserialize(JsonParser p, DeserializationContext context) throws IOException {
      return Duration.ofSeconds(context.readValue(p, Integer.class));
    }
  }
}
