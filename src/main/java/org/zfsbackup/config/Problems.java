package org.zfsbackup.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Collects every configuration problem, each prefixed with its key path, so that one run reports
 * all of them. Remembers which key paths came from an environment variable or a system property
 * and says so in the message, since the file alone would not explain the value.
 */
final class Problems {
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
    String origin = originOf(path);
    String where = path.isEmpty() ? "(top level)" : path;
    messages.add(where + ": " + message + (origin == null ? "" : " (from " + origin + ")"));
  }

  /** A problem that is not about one key (an unreadable file, a bad override name). */
  void addGeneral(String message) {
    messages.add(message);
  }

  boolean isEmpty() {
    return messages.isEmpty();
  }

  List<String> list() {
    return List.copyOf(messages);
  }

  private String originOf(String path) {
    String p = path;
    while (true) {
      String origin = origins.get(p);
      if (origin != null || p.isEmpty()) {
        return origin;
      }
      int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      p = cut < 0 ? "" : p.substring(0, cut);
    }
  }
}
