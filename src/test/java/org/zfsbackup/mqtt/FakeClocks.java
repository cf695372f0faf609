package org.zfsbackup.mqtt;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A clock pair for tests, because this machine cannot be suspended: the monotonic clock is the real
 * one, and the boot-time clock runs ahead of it by the time the "machine" slept, as {@code
 * CLOCK_BOOTTIME} does after a real suspend. {@link #sleep} is the suspend and resume.
 */
final class FakeClocks implements PowerClocks {
  private final AtomicLong asleep = new AtomicLong();

  /** How often {@link #bootNanos} was read: the agent's power-down watch reads it once a look. */
  final AtomicLong reads = new AtomicLong();

  /** Whether a power command run through {@link #suspending} sends the machine to sleep. */
  volatile boolean goesDown = true;

  @Override
  public long bootNanos() {
    reads.incrementAndGet();
    return System.nanoTime() + asleep.get();
  }

  @Override
  public long monotonicNanos() {
    return System.nanoTime();
  }

  /**
   * Waits until the boot-time clock has been read {@code n} more times (the agent has looked at the
   * clocks {@code n} times), at most {@code within}.
   */
  void awaitReads(int n, Duration within) {
    long until = reads.get() + n;
    long deadline = System.nanoTime() + within.toNanos();
    while (reads.get() < until) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "fewer than " + n + " looks at the clocks in " + within.toMillis() + " ms");
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  /** The machine slept for {@code time} and is back. */
  void sleep(Duration time) {
    asleep.addAndGet(time.toNanos());
  }

  /**
   * {@code command}, run for real, then (when {@link #goesDown}) a sleep of an hour: the machine
   * went down right after the command returned and has woken up again.
   */
  PowerSwitch suspending(PowerSwitch command) {
    return argv -> {
      var result = command.run(argv);
      if (goesDown && result.ok()) {
        sleep(Duration.ofHours(1));
      }
      return result;
    };
  }
}
