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
        List.of(new Message("t/error", "e1"), new Message("t/event", "v1")), outbox.drain());
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
    assertEquals(List.of(new Message("t/error", "e1")), first, "a drained list does not change");
    assertEquals(List.of(new Message("t/error", "e2")), outbox.drain());
  }

  @Test
  void limit_isTheDocumentedTwoHundred() {
    assertEquals(200, Outbox.LIMIT);
  }
}
