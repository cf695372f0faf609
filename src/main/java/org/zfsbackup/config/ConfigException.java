package org.zfsbackup.config;

import java.util.List;

/**
 * A configuration that cannot be used. The message names the key path of every problem, one per
 * line, e.g. {@code pull.sources[1].datasets: expected a list}; it never contains a secret.
 */
public final class ConfigException extends RuntimeException {
  private final List<String> problems;

  public ConfigException(String message) {
    super(message);
    this.problems = List.of(message);
  }

  /** Every problem found, each {@code key.path: what is wrong}. */
  public ConfigException(List<String> problems) {
    super(format(problems));
    this.problems = List.copyOf(problems);
  }

  /** One entry per problem, section by section (mqtt, commands, pull, push, ...). */
  public List<String> problems() {
    return problems;
  }

  private static String format(List<String> problems) {
    if (problems.size() == 1) {
      return problems.get(0);
    }
    return problems.size() + " problems:\n  " + String.join("\n  ", problems);
  }
}
