package org.zfsbackup.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.zfs.DatasetName;

/**
 * Loads the configuration once: {@link ConfigSources} reads the file and merges environment
 * variables, then system properties, over it; {@link ConfigBinder} gives absent keys their defaults
 * and binds; {@link CrossKeyRules} checks across keys. Every problem is reported in one run. The
 * broker password comes from {@code ZFS_BACKUP_AGENT_MQTT_PASSWORD} or the file named by {@code
 * mqtt.password_file}; it is held as a {@link AgentConfig.Secret} and appears in no message.
 */
public final class ConfigLoader {
  static final String PASSWORD_ENV = "ZFS_BACKUP_AGENT_MQTT_PASSWORD";
  private static final Logger LOG = LoggerFactory.getLogger(ConfigLoader.class);

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
    Problems problems = new Problems();
    ObjectNode tree = ConfigSources.read(file, env, systemProperties, problems);
    ConfigBinder binder = new ConfigBinder(problems);
    binder.complete(tree);
    derivedDefaults(tree);
    password(tree, env.get(PASSWORD_ENV), problems);
    AgentConfig config = binder.bind(tree);
    CrossKeyRules.check(config, problems);
    if (!problems.isEmpty()) {
      throw new ConfigException(problems.list());
    }
    return config;
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
      push.putIfAbsent("datasets", ConfigBinder.JSON.createArrayNode().add(target));
    }
  }

  /**
   * The password is bound from {@code password_file}, whose name is replaced here by the file's
   * content, or by the environment's password when that is set (and then no file is read).
   */
  private static void password(ObjectNode tree, String fromEnv, Problems problems) {
    if (!(tree.get("mqtt") instanceof ObjectNode mqtt)) {
      return;
    } else if (fromEnv != null && !fromEnv.isEmpty()) {
      mqtt.put("password_file", oneLine(fromEnv, PASSWORD_ENV, "mqtt.password_file", problems));
    } else if (mqtt.get("password_file") instanceof TextNode name && !name.asText().isBlank()) {
      Path file = Path.of(mqtt.remove("password_file").asText());
      if (Files.exists(file) && !Files.isRegularFile(file)) { // a pipe would block the load
        problems.add("mqtt.password_file", "cannot read " + file + " (not a regular file)");
        return;
      }
      try {
        // Without the byte-order mark an editor on Windows puts first, and the trailing newline.
        String value =
            Files.readString(file).replaceFirst("^\uFEFF", "").replaceFirst("[\r\n]+$", "");
        if (value.isEmpty()) {
          problems.add("mqtt.password_file", file + " is empty");
        } else {
          mqtt.put(
              "password_file", oneLine(value, file.toString(), "mqtt.password_file", problems));
          warnIfEveryoneCanRead(file);
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

  /** Said, not refused, as mosquitto does for its own password files. */
  private static void warnIfEveryoneCanRead(Path file) throws IOException {
    Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
    if (mode.contains(PosixFilePermission.OTHERS_READ)) {
      LOG.warn(
          "mqtt.password_file {} can be read by every user of this machine ({}): chmod 600 it",
          file,
          PosixFilePermissions.toString(mode));
    }
  }

  /**
   * A password is one line: a second line or another control character is reported (MQTT would
   * refuse it at every connect, with a message that names neither), never quoted.
   */
  private static String oneLine(String value, String from, String key, Problems problems) {
    if (value.chars().anyMatch(Character::isISOControl)) {
      problems.add(
          key, "the password in " + from + " has more than one line or a control character");
    } else if (ConfigRules.unsendable(value) >= 0) {
      // Paho throws at every connect, quoting the character's code: not that either.
      String locale =
          from.equals(PASSWORD_ENV) && value.contains("\uFFFD")
              ? "; a non-ASCII password in the environment reads as U+FFFD unless the agent runs"
                  + " in a UTF-8 locale (LANG=C.UTF-8), or use password_file"
              : "";
      problems.add(
          key,
          "the password in "
              + from
              + " has a character MQTT (Paho) cannot send (one from U+FDD0 up: fullwidth forms,"
              + " U+FFFD; or beyond U+FFFF, such as an emoji"
              + locale
              + ")");
    }
    return value;
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
