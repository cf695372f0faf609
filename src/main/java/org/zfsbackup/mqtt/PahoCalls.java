package org.zfsbackup.mqtt;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.paho.client.mqttv3.IMqttActionListener;
import org.eclipse.paho.client.mqttv3.IMqttToken;
import org.eclipse.paho.client.mqttv3.MqttAsyncClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.eclipse.paho.client.mqttv3.ScheduledExecutorPingSender;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Small pieces of {@link PahoConnection}: the connect options, the retry backoff, Paho's action
 * callbacks handed to the Vert.x context, and the text of its log lines.
 */
final class PahoCalls {
  /** Logs as the connection, whose calls these are. */
  private static final Logger LOG = LoggerFactory.getLogger(PahoConnection.class);

  private PahoCalls() {}

  /**
   * A thread for Paho's keep-alive pings, through its {@code ScheduledExecutorPingSender}: Paho's
   * default sender is a {@code java.util.Timer}, which reads the wall clock, so a clock stepped
   * back by NTP held the pings back until the broker dropped the agent (and published the will). A
   * scheduled executor waits on the monotonic clock. Shut down by its connection's close.
   */
  static ScheduledExecutorService pingThread() {
    return Executors.newSingleThreadScheduledExecutor(
        r -> {
          Thread t = new Thread(r, PING_THREAD);
          t.setDaemon(true);
          return t;
        });
  }

  static final String PING_THREAD = "zba-mqtt-ping";

  /**
   * The client: memory persistence, its keep-alive pings on {@code pings} ({@link #pingThread}).
   */
  static MqttAsyncClient client(PahoSettings settings, ScheduledExecutorService pings)
      throws MqttException {
    return new MqttAsyncClient(
        settings.url(),
        settings.clientId(),
        new MemoryPersistence(),
        new ScheduledExecutorPingSender(pings));
  }

  /** The will's payload, retained on {@code T/availability}. */
  static final String WILL = "offline";

  /**
   * Clean session, no automatic reconnect ({@link PahoConnection} reconnects), {@code offline} as
   * the retained will, credentials, the broker's name checked against its certificate, and a raised
   * {@code maxInflight} (Paho's 10 is less than discovery alone). Paho's automatic reconnect does
   * not retry a failed <em>first</em> connect (paho.mqtt.java #825; right after wake-on-LAN the
   * broker is often unreachable), logs none of its attempts (a password changed on the broker went
   * unseen), waits on the wall clock, and starts again from 1 s after every connect, so a broker
   * that closes each connection at once (a message over its {@code max_packet_size}) was retried
   * every second for ever.
   */
  static MqttConnectOptions options(PahoSettings settings) {
    MqttConnectOptions options = new MqttConnectOptions();
    options.setCleanSession(true);
    options.setAutomaticReconnect(false);
    options.setKeepAliveInterval(settings.keepAliveSeconds());
    options.setConnectionTimeout(10);
    options.setMaxInflight(1000);
    options.setWill(settings.willTopic(), WILL.getBytes(StandardCharsets.UTF_8), 1, true);
    settings.username().ifPresent(options::setUserName);
    settings.password().ifPresent(p -> options.setPassword(p.value().toCharArray()));
    options.setHttpsHostnameVerificationEnabled(
        true); // the broker's name must be in its certificate
    if (TlsSockets.isTls(settings.url()) && settings.caFile().isPresent()) {
      options.setSocketFactory(TlsSockets.trusting(settings.caFile().get()));
    }
    return options;
  }

  /**
   * A Paho action listener that hands the outcome to {@code context}: {@code handler} gets null on
   * success, the cause on failure. Paho's thread only schedules it.
   */
  static IMqttActionListener onContext(Context context, Handler<Throwable> handler) {
    return new IMqttActionListener() {
      @Override
      public void onSuccess(IMqttToken token) {
        context.runOnContext(v -> handler.handle(null));
      }

      @Override
      public void onFailure(IMqttToken token, Throwable e) {
        context.runOnContext(v -> handler.handle(e));
      }
    };
  }

  /** A connection that ends sooner counts as a failed attempt: the backoff goes on growing. */
  static final Duration STABLE = Duration.ofSeconds(30);

  /**
   * Why a connection cut soon after it was made may have been cut, from the publishes it left
   * unacknowledged: a broker closes the connection of a client that sends a packet over its {@code
   * max_packet_size} (MQTT 3.1.1 has no way to say so; Mosquitto logs "oversize packet").
   */
  static String cutAtOnce(List<InFlight.Sent> unacknowledged) {
    return unacknowledged.stream()
        .max(java.util.Comparator.comparingInt(InFlight.Sent::bytes))
        .map(
            s ->
                ("; it was cut with %d publish(es) unacknowledged, the largest %d bytes on %s: a"
                        + " broker closes the connection of a client that sends more than its"
                        + " max_packet_size (its log says so)")
                    .formatted(unacknowledged.size(), s.bytes(), s.topic()))
        .orElse("");
  }

