package org.zfsbackup.config;

import java.util.List;

/**
 * A configuration that cannot be used. The message names the key path of every problem, one per
 * line, e.g. {@code pull.sources[1].datasets: expected a list}; it never contains a secret.
 */
public final class ConfigException extends RuntimeException {
  private final List<String> problems;

  public ConfigException(String message) {
    this(List.of(message));
  }

  /** Every problem found, each {@code key.path: what is wrong}. */
  public ConfigException(List<String> problems) {
    super(
        problems.size() == 1
            ? problems.get(0)
            : problems.size() + " problems:\n  " + String.join("\n  ", problems));
    this.problems = List.copyOf(problems);
  }

  /** One entry per problem, section by section (mqtt, commands, pull, push, ...). */
  public List<String> problems() {
    return problems;
  }
}
