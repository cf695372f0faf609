package org.zfsbackup.mqtt;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * QoS 1 publishes sent and not yet acknowledged, so a disconnect can wait for them (and the will is
 * not needed). Not thread-safe: used on the connection's context only.
 */
final class InFlight {
  /** Logs as the connection, whose publishes these are. */
  private static final Logger log = LoggerFactory.getLogger(PahoConnection.class);

  /** Why every publish waiting fails when the connection is gone ({@link #failAll}). */
  static final String LOST = "connection lost";

  /** Why the publishes still waiting fail when the agent disconnects (not the broker's doing). */
  static final String DISCONNECTED = "disconnected";

  /** Why a publish fails that was never sent: there was no connection. */
  static final String NOT_CONNECTED = "not connected to the MQTT broker";

  /** One publish waiting for its acknowledgement. */
  record Sent(String topic, int bytes) {}

  private final Map<Promise<Void>, Sent> pending = new LinkedHashMap<>(); // in the order sent

  /** Failed since the last {@link #failAll}: Paho fails them as it notices the connection gone. */
  private final List<Sent> failed = new ArrayList<>();

  /**
   * A publish of {@code bytes} on {@code topic} goes out: its promise, completed by {@link #done}.
   */
  Promise<Void> add(String topic, int bytes) {
    Promise<Void> promise = Promise.promise();
    pending.put(promise, new Sent(topic, bytes));
    return promise;
  }

  /** Acknowledged ({@code failure} null) or failed. */
  void done(Promise<Void> promise, Throwable failure) {
    Sent sent = pending.remove(promise);
    if (failure != null && sent != null && failed.size() < 1000) {
      failed.add(sent);
    }
    if (failure == null) {
      promise.tryComplete();
    } else {
      promise.tryFail(failure);
    }
  }

  /**
   * Fails every publish still waiting (the connection is gone); returns them with those that failed
   * since the last call, in the order sent.
   */
  List<Sent> failAll(String why) {
    List<Promise<Void>> all = new ArrayList<>(pending.keySet());
    List<Sent> sent = new ArrayList<>(failed);
    sent.addAll(pending.values());
    failed.clear();
    pending.clear();
    all.forEach(p -> p.tryFail(why));
    return sent;
  }

  /**
   * Completes when every publish sent so far is acknowledged or failed, or after {@code
   * timeoutMillis} (logged); never fails.
   */
  Future<Void> settled(long timeoutMillis) {
    List<Future<Void>> outstanding = new ArrayList<>();
    for (Promise<Void> p : pending.keySet()) {
      outstanding.add(p.future().otherwiseEmpty());
    }
    return Future.join(outstanding)
        .timeout(timeoutMillis, TimeUnit.MILLISECONDS)
        .<Void>mapEmpty()
        .otherwise(
            e -> {
              log.warn(
                  "{} publish(es) not acknowledged within {}; disconnecting anyway",
                  pending.size(),
                  PahoCalls.seconds(timeoutMillis));
              return null;
            });
  }
}
