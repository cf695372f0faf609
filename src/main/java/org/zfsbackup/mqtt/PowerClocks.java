package org.zfsbackup.mqtt;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The clock pair that tells whether the machine has really been down. {@code systemctl suspend}
 * (and {@code poweroff}) only queue a job with logind and return at once, so the return of {@code
 * power.command} says nothing. On Linux the boot-time clock ({@code CLOCK_BOOTTIME}, {@code
 * /proc/uptime}) runs on during a suspend while the monotonic clock ({@code CLOCK_MONOTONIC},
 * {@code System.nanoTime}) stops: the gap between them grows by exactly the time spent asleep.
 * Injectable: tests "suspend" a fake pair by moving its boot clock forward.
 */
interface PowerClocks {
  /** A gap that grew by more than this is a suspend and resume, not the noise of two reads. */
  Duration SUSPENDED = Duration.ofSeconds(3);

  /** The boot-time clock in nanoseconds: runs on while the machine is suspended. */
  long bootNanos();

  /** The monotonic clock in nanoseconds: stops while the machine is suspended. */
  long monotonicNanos();

  /** How far the boot-time clock is ahead of the monotonic one. */
  default long gapNanos() {
    return bootNanos() - monotonicNanos();
  }

  /** What the clocks say after the power command returned. */
  enum Verdict {
    /** The gap grew past {@link #SUSPENDED}: the machine was down and is back. */
    RESUMED,
    /** Not down yet; keep watching. */
    WAITING,
    /** Still not down {@code power.settle_s} after the command returned: the power-down failed. */
    NOT_DOWN
  }

  /**
   * Pure: {@code gapBefore} was read before the command ran, {@code gapNow} just now; {@code
   * awakeSinceReturn} is monotonic time since the command returned (it does not count sleep).
   */
  static Verdict verdict(long gapBefore, long gapNow, long awakeSinceReturn, Duration settle) {
    if (gapNow - gapBefore > SUSPENDED.toNanos()) {
      return Verdict.RESUMED;
    }
    return awakeSinceReturn >= settle.toNanos() ? Verdict.NOT_DOWN : Verdict.WAITING;
  }

  /** The real pair: {@code /proc/uptime} and {@code System.nanoTime}. */
  static PowerClocks system() {
    return new SystemClocks(Path.of("/proc/uptime"));
  }

  /**
   * {@code /proc/uptime}'s first field is {@code CLOCK_BOOTTIME} in seconds (10 ms resolution); a
   * kernel counter, so reading it never waits for a disk. Where it cannot be read (not Linux) the
   * wall clock, which also runs on during a suspend, stands in (an NTP step could then look like a
   * short sleep), and a warning says so once.
   */
  final class SystemClocks implements PowerClocks {
    private static final Logger log = LoggerFactory.getLogger(Agent.class);
    private final Path uptime;
    private boolean warned;

    SystemClocks(Path uptime) {
      this.uptime = uptime;
    }

    @Override
    public long bootNanos() {
      try {
        String first = Files.readString(uptime, StandardCharsets.US_ASCII).strip().split("\\s+")[0];
        return new BigDecimal(first).movePointRight(9).longValueExact();
      } catch (IOException | RuntimeException e) {
        if (!warned) {
          warned = true;
          log.warn(
              "cannot read the boot-time clock from {} ({}): the wall clock tells a suspend",
              uptime,
              e.toString());
        }
        return System.currentTimeMillis() * 1_000_000L;
      }
    }

    @Override
    public long monotonicNanos() {
      return System.nanoTime();
    }
  }
}
