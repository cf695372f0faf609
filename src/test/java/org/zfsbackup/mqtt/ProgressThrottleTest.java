package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.Progress;
import org.zfsbackup.event.CycleEvent.StepStatus;

class ProgressThrottleTest {
  final ProgressThrottle throttle = new ProgressThrottle(2000);

  static Progress p(String dataset, StepStatus status) {
    return new Progress(
        "c1", Phase.PULL, "s", dataset, "t", null, "b", status, 10, null, 1, null, null);
  }

  @Test
  void admit_streamingEverySecond_admitsEveryTwoSeconds() {
    assertTrue(throttle.admit(p("a", StepStatus.STARTED), 0));
    assertFalse(throttle.admit(p("a", StepStatus.STREAMING), 1000));
    assertTrue(throttle.admit(p("a", StepStatus.STREAMING), 2000));
    assertFalse(throttle.admit(p("a", StepStatus.STREAMING), 3000));
    assertTrue(throttle.admit(p("a", StepStatus.STREAMING), 4000));
  }

  @Test
  void admit_startAndEnd_alwaysAdmitted() {
    assertTrue(throttle.admit(p("a", StepStatus.STARTED), 0));
    assertTrue(throttle.admit(p("a", StepStatus.DONE), 10));
    assertTrue(throttle.admit(p("b", StepStatus.STARTED), 20));
    assertTrue(throttle.admit(p("b", StepStatus.FAILED), 30));
    assertTrue(throttle.admit(p("c", StepStatus.SKIPPED), 40));
  }

  @Test
  void admit_twoDatasets_throttledSeparately() {
    assertTrue(throttle.admit(p("a", StepStatus.STREAMING), 0));
    assertTrue(throttle.admit(p("b", StepStatus.STREAMING), 500));
    assertFalse(throttle.admit(p("a", StepStatus.STREAMING), 1000));
  }
}
