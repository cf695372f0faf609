package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CycleControlTest {
  /**
   * The cycle registers the end of its short commands first, the streams theirs as they start. A
   * forced stop runs them in that order, so a short command a transfer starts once its stream is
   * dead (the target listed again after a cut -I, to move the source hold) is not ended as well.
   * With a hash set, the order was any: SIGTERM once left a cut stream's new base unheld.
   */
  @Test
  void stop_forced_runsTheKillersInTheOrderTheyCame() {
    CycleControl control = new CycleControl();
    List<Integer> ran = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      int n = i;
      control.register(() -> ran.add(n));
    }
    Runnable gone = () -> ran.add(-1);
    control.register(gone);
    control.unregister(gone);

    control.stop(CycleControl.StopReason.INTERRUPT, true);

    List<Integer> expected = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      expected.add(i);
    }
    assertEquals(expected, ran);

    control.stop(CycleControl.StopReason.INTERRUPT, true);
    assertEquals(expected, ran, "a second forced stop (SIGTERM after a forced cancel) runs none");
    control.register(() -> ran.add(99));
    assertEquals(99, ran.get(ran.size() - 1), "a stream that starts after it is killed at once");
  }
}
