package org.zfsbackup.exec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.zfsbackup.exec.RealProcessRunner.KillPolicy;

/**
 * Ends processes. One instance ends the processes of one stream by its {@link KillPolicy}, TERM
 * first; every instance method is safe from any thread. The static methods end a single process at
 * once, forcibly.
 */
final class ProcessKiller {
  private final List<Process> procs;
  private final KillPolicy policy;
  private final List<ProcessHandle> tree = new ArrayList<>();
  private long terminatedAt;
  private boolean forced;

  ProcessKiller(List<Process> procs, KillPolicy policy) {
    this.procs = procs;
    this.policy = policy;
  }

  /** SIGTERM to the stream's processes and their descendants; the first call only. */
  synchronized void terminate() {
    if (terminatedAt != 0) {
      return;
    }
    terminatedAt = System.nanoTime();
    for (Process p : procs) {
      p.descendants().forEach(tree::add);
      tree.add(p.toHandle());
    }
    tree.forEach(ProcessHandle::destroy);
  }

  synchronized boolean terminated() {
    return terminatedAt != 0;
  }

  /**
   * Called while waiting after {@link #terminate}: SIGKILL once the grace has passed; true when the
   * bound has passed and something still runs (it is abandoned).
   */
  synchronized boolean overdue() {
    long elapsed = System.nanoTime() - terminatedAt;
    if (!forced && elapsed >= policy.killGrace().toNanos()) {
      forced = true;
      tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }
    return elapsed >= policy.abandonAfter().toNanos();
  }

  /** Waits for {@code p} at most {@code timeout}; an interrupted wait {@link #kill}s it. */
  static boolean waitFor(Process p, Duration timeout) {
    try {
      return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      kill(p);
      return false;
    }
  }

  /** SIGTERM to a process and what it started (ssh, zfs). */
  static void terminate(Process p) {
    signal(p, false);
  }

  /** Kills a process and what it started (ssh, zfs), forcibly. */
  static void kill(Process p) {
    signal(p, true);
  }

  /**
   * SIGKILL ({@code force}) or SIGTERM to {@code p}'s descendants, then to {@code p} through its
   * {@link Process}, whose destroy also closes the pipes the JVM holds to it.
   */
  private static void signal(Process p, boolean force) {
    Consumer<ProcessHandle> destroy =
        force ? ProcessHandle::destroyForcibly : ProcessHandle::destroy;
    p.descendants().forEach(destroy);
    if (force) {
      p.destroyForcibly();
    } else {
      p.destroy();
    }
  }
}
