package org.zfsbackup.mqtt;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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

  private final Set<Promise<Void>> pending = new HashSet<>();

  /** A publish goes out: its promise, completed by {@link #done}. */
  Promise<Void> add() {
    Promise<Void> promise = Promise.promise();
    pending.add(promise);
    return promise;
  }

  /** Acknowledged ({@code failure} null) or failed. */
  void done(Promise<Void> promise, Throwable failure) {
    pending.remove(promise);
    if (failure == null) {
      promise.tryComplete();
    } else {
      promise.tryFail(failure);
    }
  }

  /** Fails every publish still waiting (the connection is gone). */
  void failAll(String why) {
    List<Promise<Void>> all = new ArrayList<>(pending);
    pending.clear();
    all.forEach(p -> p.tryFail(why));
  }

  /**
   * Completes when every publish sent so far is acknowledged or failed, or after {@code
   * timeoutMillis} (logged); never fails.
   */
  Future<Void> settled(long timeoutMillis) {
    List<Future<Void>> outstanding = new ArrayList<>();
    for (Promise<Void> p : pending) {
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
