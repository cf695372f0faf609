package org.zfsbackup.mqtt;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first step of a power-down (docs/mqtt.md, "The power-down, step by step"): a broker that is
 * unreachable as it starts (an outage as the cycle ended, a Mosquitto restart) is waited for, at
 * most {@code bound}, asking for a connect attempt every 2 s (Paho's own attempts back off to 16 s
 * and more over an outage). Otherwise the machine would go down with the night's result unpublished
 * and the errors and events of the outage only in memory: Home Assistant would show the previous
 * night all day, and a poweroff would lose them. Used on the agent's context only.
 */
final class BrokerWait {
  /** Logs as the agent, whose steps these are. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  private final Vertx vertx;
  private final MqttPort mqtt;
  private final Duration bound;

  /** While waiting: completed when the broker is back, at the bound, or at a shutdown. */
  private Promise<Void> waited;

  private long timer = -1;
  private long retrying = -1;

  BrokerWait(Vertx vertx, MqttPort mqtt, Duration bound) {
    this.vertx = vertx;
    this.mqtt = mqtt;
    this.bound = bound;
  }

  /**
   * Completes at once when {@code announced} (connected, and the agent republished on that
   * connection); else when {@link #back} is called, at the bound, or at {@link #cancel}.
   */
  Future<Void> await(BooleanSupplier announced) {
    if (announced.getAsBoolean()) {
      return Future.succeededFuture();
    }
    log.warn(
        "not connected to the MQTT broker (each connect attempt is logged with its reason): the"
            + " power-down waits for it, at most {}, so that the result and the errors and events"
            + " kept meanwhile go out first",
        PahoCalls.seconds(bound.toMillis()));
    Promise<Void> p = Promise.promise();
    waited = p;
    mqtt.reconnectNow();
    retrying = vertx.setPeriodic(2000, t -> mqtt.reconnectNow());
    timer =
        vertx.setTimer(
            bound.toMillis(),
            t -> {
              timer = -1;
              if (waited == p) {
                log.warn(
                    "still not connected to the MQTT broker after {}: powering down without"
                        + " publishing the result (it is published at the next connect, from the"
                        + " state file after a poweroff)",
                    PahoCalls.seconds(bound.toMillis()));
                end();
              }
            });
    return p.future();
  }

  /** True while waiting: a connect now is for the result, not to come online. */
  boolean waiting() {
    return waited != null;
  }

  /** The broker is back and the agent has republished: the power-down goes on. */
  void back() {
    if (waited != null) {
      log.info("the MQTT broker is back: the result is published, powering down");
      end();
    }
  }

  /** Shutting down: the wait ends (what follows sees the shutdown and does nothing). */
  void cancel() {
    end();
  }

  private void end() {
    for (long t : new long[] {timer, retrying}) {
      if (t >= 0) {
        vertx.cancelTimer(t);
      }
    }
    timer = -1;
    retrying = -1;
    Promise<Void> p = waited;
    waited = null;
    if (p != null) {
      p.tryComplete();
    }
  }
}
