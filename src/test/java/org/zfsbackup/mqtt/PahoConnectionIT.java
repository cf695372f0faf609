package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.zfsbackup.testing.LogCapture;
import org.zfsbackup.testing.MosquittoBroker;

/**
 * {@link PahoConnection}'s own reconnect loop against a real Mosquitto, and against a server that
 * accepts connections and never answers: one chain of attempts whatever calls come meanwhile, and
 * "offline" said to a broker that restarted while the agent disconnected (review 16).
 */
class PahoConnectionIT {
  Vertx vertx;
  Context context;

  @BeforeEach
  void vertx() {
    vertx = Vertx.vertx();
    context = vertx.getOrCreateContext();
  }

  @AfterEach
  void close() {
    vertx.close();
  }

  static PahoSettings settings(String url, String id) {
    return new PahoSettings(
        url,
        id,
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        "zba/it/availability",
        List.of("zba/it/cmd"),
        Duration.ofMillis(200),
        Duration.ofSeconds(1),
        Duration.ofSeconds(3),
        30);
  }

  static final class Listener implements MqttPort.Listener {
    final CountDownLatch connected = new CountDownLatch(1);

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
  }

  void on(Runnable r) throws Exception {
    CompletableFuture<Void> f = new CompletableFuture<>();
    context.runOnContext(
        v -> {
          r.run();
          f.complete(null);
        });
    f.get(5, TimeUnit.SECONDS);
  }

