package org.zfsbackup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The shipped systemd units agree with the exit codes {@link Main} decides. Catches: a unit that
 * restarts forever on a bad configuration (exit 2), or counts the JVM's status after a clean
 * SIGTERM shutdown (143) as a failure, leaving the unit {@code failed} after every stop; or that
 * signals the agent's zfs and ssh processes together with it, so they die before it can stop them.
 */
class SystemdUnitsTest {

  @ParameterizedTest
  @ValueSource(strings = {"zfs-backup-agent.service", "zfs-backup-agent-user.service"})
  void unit_exitCodesMatchMain(String unit) throws IOException {
    List<String> lines = Files.readAllLines(Path.of("systemd", unit));
    assertEquals(
        List.of(String.valueOf(Main.EXIT_USAGE)), values(lines, "RestartPreventExitStatus"));
    assertEquals(List.of("143"), values(lines, "SuccessExitStatus"), "128 + SIGTERM");
    // The agent stops its own children (and reports them interrupted), not systemd all at once.
    assertEquals(List.of("mixed"), values(lines, "KillMode"));
    assertTrue(values(lines, "ExecStart").get(0).contains(" agent "), unit);
  }

  private static List<String> values(List<String> lines, String key) {
    return lines.stream()
        .filter(l -> l.startsWith(key + "="))
        .map(l -> l.substring(key.length() + 1).trim())
        .toList();
  }
}
