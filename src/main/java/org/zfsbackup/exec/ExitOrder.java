package org.zfsbackup.exec;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * When each process of a pipeline exited (as the JVM's reaper saw it), to tell which stage failed
 * first: the cause is the first failure, the rest usually follow from it.
 */
final class ExitOrder {
  private final List<Process> procs;

  /** Per process, completed with {@link System#nanoTime} when the reaper saw it exit. */
  private final List<CompletableFuture<Long>> exited = new ArrayList<>();

  ExitOrder(List<Process> procs) {
    this.procs = procs;
    for (Process p : procs) {
      exited.add(p.onExit().thenApply(gone -> System.nanoTime()));
    }
  }

  /**
   * The stage of the first process to exit with a failure; null when none did (or unknown). A
   * process still running (abandoned, stuck) has not exited: it is not waited for.
   */
  PipeResult.Stage firstFailed(PipeResult.Stage... stages) {
    PipeResult.Stage first = null;
    long firstAt = Long.MAX_VALUE;
    for (int i = 0; i < procs.size(); i++) {
      Process p = procs.get(i);
      if (p.isAlive()) {
        continue;
      }
      long at;
      try {
        at = exited.get(i).get(5, TimeUnit.SECONDS);
      } catch (Exception e) {
        return null; // not seen exiting: no order to tell
      }
      if (p.exitValue() != 0 && at < firstAt) {
        firstAt = at;
        first = stages[i];
      }
    }
    return first;
  }
}
