package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.testing.Prerequisites;
import org.zfsbackup.testing.TestConfigs;

/**
 * A resume whose token went stale, its saved state aborted, and the dataset then found up to date,
 * against src/test/resources/fake/fake-openzfs (as {@link FakeZfsResumeIT}). Nothing was received
 * this cycle: the result is {@code up_to_date} with no byte, not {@code sent}.
 */
class FakeZfsStaleResumeIT {
  @TempDir Path dir;
  Path fake;

  @BeforeEach
  void setUp() throws IOException {
    Prerequisites.requireProgram("pv");
    fake = Path.of("target/test-classes/fake/fake-openzfs").toAbsolutePath();
    Path pool = Files.createDirectories(dir.resolve("pool"));
    Files.writeString(pool.resolve("datasets"), "src\nsrc/data\nbak\n");
    Files.writeString(pool.resolve("snaps"), "src/data@a 5001 11\n");
    Files.writeString(dir.resolve("bytes"), "600000");
  }

  AgentConfig config() {
    AgentConfig c =
        TestConfigs.config(
            List.of("ssh"),
            List.of("bash", fake.toString(), dir.toString()),
            List.of("pv", "-L", "200k"),
            "bak",
            List.of(TestConfigs.localSource("h", "src/data")),
            Optional.empty(),
            Duration.ofSeconds(60));
    return TestConfigs.withResumable(c, true);
  }

  /** One cycle; with {@code killAfter} the stream is killed once that many bytes went through. */
  CycleReport cycle(long killAfter) {
    AgentConfig config = config();
    CycleControl control = new CycleControl();
    return new BackupCycle(config, new RealProcessRunner(config.commands().pv()), Clock.systemUTC())
        .run(
            new CycleRequest("stale", null, Set.of(), false),
            e -> {
              if (killAfter > 0
                  && e instanceof CycleEvent.Progress p
                  && p.status() == CycleEvent.StepStatus.STREAMING
                  && p.bytes() >= killAfter) {
                control.stop(CycleControl.StopReason.CANCEL, true);
              }
            },
            control);
  }

  /**
   * Catches: a dataset reported {@code sent} (or with bytes) when its resume was refused, its saved
   * state aborted, and nothing new was sent after.
   */
  @Test
  void staleToken_abortedThenUpToDate_isUpToDateWithNoBytes() throws IOException {
    assertEquals(Outcome.SUCCESS, cycle(0).outcome()); // full @a
    // @b is cut mid-stream: its saved state stays on the target.
    Files.writeString(dir.resolve("pool/snaps"), "src/data@b 5002 12\n", StandardOpenOption.APPEND);
    assertEquals(Outcome.CANCELLED, cycle(100_000).outcome());
    assertTrue(Files.exists(dir.resolve("pool/partial/bak_h_src_data")));
    // @b is destroyed on the source: the token no longer works, and the target has the newest.
    List<String> snaps = Files.readAllLines(dir.resolve("pool/snaps"));
    Files.write(
        dir.resolve("pool/snaps"),
        snaps.stream().filter(s -> !s.startsWith("src/data@b ")).toList());

    CycleReport third = cycle(0);
    assertEquals(Outcome.SUCCESS, third.outcome(), third.toString());
    DatasetResult d = third.datasets().get(0);
    assertEquals(Status.UP_TO_DATE, d.status(), d.toString());
    assertEquals(0, d.bytes(), d.toString());
    assertFalse(Files.exists(dir.resolve("pool/partial/bak_h_src_data")), "aborted");
    assertEquals(1, third.warnings().size(), third.warnings().toString());
    assertTrue(third.warnings().get(0).contains("no longer exists"), third.warnings().toString());
  }
}
