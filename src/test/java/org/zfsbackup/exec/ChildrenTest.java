package org.zfsbackup.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Catches: the broker password (ZFS_BACKUP_AGENT_MQTT_PASSWORD, the documented way under systemd)
 * handed to every ssh, zfs and pv process, and to power.command, which may be any script.
 */
class ChildrenTest {
  @Test
  void strip_removesTheAgentsOwnVariables_keepsTheRest() {
    Map<String, String> env = new HashMap<>();
    env.put("ZFS_BACKUP_AGENT_MQTT_PASSWORD", "secret");
    env.put("ZFS_BACKUP_AGENT_LOG_LEVEL", "debug");
    env.put("PATH", "/usr/sbin:/usr/bin");
    env.put("SSH_AUTH_SOCK", "/run/agent");
    Children.strip(env);
    assertEquals(Map.of("PATH", "/usr/sbin:/usr/bin", "SSH_AUTH_SOCK", "/run/agent"), env);
  }

  @Test
  void builder_startsFromTheAgentsEnvironmentWithoutItsVariables() {
    ProcessBuilder b = Children.builder(List.of("true"));
    assertEquals(List.of("true"), b.command());
    assertEquals(System.getenv("PATH"), b.environment().get("PATH"));
    assertEquals(
        List.of(),
        b.environment().keySet().stream().filter(k -> k.startsWith("ZFS_BACKUP_AGENT_")).toList());
  }
}
