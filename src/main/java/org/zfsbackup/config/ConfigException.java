package org.zfsbackup.config;

/** A configuration that cannot be used; the message names the key path, e.g. {@code pull.sources[1].datasets: expected a list}. */
public final class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
