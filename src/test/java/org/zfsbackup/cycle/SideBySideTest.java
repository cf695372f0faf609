package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class SideBySideTest {

  /** Catches results in completion order, and a pool that is not bounded by {@code parallel}. */
  @Test
  void run_resultsInTheOrderGiven_atMostParallelAtOnce() {
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    List<Supplier<String>> tasks = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      int n = i;
      tasks.add(
          () -> {
            most.accumulateAndGet(running.incrementAndGet(), Math::max);
            sleep(60L * (6 - n)); // the first ends last
            running.decrementAndGet();
            return "t" + n;
          });
    }
    assertEquals(List.of("t0", "t1", "t2", "t3", "t4", "t5"), SideBySide.run(tasks, 3, "x"));
    assertEquals(3, most.get());
  }

  /** Catches a pool that runs the tasks one after the other (the point of parallel_sources). */
  @Test
  void run_severalAtOnce() {
    CountDownLatch all = new CountDownLatch(3);
    Supplier<Boolean> meet =
        () -> {
          all.countDown();
          try {
            return all.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            return false;
          }
        };
    assertEquals(List.of(true, true, true), SideBySide.run(List.of(meet, meet, meet), 4, "x"));
  }

  /** parallel_sources 1 is today's order: the calling thread, one after the other. */
  @Test
  void run_one_onTheCallingThread() {
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    Supplier<Integer> t = () -> threads.add(Thread.currentThread()) ? 1 : 0;
    SideBySide.run(List.of(t, t, t), 1, "x");
    assertEquals(Set.of(Thread.currentThread()), threads);
  }

  @Test
  void run_aTaskThrows_theCallerGetsIt() {
    Supplier<String> bad =
        () -> {
          throw new IllegalStateException("boom");
        };
    Supplier<String> good = () -> "ok";
    var e =
        assertThrows(IllegalStateException.class, () -> SideBySide.run(List.of(good, bad), 2, "x"));
    assertTrue(e.getMessage().contains("boom"));
  }

  /**
   * Catches: the first task's exception thrown at once while another source's transfer still ran;
   * the cycle then closed its ssh masters and released its lock under that transfer's streams.
   */
  @Test
  void run_aTaskThrows_theOthersEndFirst() {
    AtomicInteger ended = new AtomicInteger();
    Supplier<String> bad =
        () -> {
          throw new IllegalStateException("boom");
        };
    Supplier<String> slow =
        () -> {
          try {
            Thread.sleep(500);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          ended.incrementAndGet();
          return "ok";
        };
    assertThrows(IllegalStateException.class, () -> SideBySide.run(List.of(bad, slow), 2, "x"));
    assertEquals(1, ended.get(), "the slow task ended before the caller got the exception");
  }

  /** Catches roots split so that a dataset lands in two trees, or unrelated roots kept together. */
  @Test
  void trees_rootsWithinOneAnother_stayTogether() {
    assertEquals(
        List.of(List.of("a/x", "a/x/y"), List.of("b"), List.of("c/1", "c")),
        Datasets.trees(List.of("a/x", "b", "c/1", "a/x/y", "c")));
    assertEquals(List.of(List.of("p/a", "p/b", "p")), Datasets.trees(List.of("p/a", "p/b", "p")));
    assertEquals(List.of(List.of("p/ab"), List.of("p/a")), Datasets.trees(List.of("p/ab", "p/a")));
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
