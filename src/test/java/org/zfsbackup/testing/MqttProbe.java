package org.zfsbackup.testing;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;
import javax.net.SocketFactory;
import org.eclipse.paho.client.mqttv3.IMqttDeliveryToken;
import org.eclipse.paho.client.mqttv3.MqttCallback;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.eclipse.paho.client.mqttv3.MqttMessage;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;

/**
 * A test's own MQTT client (what {@code mosquitto_sub}/{@code mosquitto_pub} or Home Assistant
 * would be): records every message on its subscriptions, in arrival order, and waits for them with
 * a bound. Thread-safe.
 */
public final class MqttProbe implements AutoCloseable {

  /** A received message. */
  public record Message(String topic, byte[] payload, boolean retained, long receivedNanos) {
    public String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }
  }

  private final MqttClient client;
  private final List<Message> messages = new ArrayList<>();

  private MqttProbe(MqttClient client) {
    this.client = client;
  }

  public static MqttProbe connect(String url) {
    return connect(url, null, null, null);
  }

  /** With TLS ({@code socketFactory}) and credentials, each optional (null). */
  public static MqttProbe connect(
      String url, SocketFactory socketFactory, String user, String password) {
    try {
      MqttClient client =
          new MqttClient(url, "probe-" + UUID.randomUUID(), new MemoryPersistence());
      MqttProbe probe = new MqttProbe(client);
      client.setCallback(
          new MqttCallback() {
            @Override
            public void connectionLost(Throwable cause) {}

            @Override
            public void messageArrived(String topic, MqttMessage message) {
              probe.add(
                  new Message(
                      topic,
                      message.getPayload().clone(),
                      message.isRetained(),
                      System.nanoTime()));
            }

            @Override
            public void deliveryComplete(IMqttDeliveryToken token) {}
          });
      MqttConnectOptions options = new MqttConnectOptions();
      options.setCleanSession(true);
      options.setConnectionTimeout(5);
      options.setMaxInflight(1000);
      if (socketFactory != null) {
        options.setSocketFactory(socketFactory);
      }
      if (user != null) {
        options.setUserName(user);
        options.setPassword(password.toCharArray());
      }
      client.setTimeToWait(10_000);
      client.connect(options);
      return probe;
    } catch (MqttException e) {
      throw new IllegalStateException("probe cannot connect to " + url + ": " + e, e);
    }
  }

  private synchronized void add(Message m) {
    messages.add(m);
    notifyAll();
  }

  /** Subscribes at QoS 1; retained messages on these topics arrive at once. */
  public MqttProbe subscribe(String... topicFilters) {
    try {
      int[] qos = new int[topicFilters.length];
      java.util.Arrays.fill(qos, 1);
      client.subscribe(topicFilters, qos);
      return this;
    } catch (MqttException e) {
      throw new IllegalStateException(e);
    }
  }

  public void publish(String topic, String payload, boolean retained) {
    publish(topic, payload.getBytes(StandardCharsets.UTF_8), retained);
  }

  /** QoS 1; returns when the broker acknowledged it. */
  public void publish(String topic, byte[] payload, boolean retained) {
    try {
      client.publish(topic, payload, 1, retained);
    } catch (MqttException e) {
      throw new IllegalStateException(e);
    }
  }

  /** False after the broker went away (probes do not reconnect). */
  public boolean connected() {
    return client.isConnected();
  }

  /** Everything received so far, in order. */
  public synchronized List<Message> messages() {
    return new ArrayList<>(messages);
  }

  public List<Message> messages(String topic) {
    return messages().stream().filter(m -> m.topic().equals(topic)).toList();
  }

  /**
   * The messages received from index {@code from} on, as one snapshot (a {@code subList} of {@link
   * #messages} up to a later {@link #mark} would race with messages still arriving).
   */
  public synchronized List<Message> since(int from) {
    return new ArrayList<>(messages.subList(from, messages.size()));
  }

  /** How many messages were received so far: pass it to {@link #awaitAfter}. */
  public synchronized int mark() {
    return messages.size();
  }

  /** The first message on {@code topic} matching {@code match}, waiting up to {@code timeout}. */
  public Message await(String topic, Predicate<Message> match, Duration timeout) {
    return awaitAfter(0, topic, match, timeout);
  }

  public Message await(String topic, String text, Duration timeout) {
    return await(topic, m -> m.text().equals(text), timeout);
  }

  /** Like {@link #await} but only among messages received after {@code mark}. */
  public synchronized Message awaitAfter(
      int mark, String topic, Predicate<Message> match, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    int seen = mark;
    while (true) {
      for (; seen < messages.size(); seen++) {
        Message m = messages.get(seen);
        if (m.topic().equals(topic) && match.test(m)) {
          return m;
        }
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError(
            "no matching message on "
                + topic
                + " within "
                + timeout
                + "; received: "
                + describe(messages.subList(mark, messages.size())));
      }
      try {
        wait(Math.max(1, left / 1_000_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  private static String describe(List<Message> ms) {
    StringBuilder b = new StringBuilder();
    for (Message m : ms) {
      String t = m.text();
      b.append("\n  ")
          .append(m.topic())
          .append(m.retained() ? " (retained) " : " ")
          .append(t.length() > 160 ? t.substring(0, 160) + "..." : t);
    }
    return b.toString();
  }

  @Override
  public void close() {
    try {
      if (client.isConnected()) {
        client.disconnect(1000);
      }
      client.close(true);
    } catch (MqttException ignored) {
      // Test teardown.
    }
  }
}
