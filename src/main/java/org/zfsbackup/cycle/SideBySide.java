package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Runs the independent transfers of one phase (one per source host in the pull phase, one per
 * independent tree in the push phase) side by side: at most {@code parallel} at once, on a pool of
 * that many threads made for the phase and shut down at its end, started in the order given. The
 * results come back in that same order (the configuration's), whatever order they end in.
 *
 * <p>With {@code parallel} 1 (or a single task) everything runs on the calling thread, one after
 * the other: the order of a cycle before there was this class. Stopping needs nothing here: each
 * transfer checks {@link CycleControl} between its datasets, and a forced stop kills every stream
 * in flight.
 */
final class SideBySide {
  private SideBySide() {}

  static <T> List<T> run(List<Supplier<T>> tasks, int parallel, String threadName) {
    int threads = Math.min(Math.max(1, parallel), tasks.size());
    List<T> results = new ArrayList<>();
    if (threads <= 1) {
      tasks.forEach(t -> results.add(t.get()));
      return results;
    }
    ExecutorService pool =
        new ThreadPoolExecutor(
            threads, threads, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), named(threadName));
    try {
      List<Future<T>> futures = new ArrayList<>();
      tasks.forEach(t -> futures.add(pool.submit(t::get)));
      // A task that threw (a bug) fails the phase, but only once the others have ended: the
      // cycle's ssh masters close and its lock goes right after, and nothing may outlive them.
      Throwable failed = null;
      for (Future<T> f : futures) {
        try {
          results.add(await(f));
        } catch (RuntimeException | Error e) {
          failed = failed == null ? e : failed;
        }
      }
      if (failed instanceof RuntimeException r) {
        throw r;
      } else if (failed instanceof Error e) {
        throw e;
      }
      return results;
    } finally {
      pool.shutdown();
    }
  }

  /**
   * The task's result. Waits on through an interrupt (the streams in flight end by themselves or by
   * a forced stop; leaving them would leave their processes unwatched) and restores it after.
   */
  private static <T> T await(Future<T> f) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return f.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof RuntimeException r) {
            throw r;
          }
          if (cause instanceof Error err) {
            throw err;
          }
          throw new IllegalStateException(cause);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
