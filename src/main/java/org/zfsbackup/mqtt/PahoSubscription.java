package org.zfsbackup.mqtt;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongPredicate;
import java.util.function.Supplier;
import org.eclipse.paho.client.mqttv3.IMqttActionListener;
import org.eclipse.paho.client.mqttv3.IMqttToken;
import org.eclipse.paho.client.mqttv3.MqttAsyncClient;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.eclipse.paho.client.mqttv3.MqttMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link PahoConnection}'s subscriptions: after every connect, the topics at QoS 1, retried until
 * the broker grants them all; only then is the listener told it is {@link
 * MqttPort.Listener#connected}. What it does about Paho's trap:
 *
 * <ul>
 *   <li>The async client reports a subscribe as a success even when the broker's SUBACK refused it
 *       (return code 0x80, e.g. an ACL; only the blocking {@code MqttClient} checks): {@link
 *       #subscribed} reads {@code IMqttToken.getGrantedQos()}, and a refusal is a failed
 *       subscription, retried with backoff, never {@code online}.
 * </ul>
 *
 * <p>Runs on the connection's context only; logs as the connection.
 */
final class PahoSubscription {
  /** Logs as the connection, whose subscriptions these are. */
  private static final Logger log = LoggerFactory.getLogger(PahoConnection.class);

  private final Vertx vertx;
  private final Context context;
  private final PahoSettings settings;
  private final MqttAsyncClient client;

  /** Whether connection {@code n} is still the current one and the client not closed. */
  private final LongPredicate current;

  private final Supplier<MqttPort.Listener> listener;

  private int subscribeAttempt;

  /** The connection whose refused subscription was reported to the listener already. */
  private long refusalReported;

  PahoSubscription(
      Vertx vertx,
      Context context,
      PahoSettings settings,
      MqttAsyncClient client,
      LongPredicate current,
      Supplier<MqttPort.Listener> listener) {
    this.vertx = vertx;
    this.context = context;
    this.settings = settings;
    this.client = client;
    this.current = current;
    this.listener = listener;
  }

  /** Connection {@code n} is up: subscribe, with a fresh backoff. */
  void start(long n) {
    subscribeAttempt = 0;
    subscribe(n);
  }

  private void subscribe(long n) {
    if (!current.test(n) || !client.isConnected()) {
      return;
    }
    String[] topics = settings.subscriptions().toArray(String[]::new);
    int[] qos = new int[topics.length];
    Arrays.fill(qos, 1);
    try {
      client.subscribe(
          topics,
          qos,
          null,
          new IMqttActionListener() {
            @Override
            public void onSuccess(IMqttToken token) {
              int[] granted = token.getGrantedQos();
              context.runOnContext(v -> subscribed(n, topics, granted));
            }

            @Override
            public void onFailure(IMqttToken token, Throwable e) {
              context.runOnContext(v -> subscribeFailed(n, e));
            }
          });
    } catch (MqttException e) {
      subscribeFailed(n, e);
    }
  }

  /** The SUBACK came: every topic granted, or the subscription failed. */
  private void subscribed(long n, String[] topics, int[] granted) {
    if (!current.test(n)) {
      return;
    }
    List<String> refused = PahoCalls.refused(topics, granted);
    if (!refused.isEmpty()) {
      String detail =
          "the broker refused the subscription to "
              + String.join(", ", refused)
              + " (SUBACK return code 0x80): its ACL does not let "
              + settings.username().map(u -> "user '" + u + "'").orElse("this client")
              + " read "
              + (refused.size() == 1 ? "it" : "them")
              + ", so commands cannot reach the agent";
      long delay = PahoCalls.backoff(settings, ++subscribeAttempt);
      log.error("{}; staying offline, retrying in {}", detail, PahoCalls.seconds(delay));
      MqttPort.Listener l = listener.get();
      if (l != null && refusalReported != n) {
        refusalReported = n;
        l.subscriptionRefused(detail);
      }
      vertx.setTimer(delay, t -> subscribe(n));
      return;
    }
    log.info("subscribed to {}", String.join(", ", topics));
    MqttPort.Listener l = listener.get();
    if (l != null) {
      l.connected(n);
    }
  }

  private void subscribeFailed(long n, Throwable e) {
    log.error(
        "subscribing to {} failed: {}; retrying in 5 s",
        settings.subscriptions(),
        PahoCalls.describe(e));
    vertx.setTimer(5000, t -> subscribe(n));
  }

  /**
   * A message on the connection {@code n}, on Paho's thread: the QoS 1 acknowledgement goes out
   * when this returns. Copies, hands over to the context, returns; never throws.
   */
  void arrived(String topic, MqttMessage message, long n) {
    try {
      byte[] copy = message.getPayload().clone();
      boolean retained = message.isRetained();
      context.runOnContext(
          v -> {
            MqttPort.Listener l = listener.get();
            if (l != null) {
              l.message(topic, copy, retained, n);
            }
          });
    } catch (Throwable t) {
      log.error("dropped a message on {}: {}", topic, t.toString());
    }
  }
}
