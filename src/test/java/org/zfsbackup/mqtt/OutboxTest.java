package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.zfsbackup.mqtt.Outbox.Message;

class OutboxTest {
  @Test
  void drain_returnsWhatWasKeptInOrderAndForgetsIt() {
    Outbox outbox = new Outbox(3);
    outbox.keep("t/error", "e1");
    outbox.keep("t/event", "v1");
    assertEquals(
        List.of(new Message("t/error", "e1", 0), new Message("t/event", "v1", 0)), outbox.drain());
    assertEquals(0, outbox.size());
    assertTrue(outbox.drain().isEmpty());
  }

  @Test
  void keep_whenFull_dropsTheOldestAndCountsThemUntilTheNextDrain() {
    Outbox outbox = new Outbox(3);
    for (int i = 1; i <= 5; i++) {
      outbox.keep("t/error", "e" + i);
    }
    assertEquals(3, outbox.size());
    assertEquals(2, outbox.dropped());
    assertEquals(List.of("e3", "e4", "e5"), outbox.drain().stream().map(Message::payload).toList());
    assertEquals(0, outbox.dropped());
  }

  @Test
  void keep_afterADrain_startsAfresh() {
    Outbox outbox = new Outbox(2);
    outbox.keep("t/error", "e1");
    List<Message> first = outbox.drain();
    outbox.keep("t/error", "e2");
    assertEquals(List.of(new Message("t/error", "e1", 0)), first, "a drained list does not change");
    assertEquals(List.of(new Message("t/error", "e2", 0)), outbox.drain());
  }

  /**
   * A kept message that fails again is kept, in order, unless the connection was cut while it was
   * sent for the third time: then it is dropped (one over the broker's max_packet_size would cut
   * every connection after it, for ever). A failure without a cut (not connected) never drops it.
   */
  @Test
  void again_keptUntilItsThirdCut_notConnectedNeverDrops() {
    Outbox outbox = new Outbox(10);
    outbox.keep("t/error", "big");
    outbox.keep("t/event", "small");
    for (int round = 1; round <= 5; round++) {
      for (Message m : outbox.drain()) {
        outbox.again(m, false);
      }
    }
    assertEquals(List.of("big", "small"), outbox.drain().stream().map(Message::payload).toList());
    outbox.keep("t/error", "big");
    for (int cut = 1; cut <= Outbox.CUTS; cut++) {
      List<Message> kept = outbox.drain();
      assertEquals(1, kept.size(), "kept until its cut " + cut);
      outbox.again(kept.get(0), true);
    }
    assertEquals(0, outbox.size(), "dropped at its third cut");
  }

  @Test
  void limit_isTheDocumentedTwoHundred() {
    assertEquals(200, Outbox.LIMIT);
  }
}
