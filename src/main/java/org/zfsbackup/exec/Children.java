package org.zfsbackup.exec;

import java.util.List;
import java.util.Map;

/**
 * How every process the agent starts is built: with the agent's environment, less its own variables
 * ({@code ZFS_BACKUP_AGENT_*}: configuration overrides, and the broker password {@code
 * ZFS_BACKUP_AGENT_MQTT_PASSWORD}), which no child needs; {@code power.command} may be any script.
 */
public final class Children {
  /** The prefix of the agent's own environment variables (config/ConfigSources). */
  public static final String AGENT_PREFIX = "ZFS_BACKUP_AGENT_";

  private Children() {}

  /** A builder for {@code argv} whose environment has none of the agent's own variables. */
  public static ProcessBuilder builder(List<String> argv) {
    ProcessBuilder b = new ProcessBuilder(argv);
    strip(b.environment());
    return b;
  }

  /** Removes the agent's own variables from {@code environment}. */
  static void strip(Map<String, String> environment) {
    environment.keySet().removeIf(k -> k.startsWith(AGENT_PREFIX));
  }
}