  /**
   * disconnect() and connect() while an attempt is under way (a power-down without a power command,
   * a wake-up while the broker's host still boots): that attempt's outcome carries on, and the
   * attempts stay one chain, each ending before the next starts. Catches a second chain (two
   * "connecting" lines in a row, "failed: Connect already in progress" warnings).
   */
  @Test
  void connectWhileAnAttemptIsUnderWay_oneChainOfAttempts() throws Exception {
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        LogCapture logged = LogCapture.of(PahoConnection.class)) {
      Thread acceptor =
          new Thread(
              () -> {
                try {
                  while (true) {
                    Socket s = silent.accept(); // never answers; closed after 2 s
                    vertx.setTimer(2000, t -> closeQuietly(s));
                  }
                } catch (Exception e) {
                  // closed by the test
                }
              });
      acceptor.setDaemon(true);
      acceptor.start();
      PahoConnection c =
          new PahoConnection(
              vertx, context, settings("tcp://127.0.0.1:" + silent.getLocalPort(), "zba-it-1"));
      Listener l = new Listener();
      on(() -> c.connect(l));
      Thread.sleep(300); // attempt 1 under way
      on(
          () -> {
            c.disconnect();
            c.connect(l);
          });
      Thread.sleep(300);
      on(c::reconnectNow);
      Thread.sleep(8000);
      on(c::close);
      List<String> lines =
          logged.messages().stream()
              .filter(m -> m.startsWith("connecting to") || m.startsWith("MQTT connect to"))
              .toList();
      assertTrue(lines.size() >= 4, lines.toString());
      for (int i = 0; i < lines.size(); i++) {
        boolean connecting = lines.get(i).startsWith("connecting to");
        assertTrue(connecting == (i % 2 == 0), "not one chain: " + lines);
        assertTrue(!lines.get(i).contains("already in progress"), lines.get(i));
      }
    }
  }

  /**
   * The connection lost while disconnect() waits for the acknowledgement of "offline" (the broker
   * restarted): the connection reconnects to say it, then disconnects. Catches "offline" never
   * reaching the restarted broker, whose retained "online" would stay for a sleeping machine.
   */
  @Test
  void lostWhileDisconnecting_reconnectsToSayOffline() throws Exception {
    try (MosquittoBroker broker = MosquittoBroker.start()) {
      PahoConnection c = connected(broker, "zba-it-2");
      broker.pause();
      on(
          () -> {
            c.publish("zba/it/availability", "offline", true);
            c.disconnect(); // waits for the acknowledgement that never comes
          });
      Thread.sleep(300);
      broker.kill();
      broker.restart();
      long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      while (broker
          .logText()
          .lines()
          .noneMatch(x -> x.contains("Received PUBLISH from zba-it-2"))) {
        assertTrue(System.nanoTime() < deadline, "offline never said:\n" + broker.logText());
        Thread.sleep(50);
      }
      assertTrue(broker.awaitCleanDisconnect("zba-it-2", Duration.ofSeconds(10)), "then gone");
      on(c::close);
    }
  }

  /**
   * An attempt whose CONNECT is never answered (its socket up, no CONNACK: one that slept with the
   * machine, a half-open connection) is given up after twice ackTimeout, and the next attempt
   * connects, also when connect() came meanwhile (a wake-up). Catches a chain that waited on it for
   * ever, without a word (review 17).
   */
  @Test
  void attemptNeverAnswered_givenUp_theNextOneConnects() throws Exception {
    try (MosquittoBroker broker = MosquittoBroker.start();
        ServerSocket proxy = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        LogCapture logged = LogCapture.of(PahoConnection.class)) {
      java.util.concurrent.atomic.AtomicInteger accepted =
          new java.util.concurrent.atomic.AtomicInteger();
      Thread acceptor =
          new Thread(
              () -> {
                List<Socket> held = new java.util.ArrayList<>(); // unreachable, one would close
                try {
                  while (true) {
                    Socket s = proxy.accept();
                    held.add(s);
                    if (accepted.incrementAndGet() > 1) { // the first: held open, never answered
                      Socket b = new Socket("127.0.0.1", broker.port());
                      pipe(s.getInputStream(), b.getOutputStream());
                      pipe(b.getInputStream(), s.getOutputStream());
                    }
                  }
                } catch (Exception e) {
                  // closed by the test
                }
              });
      acceptor.setDaemon(true);
      acceptor.start();
      PahoConnection c =
          new PahoConnection(
              vertx, context, settings("tcp://127.0.0.1:" + proxy.getLocalPort(), "zba-it-3"));
      Listener l = new Listener();
      on(() -> c.connect(l));
      Thread.sleep(1000);
      on(
          () -> {
            c.disconnect(); // the power-down, the broker away
            c.connect(l); // the wake-up, the first attempt still under way
          });
      assertTrue(l.connected.await(20, TimeUnit.SECONDS), "never connected: " + logged.messages());
      assertTrue(
          logged.messages().stream()
              .anyMatch(m -> m.contains("failed (attempt 1): Timed out waiting for a response")),
          logged.messages().toString());
      on(c::close);
    }
  }

  /**
   * A publish still unacknowledged when disconnect() stops waiting fails as the agent's own
   * disconnect, never as a cut of the broker's (which drops a kept message at the third). Catches
   * Paho's "Client is currently disconnecting" taken for a cut (review 17).
   */
  @Test
  void publishUnacknowledgedAtDisconnect_failsAsTheAgentsOwnDisconnect() throws Exception {
    try (MosquittoBroker broker = MosquittoBroker.start()) {
      PahoConnection c = connected(broker, "zba-it-4");
      broker.pause();
      java.util.concurrent.atomic.AtomicReference<String> why =
          new java.util.concurrent.atomic.AtomicReference<>();
      CompletableFuture<Void> done = new CompletableFuture<>();
      on(
          () -> {
            c.publish("zba/it/error", "kept", false)
                .onComplete(ar -> why.set(ar.succeeded() ? "ok" : ar.cause().getMessage()));
            c.disconnect().onComplete(ar -> done.complete(null));
          });
      done.get(20, TimeUnit.SECONDS);
      broker.resume();
      on(c::close);
      org.junit.jupiter.api.Assertions.assertEquals(InFlight.DISCONNECTED, why.get());
    }
  }

  static void pipe(java.io.InputStream in, java.io.OutputStream out) {
    Thread t =
        new Thread(
            () -> {
              try (in;
                  out) {
                in.transferTo(out);
              } catch (Exception e) {
                // one side closed
              }
            });
    t.setDaemon(true);
    t.start();
  }

  /** A connection to {@code broker}, connected. */
  PahoConnection connected(MosquittoBroker broker, String clientId) throws Exception {
    PahoConnection c = new PahoConnection(vertx, context, settings(broker.url(), clientId));
    Listener l = new Listener();
    on(() -> c.connect(l));
    assertTrue(l.connected.await(10, TimeUnit.SECONDS));
    return c;
  }

  static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (Exception e) {
      // gone already
    }
  }
}
