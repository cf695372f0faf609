package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.mqtt.PowerClocks.Verdict;

/** When the clock pair says the machine was down, and reading the boot-time clock. */
class PowerClocksTest {
  static final long S = 1_000_000_000L;
  static final Duration SETTLE = Duration.ofSeconds(60);

  @TempDir Path dir;

  /** Catches: a resume taken for noise (or missed), and settle_s counted wrongly. */
  @Test
  void verdict_table() {
    // gap before, gap now, awake since the command returned -> verdict
    assertEquals(Verdict.WAITING, PowerClocks.verdict(5 * S, 5 * S, 0, SETTLE));
    assertEquals(Verdict.WAITING, PowerClocks.verdict(5 * S, 8 * S, 10 * S, SETTLE), "3 s: noise");
    assertEquals(Verdict.RESUMED, PowerClocks.verdict(5 * S, 8 * S + 1, 10 * S, SETTLE));
    assertEquals(
        Verdict.RESUMED, PowerClocks.verdict(5 * S, 3605 * S, 0, SETTLE), "an hour asleep");
    assertEquals(Verdict.WAITING, PowerClocks.verdict(5 * S, 5 * S, 60 * S - 1, SETTLE));
    assertEquals(Verdict.NOT_DOWN, PowerClocks.verdict(5 * S, 5 * S, 60 * S, SETTLE));
    assertEquals(
        Verdict.RESUMED,
        PowerClocks.verdict(5 * S, 600 * S, 90 * S, SETTLE),
        "asleep and awake long since: a resume, not a failure");
  }

  /** Catches: /proc/uptime misread (its first field is CLOCK_BOOTTIME in seconds). */
  @Test
  void systemClocks_bootClockIsTheFirstFieldOfUptime() throws Exception {
    Path uptime = dir.resolve("uptime");
    Files.writeString(uptime, "350735.47 234388.90\n");
    assertEquals(350_735_470_000_000L, new PowerClocks.SystemClocks(uptime).bootNanos());
  }

  @Test
  void systemClocks_realUptime_gapStaysPutWhileAwake() throws Exception {
    PowerClocks clocks = PowerClocks.system();
    long first = clocks.gapNanos();
    Thread.sleep(200);
    long second = clocks.gapNanos();
    // Nobody suspends the test machine: the gap stays put, up to /proc/uptime's 10 ms steps.
    assertTrue(Math.abs(second - first) < 100_000_000L, (second - first) + " ns");
  }

  @Test
  void systemClocks_unreadable_fallsBackToTheWallClock() {
    long wall = System.currentTimeMillis() * 1_000_000L;
    long boot = new PowerClocks.SystemClocks(dir.resolve("missing")).bootNanos();
    assertTrue(Math.abs(boot - wall) < 5 * S);
  }
}