  /**
   * A clean disconnect (the broker sends no will), bounded: when it fails or takes more than 5 s,
   * the connection is closed (then the broker sends the will). Never fails.
   */
  static Future<Void> disconnect(MqttAsyncClient client, Context context, PahoSettings settings) {
    Promise<Void> done = Promise.promise();
    try {
      client.disconnect(
          1000,
          null,
          onContext(
              context,
              e -> {
                if (e == null) {
                  done.tryComplete();
                } else {
                  done.tryFail(e);
                }
              }));
    } catch (MqttException e) {
      done.tryFail(e);
    }
    return done.future()
        .timeout(5, TimeUnit.SECONDS)
        .onSuccess(v -> LOG.info("disconnected from MQTT broker {}", settings.url()))
        .recover(
            e -> {
              LOG.warn(
                  "clean disconnect from {} failed: {}; closing the connection",
                  settings.url(),
                  describe(e));
              try {
                client.disconnectForcibly(0, 1000, false);
              } catch (MqttException ignored) {
                // Already gone.
              }
              return Future.succeededFuture();
            });
  }

  /** {@code firstRetry} doubling up to {@code maxRetry}: the wait after the n-th failure. */
  static long backoff(PahoSettings settings, int n) {
    return Math.min(
        settings.maxRetry().toMillis(),
        settings.firstRetry().toMillis() << Math.max(0, Math.min(n - 1, 20)));
  }

  /**
   * The topics a SUBACK refused: return code 0x80 (MQTT 3.1.1 section 3.9.3), or anything else that
   * is not a granted QoS 0-2; a SUBACK with fewer codes than topics refuses the rest.
   */
  static List<String> refused(String[] topics, int[] granted) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < topics.length; i++) {
      int code = granted != null && i < granted.length ? granted[i] : 0x80;
      if (code < 0 || code > 2) {
        out.add(topics[i]);
      }
    }
    return out;
  }

  /**
   * A Paho exception's message with its cause's: {@code "Unable to connect: Connection refused"}.
   */
  static String describe(Throwable e) {
    if (e == null) {
      return "unknown reason";
    }
    Throwable cause = e.getCause();
    String msg = e.getMessage();
    if (cause != null && cause.getMessage() != null) {
      msg = (msg == null ? "" : msg + ": ") + cause.getMessage();
    }
    return msg == null ? e.getClass().getSimpleName() : msg;
  }

  /**
   * {@link #describe}, and for a connection the broker closed instead of answering the CONNECT, why
   * a broker does that to the agent (MQTT 3.1.1 gives no reason; {@code check} says the same).
   */
  static String connectFailure(Throwable e) {
    boolean closed =
        e instanceof MqttException m
            && m.getReasonCode() == MqttException.REASON_CODE_CONNECTION_LOST;
    return describe(e)
        + (closed
            ? " (the server closed it without accepting the connect; the broker's log says why:"
                + " a broker that refuses retained messages or QoS 1, such as Mosquitto's"
                + " retain_available false or max_qos 0, does so to the agent's retained QoS 1"
                + " will; so does one at its max_connections, or a TLS port behind a tcp:// url)"
            : "");
  }

  /**
   * Closes {@code client}'s socket (a connection, or an attempt, that will never answer) off the
   * event loop, then runs {@code then} on {@code context}, whatever the close said.
   */
  static void closeForcibly(Vertx vertx, Context context, MqttAsyncClient client, Runnable then) {
    vertx
        .executeBlocking(
            () -> {
              client.disconnectForcibly(0, 1000, false);
              return null;
            })
        .onComplete(ar -> context.runOnContext(v -> then.run()));
  }

  /**
   * A publish's failure as the agent's own disconnect ({@link InFlight#DISCONNECTED}) when Paho
   * failed it for that (the disconnect's wait for acknowledgements ran out): no broker's cut.
   */
  static Throwable own(Throwable e) {
    boolean disconnecting =
        e instanceof MqttException m
            && (m.getReasonCode() == MqttException.REASON_CODE_CLIENT_DISCONNECTING
                || m.getReasonCode() == MqttException.REASON_CODE_CLIENT_CLOSED);
    return disconnecting ? new IllegalStateException(InFlight.DISCONNECTED) : e;
  }

  /** {@code "4 s"}, {@code "1.5 s"}. */
  static String seconds(long millis) {
    return millis % 1000 == 0 ? (millis / 1000) + " s" : String.format("%.1f s", millis / 1000.0);
  }
}
