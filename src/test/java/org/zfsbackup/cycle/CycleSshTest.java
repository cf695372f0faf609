package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.exec.SshSharing;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.zfs.Endpoint;

/**
 * The warning of a host whose ssh connection sharing could not be set up. The sharing probe is
 * scripted: it fails as ssh does when it is killed (exit 143) or refuses the options (exit 255).
 */
class CycleSshTest {
  @TempDir Path dir;

  static final Endpoint HOST =
      Endpoint.remote(
          "h",
          Optional.empty(),
          Optional.empty(),
          List.of("ssh"),
          List.of("zfs"),
          Duration.ofSeconds(5));

  List<CycleEvent> shareWith(
      CycleControl control, boolean stopDuringTheProbe, List<String> warnings) {
    ProcessRunner probe =
        new ProcessRunner() {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            if (stopDuringTheProbe) {
              control.stop(CycleControl.StopReason.INTERRUPT, true);
              return new ProcessResult(argv, 143, "", "", false, false);
            }
            return new ProcessResult(argv, 255, "", "", false, false);
          }

          @Override
          public PipeResult pipe(
              List<String> s, List<String> r, ByteProgress p, Duration d, KillSwitch k) {
            throw new AssertionError("no streams");
          }
        };
    AgentConfig config =
        TestConfigs.config(
            List.of("ssh"), "bak", List.of(TestConfigs.localSource("h", "d")), Optional.empty());
    List<CycleEvent> events = new ArrayList<>();
    try (CycleSsh ssh =
        CycleSsh.open(
            new SshSharing.Factory(Optional.of(dir), probe, SshSharing.PERSIST),
            config,
            new CycleRequest("c", null, Set.of(), false),
            events::add,
            control)) {
      ssh.endpoint(HOST, Phase.PULL, "h", warnings);
    }
    return events;
  }

  /**
   * Catches: a forced stop or SIGTERM that killed the probe reported as "ssh refused the sharing
   * options", which sends the user to turn sharing off for a host that has no fault.
   */
  @Test
  void probeKilledByAForcedStop_noSharingWarning() {
    List<String> warnings = new ArrayList<>();
    assertEquals(List.of(), shareWith(new CycleControl(), true, warnings));
    assertEquals(List.of(), warnings);
  }

  /** The control: a probe that fails on its own is one warning, on T/error and in the report. */
  @Test
  void probeFailsOnItsOwn_oneSharingWarning() {
    List<String> warnings = new ArrayList<>();
    List<CycleEvent> events = shareWith(new CycleControl(), false, warnings);
    assertEquals(1, warnings.size(), warnings.toString());
    assertEquals(1, events.size(), events.toString());
  }
}
