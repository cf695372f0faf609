package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class InFlightTest {
  static Vertx vertx;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopVertx() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  /** Runs {@code body} on a Vert.x context, as the connection does, and waits for its future. */
  static <T> T onContext(java.util.function.Supplier<Future<T>> body) throws Exception {
    Promise<T> result = Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> body.get().onComplete(result));
    return result.future().await(10, TimeUnit.SECONDS);
  }

  @Test
  void settled_waitsForEveryPublishToBeAcknowledgedOrFailed() throws Exception {
    InFlight inFlight = new InFlight();
    Promise<Void> acked = inFlight.add("t/x", 10);
    Promise<Void> failed = inFlight.add("t/x", 10);
    long[] settledAfter = new long[1];
    onContext(
        () -> {
          long start = System.nanoTime();
          Future<Void> settled = inFlight.settled(10_000);
          assertFalse(settled.isComplete());
          inFlight.done(acked, null);
          assertFalse(settled.isComplete());
          inFlight.done(failed, new RuntimeException("refused"));
          return settled.onComplete(ar -> settledAfter[0] = System.nanoTime() - start);
        });
    assertTrue(acked.future().succeeded());
    assertTrue(failed.future().failed());
    assertTrue(settledAfter[0] < TimeUnit.SECONDS.toNanos(10), "did not wait for the timeout");
  }

  @Test
  void settled_anUnacknowledgedPublish_givesUpAfterTheTimeoutWithoutFailing() throws Exception {
    InFlight inFlight = new InFlight();
    Promise<Void> stuck = inFlight.add("t/x", 10);
    assertEquals(null, onContext(() -> inFlight.settled(50)));
    assertFalse(stuck.future().isComplete());
  }

  @Test
  void failAll_failsWhatIsStillWaitingAndForgetsIt() throws Exception {
    InFlight inFlight = new InFlight();
    Promise<Void> a = inFlight.add("t/a", 10);
    Promise<Void> b = inFlight.add("t/b", 2000);
    Promise<Void> c = inFlight.add("t/c", 30);
    inFlight.done(a, null);
    Promise<Void> d = inFlight.add("t/d", 5);
    inFlight.done(d, new IllegalStateException("Connection lost")); // Paho failed it first
    assertEquals(
        List.of(
            new InFlight.Sent("t/d", 5),
            new InFlight.Sent("t/b", 2000),
            new InFlight.Sent("t/c", 30)),
        inFlight.failAll(InFlight.LOST),
        "what failed since, then what was still waiting, in the order sent");
    assertEquals(List.of(), inFlight.failAll(InFlight.LOST), "forgotten");
    assertTrue(c.future().failed());
    assertTrue(a.future().succeeded());
    assertEquals("connection lost", b.future().cause().getMessage());
    assertEquals(null, onContext(() -> inFlight.settled(10_000)), "nothing left to wait for");
  }
}
