package org.zfsbackup.mqtt;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.zfsbackup.exec.ProcessResult;

/**
 * Records power-command runs on the timeline; can fail, or block until woken. When it returns with
 * exit 0 the machine "sleeps" an hour on {@link #clocks} (unless {@code clocks.goesDown} is off:
 * then it returns like {@code systemctl suspend} and the machine stays up until a test calls {@code
 * clocks.sleep}).
 */
final class FakePower implements PowerSwitch {
  final List<List<String>> calls = new CopyOnWriteArrayList<>();
  final FakeClocks clocks = new FakeClocks();
  private final List<String> timeline;
  volatile int exitCode;

  /** Thrown by the next runs instead of returning: the command could not start. */
  volatile RuntimeException startFails;

  /** {@code System.nanoTime()} when the last run returned; 0 before. */
  volatile long returnedAt;

  private volatile CountDownLatch wake = new CountDownLatch(0);
  private final CountDownLatch called = new CountDownLatch(1);

  FakePower(List<String> timeline) {
    this.timeline = timeline;
  }

  /** From now on the power command "sleeps" until {@link #wake()}. */
  void sleepUntilWoken() {
    wake = new CountDownLatch(1);
  }

  void wake() {
    wake.countDown();
  }

  boolean awaitCalled(long seconds) throws InterruptedException {
    return called.await(seconds, TimeUnit.SECONDS);
  }

  @Override
  public ProcessResult run(List<String> argv) {
    timeline.add("power");
    calls.add(argv);
    called.countDown();
    if (startFails != null) {
      throw startFails;
    }
    try {
      if (!wake.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("fake power never woken (test bug)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (exitCode == 0 && clocks.goesDown) {
      clocks.sleep(java.time.Duration.ofHours(1));
    }
    returnedAt = System.nanoTime();
    return new ProcessResult(
        argv,
        exitCode,
        "",
        exitCode == 0 ? "" : "Failed to suspend system: Access denied",
        false,
        false);
  }
}
