package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An in-memory {@link MqttPort} for the agent's unit tests: connects at once, acknowledges every
 * publish, and writes what happened to a shared timeline ({@code "state running"}, {@code
 * "availability offline"}, {@code "disconnect"}, ...) so tests can check the order.
 */
final class FakeMqtt implements MqttPort {
  record Published(String topic, String payload, boolean retained) {
    JsonNode json() {
      try {
        return Payloads.JSON.readTree(payload);
      } catch (Exception e) {
        throw new AssertionError("not JSON on " + topic + ": " + payload, e);
      }
    }
  }

  final List<Published> published = new CopyOnWriteArrayList<>();
  private final Context context;
  private final Topics topics;
  private final List<String> timeline;
  private final AtomicLong connections = new AtomicLong();
  private volatile boolean connected;
  private volatile Listener listener;

  /** {@code System.nanoTime()} of the last connect. */
  volatile long connectedAt;

  FakeMqtt(Context context, Topics topics, List<String> timeline) {
    this.context = context;
    this.topics = topics;
    this.timeline = timeline;
  }

  @Override
  public void connect(Listener l) {
    listener = l;
    context.runOnContext(v -> up());
  }

  private void up() {
    connectedAt = System.nanoTime();
    connected = true;
    long n = connections.incrementAndGet();
    timeline.add("connect");
    listener.connected(n);
  }

  /** Simulates a broker restart: the connection drops and comes back. */
  void dropAndReconnect() {
    context.runOnContext(
        v -> {
          connected = false;
          timeline.add("lost");
          listener.lost("test");
          up();
        });
  }

  /** The broker goes away and stays away until {@link #reconnect}. */
  void drop() {
    context.runOnContext(
        v -> {
          connected = false;
          timeline.add("lost");
          listener.lost("test");
        });
  }

  void reconnect() {
    context.runOnContext(v -> up());
  }

  @Override
  public Future<Void> publish(String topic, String payload, boolean retained) {
    if (!connected) {
      timeline.add("dropped " + summary(topic, payload));
      return Future.failedFuture(InFlight.NOT_CONNECTED);
    }
    published.add(new Published(topic, payload, retained));
    timeline.add(summary(topic, payload));
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> disconnect() {
    connected = false;
    timeline.add("disconnect");
    return Future.succeededFuture();
  }

  @Override
  public Future<Void> close() {
    connected = false;
    timeline.add("close");
    return Future.succeededFuture();
  }

  @Override
  public boolean connected() {
    return connected;
  }

  /** Recorded only: a test brings the broker back with {@link #reconnect}. */
  @Override
  public void reconnectNow() {
    timeline.add("reconnect now");
  }

  @Override
  public long connection() {
    return connections.get();
  }

  List<Published> on(String topic) {
    return published.stream().filter(p -> p.topic().equals(topic)).toList();
  }

  List<JsonNode> json(String topic) {
    return on(topic).stream().map(Published::json).toList();
  }

  JsonNode last(String topic) {
    List<JsonNode> all = json(topic);
    return all.isEmpty() ? null : all.get(all.size() - 1);
  }

  /**
   * {@code state running}, {@code result success}, {@code error command_refused}, {@code
   * discovery}, ...
   */
  String summary(String topic, String payload) {
    if (!topic.startsWith(topics.base() + "/")) {
      return "discovery";
    }
    String key = topic.substring(topics.base().length() + 1);
    if (key.equals("availability")) {
      return "availability " + payload;
    }
    Published p = new Published(topic, payload, false);
    return switch (key) {
      case "state" -> "state " + p.json().get("state").asText();
      case "result" -> "result " + p.json().get("outcome").asText();
      case "event" -> "event " + p.json().get("event_type").asText();
      case "error" -> "error " + p.json().get("kind").asText();
      case "progress" -> "progress " + p.json().get("status").asText();
      default -> key;
    };
  }
}
