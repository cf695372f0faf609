package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Future;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the agent publishes goes through here (contract §4): QoS 1, retained where the
 * contract says so. A non-retained error or event that cannot be published (the broker is away) is
 * kept in the {@link Outbox} and sent after the next connect's republish. Used on the agent's
 * context only.
 */
final class AgentPublisher {
  /** Logs as the agent, whose messages these are. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  private final MqttPort mqtt;
  private final Topics topics;
  private final Optional<Discovery> discovery;
  private final Outbox outbox;

  AgentPublisher(MqttPort mqtt, Topics topics, Optional<Discovery> discovery, Outbox outbox) {
    this.mqtt = mqtt;
    this.topics = topics;
    this.discovery = discovery;
    this.outbox = outbox;
  }

  /**
   * After every (re)connect: the state, the last result and what the outbox kept, then {@code
   * online} and discovery. Everything from the past comes before {@code online}: whoever acts on it
   * (Home Assistant enabling the entities, an automation that then sends {@code run} and waits for
   * the end event) finds the current state, not the {@code suspending} retained from before a
   * sleep, and never takes last night's kept end event for tonight's.
   */
  void online(AgentStatus status, ObjectNode lastResult) {
    republish(status, lastResult);
    availability("online");
    discovery();
  }

  /**
   * Back while a power-down waited for the broker: the state, the last result and what the outbox
   * kept, without {@code online} (the machine is going down) or discovery.
   */
  void republish(AgentStatus status, ObjectNode lastResult) {
    state(status);
    if (lastResult != null) {
      result(lastResult);
    }
    publishKept();
  }

  private void publishKept() {
    List<Outbox.Message> kept = outbox.drain();
    List<Future<Void>> sent =
        kept.stream().map(m -> mqtt.publish(m.topic(), m.payload(), false)).toList();
    // What failed is kept again, in order. A cut connection is laid on the largest message it
    // left unacknowledged (the one over a broker's max_packet_size), dropped at its Outbox.CUTS-th.
    Future.join(sent)
        .onComplete(
            ar -> {
              Outbox.Message largest = null;
              for (int i = 0; i < kept.size(); i++) {
                Outbox.Message m = kept.get(i);
                boolean cut = sent.get(i).failed() && !unsent(sent.get(i).cause().getMessage());
                largest = cut && (largest == null || m.bytes() > largest.bytes()) ? m : largest;
              }
              for (int i = 0; i < kept.size(); i++) {
                if (sent.get(i).failed()) {
                  outbox.again(kept.get(i), kept.get(i) == largest);
                }
              }
            });
  }

  /** Failed without being sent, or by the agent's own disconnect: no cut of the broker's. */
  private static boolean unsent(String why) {
    return InFlight.NOT_CONNECTED.equals(why) || InFlight.DISCONNECTED.equals(why);
  }

  /**
   * Stopping for good: what the outbox kept is published if the broker is there (the disconnect
   * that follows waits, bounded, for the acknowledgements).
   */
  void keptBeforeStopping() {
    if (outbox.size() > 0 && mqtt.connected()) {
      publishKept();
    }
  }

  /** Stopped: what is still kept is lost, said in the log (never in silence). */
  void keptLost() {
    if (outbox.size() > 0) {
      log.warn(
          "stopping with {} error/event message(s) kept while the MQTT broker was unreachable:"
              + " they are lost (the last result is in the state file, and is published at the"
              + " next start)",
          outbox.size());
    }
  }

  Future<Void> availability(String online) {
    return publish(topics.availability(), online, true);
  }

  void state(AgentStatus s) {
    AgentCycle c = s.cycle();
    publish(
        topics.state(),
        Payloads.text(
            Payloads.state(
                s.wire(),
                c == null ? null : c.id,
                c == null ? null : c.runId,
                c == null ? null : c.phase(),
                s.since())),
        true);
  }

  /**
   * True when {@code topic} is Home Assistant's status topic; when Home Assistant (re)started,
   * republishes discovery. A retained birth message comes with every subscribe: the connect
   * publishes discovery then anyway.
   */
  boolean homeAssistantStatus(String topic, byte[] payload, boolean retained) {
    if (discovery.isEmpty() || !topic.equals(discovery.get().statusTopic())) {
      return false;
    }
    if (!retained && new String(payload, StandardCharsets.UTF_8).strip().equals("online")) {
      log.info("Home Assistant came online: republishing discovery");
      discovery();
    }
    return true;
  }

  void discovery() {
    discovery.ifPresent(
        d -> {
          for (Map.Entry<String, ObjectNode> m : d.messages().entrySet()) {
            publish(m.getKey(), Payloads.text(m.getValue()), true);
          }
        });
  }

  void result(ObjectNode result) {
    publish(topics.result(), Payloads.text(result), true);
  }

  /** A dry run's result: not retained, so the broker keeps the last real one. */
  void dryRunResult(ObjectNode result) {
    publish(topics.result(), Payloads.text(result), false);
  }

  void cycleProgress(ObjectNode progress) {
    publish(topics.cycleProgress(), Payloads.text(progress), false);
  }

  void event(String eventType, String cycleId, String runId) {
    publish(topics.event(), Payloads.text(Payloads.event(eventType, cycleId, runId)), false);
  }

  void progress(ObjectNode progress) {
    publish(topics.progress(), Payloads.text(progress), false);
  }

  void error(ObjectNode error) {
    publish(topics.error(), Payloads.text(error), false);
  }

  /** An error of the agent itself ({@code command_refused}, {@code internal}, ...). */
  void agentError(AgentCycle cycle, String kind, String message) {
    error(Payloads.agentError(cycle == null ? null : cycle.id, kind, message));
  }

  private Future<Void> publish(String topic, String payload, boolean retained) {
    return mqtt.publish(topic, payload, retained)
        .onFailure(
            e -> {
              if (!retained && (topic.equals(topics.error()) || topic.equals(topics.event()))) {
                outbox.keep(topic, payload);
              } else {
                log.debug("not published on {}: {}", topic, e.getMessage());
              }
            });
  }
}
