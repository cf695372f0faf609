package org.zfsbackup.config;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every configuration problem, each prefixed with its key path, so that one run reports all of
 * them; one per value: a key whose value, or a value above or below it, was reported is skipped.
 * Remembers which key paths came from an environment variable or a system property and says so,
 * since the file alone would not explain the value.
 */
final class Problems {
  private final List<String[]> problems = new ArrayList<>(); // {path, message}
  private final Map<String, String> origins = new HashMap<>();

  /** Records that the value at {@code path} (and everything below it) came from {@code origin}. */
  void origin(String path, String origin) {
    origins.put(path, origin);
  }

  /** Adds {@code path: message}; {@code message} must never contain a secret value. */
  void add(String path, String message) {
    if (problems.stream().noneMatch(p -> below(p[0], path) || below(path, p[0]))) {
      // Else an override below it: a misspelt level above the key it set, a list made a mapping.
      String origin =
          Optional.ofNullable(originOf(path))
              .orElseGet(
                  () ->
                      origins.keySet().stream()
                          .filter(o -> below(o, path))
                          .sorted()
                          .findFirst()
                          .map(origins::get)
                          .orElse(null));
      problems.add(new String[] {path, message + (origin == null ? "" : " (from " + origin + ")")});
    }
  }

  /** A problem that is not about one key (a bad override name). */
  void addGeneral(String message) {
    problems.add(new String[] {"", message});
  }

  boolean isEmpty() {
    return problems.isEmpty();
  }

  /** Section by section, in the order of {@link AgentConfig}'s keys; others first. */
  List<String> list() {
    List<String> sections = ConfigBinder.keys(AgentConfig.class);
    return problems.stream()
        .sorted(Comparator.comparingInt(p -> sections.indexOf(p[0].split("[.\\[]")[0])))
        .map(p -> p[0].isEmpty() ? p[1] : p[0] + ": " + p[1])
        .toList();
  }

  /** The origin of {@code path} or of the nearest key above it that has one, else null. */
  String originOf(String path) {
    String p = path;
    while (!origins.containsKey(p) && p.matches(".*[.\\[].*")) {
      p = p.substring(0, Math.max(p.lastIndexOf('.'), p.lastIndexOf('[')));
    }
    return origins.get(p);
  }

  /** {@code path} is {@code root} or a key or item below it. */
  private static boolean below(String path, String root) {
    return !root.isEmpty() && path.matches("\\Q" + root + "\\E([.\\[].*)?");
  }
}
