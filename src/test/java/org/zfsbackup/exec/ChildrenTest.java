package org.zfsbackup.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
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
  void builder_startsFromTheAgentsEnvironment() {
    ProcessBuilder b = Children.builder(List.of("true"));
    assertEquals(List.of("true"), b.command());
    assertEquals(System.getenv("PATH"), b.environment().get("PATH"));
  }

  /**
   * Every process the agent starts is built by {@link Children#builder}. Catches a new {@code new
   * ProcessBuilder} elsewhere in the main code, whose child would get the password again.
   */
  @Test
  void mainCode_buildsProcessesOnlyThroughChildren() throws IOException {
    Path main = Path.of("src/main/java");
    List<String> elsewhere;
    try (Stream<Path> files = Files.walk(main)) {
      elsewhere =
          files
              .filter(f -> f.toString().endsWith(".java"))
              .filter(f -> !f.endsWith(Path.of("org/zfsbackup/exec/Children.java")))
              .filter(f -> read(f).contains("new ProcessBuilder("))
              .map(Path::toString)
              .toList();
    }
    assertEquals(List.of(), elsewhere);
  }

  private static String read(Path f) {
    try {
      return Files.readString(f);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
