package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.testing.FakeZfs.ds;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.exec.RealProcessRunner.KillPolicy;
import org.zfsbackup.testing.FakeZfs;
import org.zfsbackup.testing.Prerequisites;
import org.zfsbackup.testing.TestConfigs;

/**
 * A stream whose receive outlives the kill (a receive blocked in the kernel on a pool with {@code
 * failmode=wait}, which not even SIGKILL ends) is abandoned after a bounded time, reported {@code
 * stuck}, and the cycle goes on to its result. SIGKILL cannot be ignored by a test process, so the
 * stuck receive is the fake's, which ignores SIGTERM, and the runner's kill policy sends SIGKILL
 * only after an hour: until the bound, only SIGTERM reaches it, as only SIGKILL (without effect)
 * reaches a process in uninterruptible sleep.
 *
 * <p>Catches: a watchdog that kills again and again and never returns (before this, the cycle never
 * ended and no result was published), a stuck stream reported as {@code stalled}, and an {@code
 * exitValue()} on a live process throwing out of the runner.
 */
class FakeZfsStuckIT {
  @TempDir Path dir;
  final List<CycleEvent> events = Collections.synchronizedList(new ArrayList<>());

  @BeforeEach
  void setUp() throws IOException {
    Prerequisites.requireProgram("pv");
  }

  @AfterEach
  void killTheAbandoned() {
    // The abandoned receive is still running: this test started it, this test ends it.
    ProcessHandle.allProcesses()
        .filter(p -> p.info().commandLine().orElse("").contains("fake-zfs-stuck " + dir))
        .forEach(
            p -> {
              p.descendants().forEach(ProcessHandle::destroyForcibly);
              p.destroyForcibly();
            });
  }

  @Test
  void stuckReceive_abandonedReportedStuck_cycleEndsWithAResult() throws IOException {
    FakeZfs.list(dir, "src/one", ds("src/one", 10, "a"));
    FakeZfs.list(dir, "src/two", ds("src/two", 20, "b"));
    FakeZfs.list(
        dir, "bak", ds("bak", 1)); // the pull target root exists: never created by the agent
    Files.createFile(dir.resolve("stall"));
    Files.createFile(dir.resolve("stuck"));
    AgentConfig config =
        TestConfigs.config(
            List.of("ssh"),
            FakeZfs.command(dir),
            List.of("pv"),
            "bak",
            List.of(TestConfigs.localSource("h", "src/one", "src/two")),
            Optional.empty(),
            Duration.ofSeconds(2));
    RealProcessRunner runner =
        new RealProcessRunner(
            List.of("pv"), new KillPolicy(Duration.ofHours(1), Duration.ofSeconds(2)));
    long t0 = System.nanoTime();
    CycleReport r =
        new BackupCycle(config, runner, Clock.systemUTC())
            .run(new CycleRequest("stuck", null, Set.of(), false), events::add, new CycleControl());
    long seconds = Duration.ofNanos(System.nanoTime() - t0).toSeconds();
    // Two streams: each stalls 2 s, is abandoned 2 s after its SIGTERM.
    assertTrue(seconds < 40, "bounded: " + seconds + " s");
    assertEquals(Outcome.FAILED, r.outcome());
    assertEquals(
        2, r.datasets().size(), "the cycle went on to the second dataset: " + r.datasets());
    for (CycleReport.DatasetResult d : r.datasets()) {
      assertEquals(Status.FAILED, d.status());
      assertTrue(
          d.message().contains("abandoned") && d.message().contains("receive still running"),
          d.message());
    }
    List<ErrorKind> kinds =
        CycleResults.errors(events).stream().map(CycleEvent.Error::kind).toList();
    assertEquals(List.of(ErrorKind.STUCK, ErrorKind.STUCK), kinds);
    assertTrue(
        ProcessHandle.allProcesses()
            .anyMatch(p -> p.info().commandLine().orElse("").contains("fake-zfs-stuck " + dir)),
        "the receive really outlived the kill (else this test proves nothing)");
  }
}
