package org.zfsbackup.cycle;

import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.zfsbackup.exec.ProcessRunner;

/**
 * Lets another thread stop a running cycle. A graceful stop starts no new dataset and lets the
 * streams in flight finish; a forced stop also kills them. Thread-safe.
 */
public final class CycleControl implements ProcessRunner.KillSwitch {

  /** Why the cycle was stopped; decides its outcome. */
  public enum StopReason {
    CANCEL,
    SUSPEND,
    /** SIGTERM or SIGINT to the process ({@code run} or {@code agent}): it is going away. */
    INTERRUPT
  }

  private volatile StopReason stopReason;
  private final AtomicBoolean forced = new AtomicBoolean();

  /**
   * Run in the order they came: the cycle's own (the short commands in flight) before the streams'.
   * A transfer goes on once its stream is dead, with short commands of its own (the target listed
   * again after a cut {@code -I}, to move the source hold onto what arrived): started after the
   * short commands were ended, they are not ended too.
   */
  private final Set<Runnable> killers = new CopyOnWriteArraySet<>();

  /**
   * Stops the cycle; a forced stop runs the killers, once: pressed again (or SIGTERM after a forced
   * cancel), it would end the short commands a transfer started after the first (see {@link
   * #killers}). A stream registered later is killed as it registers.
   */
  public void stop(StopReason reason, boolean force) {
    if (stopReason == null) {
      stopReason = reason;
    }
    if (force && !forced.getAndSet(true)) {
      killers.forEach(Runnable::run);
    }
  }

  public boolean stopRequested() {
    return stopReason != null;
  }

  public StopReason stopReason() {
    return stopReason;
  }

  /** What a dataset this stop kept from starting says: "not started: the cycle was cancelled". */
  String notStarted() {
    return "not started: the cycle was "
        + switch (stopReason) {
          case SUSPEND -> "suspended";
          case CANCEL -> "cancelled";
          case INTERRUPT -> "interrupted";
        };
  }

  public boolean forced() {
    return forced.get();
  }

  /** Registers what kills the stream in flight; runs it at once if a forced stop already came. */
  @Override
  public void register(Runnable killer) {
    killers.add(killer);
    if (forced.get()) {
      killer.run();
    }
  }

  @Override
  public void unregister(Runnable killer) {
    killers.remove(killer);
  }
}
