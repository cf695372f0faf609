package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.exec.ProcessResult;

class ProcessPowerSwitchTest {
  @TempDir Path dir;

  @Test
  void run_touchMarker_createsFileAndSucceeds() {
    Path marker = dir.resolve("marker");
    ProcessResult r = new ProcessPowerSwitch().run(List.of("touch", marker.toString()));
    assertTrue(r.ok(), r.describe());
    assertTrue(Files.exists(marker));
  }

  @Test
  void run_argWithShellCharacters_isNotInterpretedByAShell() {
    Path marker = dir.resolve("a; touch pwned $(touch pwned2)");
    ProcessResult r = new ProcessPowerSwitch().run(List.of("touch", marker.toString()));
    assertTrue(r.ok(), r.describe());
    assertTrue(Files.exists(marker));
    assertFalse(Files.exists(dir.resolve("pwned")));
    assertFalse(Files.exists(Path.of("pwned2")));
  }

  @Test
  void run_failingCommand_returnsExitCodeAndOutputTail() {
    ProcessResult r =
        new ProcessPowerSwitch().run(List.of("ls", dir.resolve("missing").toString()));
    assertFalse(r.ok());
    assertEquals(2, r.exitCode());
    assertTrue(r.stderrTail().contains("missing"), r.stderrTail());
  }

  @Test
  void run_missingProgram_isStartFailure() {
    ProcessResult r =
        new ProcessPowerSwitch().run(List.of(dir.resolve("no-such-program").toString()));
    assertTrue(r.startFailed());
  }
}
