package org.zfsbackup.mqtt;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Errors and events that could not be published because the broker was unreachable (an outage, or
 * the power-down itself), in order; the agent sends them after the next connect's republish, so a
 * failure that happened while the broker was away is still seen. Bounded: the oldest go first.
 * Progress is not kept (it is stale by then); retained topics are republished whole on connect
 * anyway. Not thread-safe: used on the agent's context only.
 */
final class Outbox {
  /** Logs as the agent, whose messages these are. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  static final int LIMIT = 200;

  /**
   * How many connections a kept message may see cut while it waited for its acknowledgement before
   * it is dropped: one the broker refuses (over its {@code max_packet_size}) would cut every
   * connection after it, for ever.
   */
  static final int CUTS = 3;

  /** One message kept for the next connect; {@code cuts}: connections lost while it was sent. */
  record Message(String topic, String payload, int cuts) {
    int bytes() {
      return payload.getBytes(StandardCharsets.UTF_8).length;
    }
  }

  private final int limit;
  private final Deque<Message> kept = new ArrayDeque<>();
  private long dropped;

  Outbox(int limit) {
    this.limit = limit;
  }

  /** Keeps a message; when full, drops the oldest. */
  void keep(String topic, String payload) {
    if (kept.size() >= limit) {
      kept.removeFirst();
      dropped++;
    }
    kept.addLast(new Message(topic, payload, 0));
    log.info(
        "not connected to the MQTT broker: keeping a message for {} until it is back ({} kept)",
        topic,
        kept.size());
  }

  /**
   * A kept message failed again: kept for the next connect, or, when the connection was cut while
   * it was sent ({@code cut}) for the {@link #CUTS}th time, dropped (said at ERROR).
   */
  void again(Message m, boolean cut) {
    Message next = new Message(m.topic(), m.payload(), m.cuts() + (cut ? 1 : 0));
    if (next.cuts() < CUTS) {
      kept.addLast(next);
      return;
    }
    log.error(
        "dropped a message for {} ({} bytes): the connection to the MQTT broker was cut each of the"
            + " {} times it was sent; a broker closes the connection of a client that sends more"
            + " than its max_packet_size (its log says so)",
        m.topic(),
        m.bytes(),
        CUTS);
  }

  /** Everything kept, oldest first, and forgets it (logging how many were dropped). */
  List<Message> drain() {
    if (dropped > 0) {
      log.warn(
          "{} error/event messages from while the broker was unreachable were dropped (more than"
              + " {})",
          dropped,
          limit);
      dropped = 0;
    }
    if (!kept.isEmpty()) {
      log.info(
          "publishing {} error/event messages kept while the broker was unreachable", kept.size());
    }
    List<Message> all = List.copyOf(kept);
    kept.clear();
    return all;
  }

  int size() {
    return kept.size();
  }

  /** How many were dropped since the last {@link #drain}. */
  long dropped() {
    return dropped;
  }
}
