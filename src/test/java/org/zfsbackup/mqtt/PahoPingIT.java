package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.zfsbackup.testing.MosquittoBroker;

/**
 * Catches: Paho's keep-alive pings on its default {@code java.util.Timer}, which waits on the wall
 * clock: a clock stepped back by NTP (the first sync after a wake-on-LAN boot) held the pings back,
 * the broker dropped the idle agent and published its will ({@code offline}). The step itself
 * cannot be made here (the machine's clock is shared, and there is no libfaketime): this proves the
 * pings reach a real broker from the agent's own scheduled executor, which waits on the monotonic
 * clock ({@link java.util.concurrent.ScheduledThreadPoolExecutor}).
 */
class PahoPingIT {
  @Test
  void keepAlivePings_sentByTheScheduledExecutor() throws Exception {
    Vertx vertx = Vertx.vertx();
    try (MosquittoBroker broker = MosquittoBroker.start()) {
      PahoConnection connection =
          new PahoConnection(
              vertx,
              vertx.getOrCreateContext(),
              new PahoSettings(
                  broker.url(),
                  "zba-ping-test",
                  Optional.empty(),
                  Optional.empty(),
                  Optional.empty(),
                  "zba/ping/availability",
                  List.of("zba/ping"),
                  Duration.ofMillis(200),
                  Duration.ofSeconds(1),
                  Duration.ofSeconds(2),
                  1));
      CountDownLatch connected = new CountDownLatch(1);
      connection.connect(
          new MqttPort.Listener() {
            @Override
            public void connected(long n) {
              connected.countDown();
            }

            @Override
            public void message(String topic, byte[] payload, boolean retained, long n) {}

            @Override
            public void lost(String reason) {}

            @Override
            public void subscriptionRefused(String detail) {}
          });
      assertTrue(connected.await(10, TimeUnit.SECONDS), "connected");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (pings(broker) < 2 && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertTrue(pings(broker) >= 2, broker.logText());
      assertTrue(
          Thread.getAllStackTraces().keySet().stream()
              .anyMatch(t -> t.getName().equals(PahoCalls.PING_THREAD)),
          "the pings are scheduled on " + PahoCalls.PING_THREAD);
      connection.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      Thread.sleep(200);
      assertTrue(
          Thread.getAllStackTraces().keySet().stream()
              .noneMatch(t -> t.getName().equals(PahoCalls.PING_THREAD) && t.isAlive()),
          "the ping thread ends with its connection");
    } finally {
      vertx.close();
    }
  }

  private static long pings(MosquittoBroker broker) {
    return broker.logText().lines().filter(l -> l.contains("PINGREQ from zba-ping-test")).count();
  }
}
