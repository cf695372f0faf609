package org.zfsbackup.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Collects every configuration problem, each prefixed with its key path, so that one run reports
 * all of them; one per value: a key whose value, or a value above or below it, was reported is not
 * reported again. Remembers which key paths came from an environment variable or a system property
 * and says so in the message, since the file alone would not explain the value.
 */
final class Problems {
  private final List<String> paths = new ArrayList<>();
  private final List<String> messages = new ArrayList<>();
  private final Map<String, String> origins = new HashMap<>();

  /** Records that the value at {@code path} (and everything below it) came from {@code origin}. */
  void origin(String path, String origin) {
    origins.put(path, origin);
  }

  /** True when the value at {@code path} (or a parent) was given as an override string. */
  boolean fromOverride(String path) {
    return originOf(path) != null;
  }

  /** Adds {@code path: message}; {@code message} must never contain a secret value. */
  void add(String path, String message) {
    if (paths.stream().anyMatch(p -> p.equals(path) || below(p, path) || below(path, p))) {
      return;
    }
    paths.add(path);
    String origin = originOf(path);
    messages.add(path + ": " + message + (origin == null ? "" : " (from " + origin + ")"));
  }

  /** A problem that is not about one key (a bad override name). */
  void addGeneral(String message) {
    messages.add(message);
  }

  boolean isEmpty() {
    return messages.isEmpty();
  }

  List<String> list() {
    return List.copyOf(messages);
  }

  private static boolean below(String path, String root) {
    return path.startsWith(root + ".") || path.startsWith(root + "[");
  }

  private String originOf(String path) {
    for (String p = path; ; p = p.substring(0, Math.max(p.lastIndexOf('.'), p.lastIndexOf('[')))) {
      if (origins.containsKey(p) || p.indexOf('.') < 0 && p.indexOf('[') < 0) {
        return origins.get(p);
      }
    }
  }
}
