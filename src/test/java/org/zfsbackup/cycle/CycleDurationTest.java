package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.testing.TestConfigs;

/**
 * Catches: duration_ms taken from the wall clock, so an NTP step back during a cycle (the first
 * sync after a wake-on-LAN boot) published a negative duration (-17004 ms), which Home Assistant
 * showed as "Last backup duration -17.0 s".
 */
class CycleDurationTest {
  @TempDir Path dir;

  /** A wall clock that reads T0 + 60 s first, then T0: stepped back by a minute. */
  static final class SteppedBack extends Clock {
    static final Instant T0 = Instant.parse("2026-11-28T02:00:00Z");
    final AtomicInteger reads = new AtomicInteger();

    @Override
    public Instant instant() {
      return reads.getAndIncrement() == 0 ? T0.plusSeconds(60) : T0;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  @Test
  void wallClockSteppedBackDuringTheCycle_durationFromTheMonotonicClock() {
    AgentConfig config =
        TestConfigs.withStateFile(
            TestConfigs.config(
                List.of("ssh"),
                "bak/t",
                List.of(TestConfigs.localSource("h", "src/data")),
                Optional.empty()),
            dir.resolve("state.json"));
    long before = System.nanoTime();

    CycleReport r =
        new BackupCycle(config, new CycleLockTest.NothingRuns(), new SteppedBack())
            .run(new CycleRequest("c1", null, Set.of(), false), e -> {}, new CycleControl());

    long took = System.nanoTime() - before;
    assertTrue(r.finishedAt().isBefore(r.startedAt()), "the wall clock went back: " + r);
    assertTrue(!r.duration().isNegative(), r.duration().toString());
    assertTrue(r.duration().toNanos() <= took, r.duration() + " within " + Duration.ofNanos(took));
    // A report told by its timestamps alone (a cycle the agent did not live to end): never < 0.
    assertEquals(
        Duration.ZERO,
        new CycleReport(
                "c2", null, r.outcome(), r.startedAt(), r.finishedAt(), List.of(), List.of())
            .duration());
  }
}
