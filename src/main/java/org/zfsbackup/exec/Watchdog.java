package org.zfsbackup.exec;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.exec.ProcessRunner.ByteProgress;
import org.zfsbackup.exec.ProcessRunner.KillSwitch;
import org.zfsbackup.exec.RealProcessRunner.KillPolicy;

/** Watches the processes of one stream, from start to end: progress, stalls, forced stops. */
final class Watchdog {
  // Logs as the runner it works for: the log lines stay those of RealProcessRunner.
  private static final Logger LOG = LoggerFactory.getLogger(RealProcessRunner.class);
  private static final long TICK_MS = 1000;

  /**
   * How long after its children a stop signal sent to the whole process group (Ctrl-C, {@code
   * timeout}, a unit without {@code KillMode=mixed}) can take to reach the JVM's stop: the children
   * die of it first, and the stream would otherwise read as a failure of its own.
   */
  static final Duration STOP_LATENCY = Duration.ofMillis(500);

  private final KillPolicy killPolicy;

  Watchdog(KillPolicy killPolicy) {
    this.killPolicy = killPolicy;
  }

  /** How a watched stream ended; {@code killed} is set from the thread of a forced stop. */
  static final class Watch {
    volatile boolean stalled;
    volatile boolean killed;
    volatile boolean stuck;
  }

  /**
   * Waits for every process; reports progress each second, bytes moved or not; ends them all on a
   * stall or a forced stop (see {@link KillPolicy}), and abandons what outlives that.
   *
   * @param bytes the stream's byte count, for the progress
   * @param moving grows while the stream moves: no growth for {@code stallTimeout} is a stall
   */
  Watch supervise(
      List<Process> procs,
      AtomicLong bytes,
      LongSupplier moving,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    Watch watch = new Watch();
    ProcessKiller ender = new ProcessKiller(procs, killPolicy);
    Runnable killer =
        () -> {
          watch.killed = true;
          ender.terminate();
        };
    control.register(killer);
    try {
      long lastMoving = -1;
      long lastMove = System.nanoTime();
      Process last = procs.get(procs.size() - 1);
      while (true) {
        boolean done = ProcessKiller.waitFor(last, Duration.ofMillis(TICK_MS));
        long now = System.nanoTime();
        long b = bytes.get();
        long m = moving.getAsLong();
        if (m != lastMoving) {
          lastMoving = m;
          lastMove = now;
        }
        // Every tick, moved or not: a paused stream still reports (the contract's "at least every
        // 5 s while streaming"; the agent thins these out for MQTT).
        progress.bytes(b);
        if (done) {
          break;
        }
        if (ender.terminated()) {
          if (ender.overdue()) {
            watch.stuck = true;
            break;
          }
        } else if (now - lastMove > stallTimeout.toNanos()) {
          LOG.warn(
              "no byte moved for {} s: killing {}",
              stallTimeout.toSeconds(),
              procs.get(0).info().command().orElse("stream"));
          watch.stalled = true;
          ender.terminate();
        }
      }
      // The receiver is done; the others end on EOF or SIGPIPE. Bound that wait too.
      long tailStart = System.nanoTime();
      while (!watch.stuck && procs.stream().anyMatch(Process::isAlive)) {
        if (!ender.terminated()
            && System.nanoTime() - tailStart > Duration.ofSeconds(30).toNanos()) {
          ender.terminate();
        }
        if (ender.terminated() && ender.overdue()) {
          watch.stuck = true;
        }
        ProcessKiller.waitFor(
            procs.stream().filter(Process::isAlive).findFirst().orElse(last),
            Duration.ofMillis(100));
      }
      if (!watch.stuck && !ender.terminated() && diedAfterTheReceive(procs)) {
        awaitAStop(watch); // a stream that went well, or one this watchdog ended, does not wait
      }
      if (watch.stuck) {
        LOG.error(
            "abandoned, still running {} s after SIGTERM (SIGKILL after {} s; stuck in the kernel?): {}",
            killPolicy.abandonAfter().toSeconds(),
            killPolicy.killGrace().toSeconds(),
            procs.stream()
                .filter(Process::isAlive)
                .map(p -> p.pid() + " " + p.info().commandLine().orElse("?"))
                .toList());
      }
      progress.bytes(bytes.get());
    } finally {
      control.unregister(killer);
    }
    return watch;
  }

  /**
   * The receive had it all (exit 0) and something before it then failed: the shape of a stream
   * whose sender was killed in the tail wait by a signal to the whole process group.
   */
  private static boolean diedAfterTheReceive(List<Process> procs) {
    Process last = procs.get(procs.size() - 1);
    return !last.isAlive()
        && last.exitValue() == 0
        && procs.stream().anyMatch(p -> !p.isAlive() && p.exitValue() != 0);
  }

  /** Keeps the killer registered up to {@link #STOP_LATENCY}, for a stop on its way. */
  private static void awaitAStop(Watch watch) {
    long until = System.nanoTime() + STOP_LATENCY.toNanos();
    while (!watch.killed && System.nanoTime() < until) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
