package org.zfsbackup.config;

import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns environment variables and system properties into override mappings for the config
 * retriever. The scheme:
 *
 * <ul>
 *   <li>environment: {@code ZFS_BACKUP_AGENT_} + the key path upper-cased, levels joined by
 *       {@code __}: {@code ZFS_BACKUP_AGENT_MQTT__URL} sets {@code mqtt.url},
 *       {@code ZFS_BACKUP_AGENT_REPLICATION__STALL_TIMEOUT_S} sets
 *       {@code replication.stall_timeout_s}. The name is lower-cased, so only snake_case keys can
 *       be reached, which is all of them.
 *   <li>system properties: {@code zfs-backup-agent.} + the key path with dots:
 *       {@code -Dzfs-backup-agent.mqtt.url=tcp://x:1883}.
 *   <li>{@code ZFS_BACKUP_AGENT_MQTT_PASSWORD} is not a key: it is the broker password (a secret
 *       read by {@link ConfigLoader}, never put in the mapping).
 * </ul>
 *
 * Values stay strings here; {@link Section} converts them where the key expects another type.
 * Lists cannot be changed item by item: an override replaces the whole list.
 */
final class Overrides {
  static final String ENV_PREFIX = "ZFS_BACKUP_AGENT_";
  static final String PASSWORD_ENV = "ZFS_BACKUP_AGENT_MQTT_PASSWORD";
  static final String SYSPROP_PREFIX = "zfs-backup-agent.";

  private Overrides() {}

  static JsonObject fromEnv(Map<String, String> env, Problems problems) {
    JsonObject out = new JsonObject();
    for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(ENV_PREFIX) || name.equals(PASSWORD_ENV)) {
        continue;
      }
      String rest = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT);
      put(out, List.of(rest.split("__", -1)), e.getValue(), "environment variable " + name, problems);
    }
    return out;
  }

  static JsonObject fromSystemProperties(Map<String, String> properties, Problems problems) {
    JsonObject out = new JsonObject();
    for (Map.Entry<String, String> e : new TreeMap<>(properties).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(SYSPROP_PREFIX)) {
        continue;
      }
      String rest = name.substring(SYSPROP_PREFIX.length());
      put(out, List.of(rest.split("\\.", -1)), e.getValue(), "system property " + name, problems);
    }
    return out;
  }

  private static void put(JsonObject root, List<String> keys, String value, String origin, Problems problems) {
    if (keys.stream().anyMatch(String::isEmpty)) {
      problems.addGeneral(origin + ": not a key path (empty level)");
      return;
    }
    if (keys.stream().anyMatch(k -> k.chars().allMatch(Character::isDigit))) {
      problems.addGeneral(origin + ": a list cannot be changed item by item; override the whole list (JSON)");
      return;
    }
    JsonObject node = root;
    StringBuilder path = new StringBuilder();
    for (int i = 0; i < keys.size() - 1; i++) {
      String key = keys.get(i);
      path.append(path.length() == 0 ? "" : ".").append(key);
      Object existing = node.getValue(key);
      if (existing == null) {
        JsonObject child = new JsonObject();
        node.put(key, child);
        node = child;
      } else if (existing instanceof JsonObject child) {
        node = child;
      } else {
        problems.addGeneral(origin + ": conflicts with another override that sets " + path + " as a whole");
        return;
      }
    }
    String last = keys.get(keys.size() - 1);
    String fullPath = String.join(".", keys);
    if (node.getValue(last) instanceof JsonObject) {
      problems.addGeneral(origin + ": conflicts with other overrides below " + fullPath);
      return;
    }
    node.put(last, value);
    problems.origin(fullPath, origin);
  }
}
