package org.zfsbackup.config;

import static org.zfsbackup.config.ConfigBinder.JSON;
import static org.zfsbackup.config.ConfigBinder.a;
import static org.zfsbackup.config.ConfigBinder.json;
import static org.zfsbackup.config.ConfigBinder.yaml;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.zfsbackup.config.ConfigRules.Check;
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

  private final Problems problems = new Problems();
  private final ConfigBinder binder = new ConfigBinder(problems);

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
    loader.binder.complete(tree, AgentConfig.class, "");
    derivedDefaults(tree);
    loader.password(tree, env.get(PASSWORD_ENV));
    AgentConfig config = loader.binder.bind(tree);
    ConfigRules.check(config, loader.problems);
    if (!loader.problems.isEmpty()) {
      throw new ConfigException(loader.problems.list());
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
                + ": a list cannot be changed item by item; override the whole list (JSON)");
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
