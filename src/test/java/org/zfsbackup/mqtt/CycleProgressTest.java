package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;

/** The whole-cycle percent: steps that ended, plus the one in flight by its estimate. */
class CycleProgressTest {
  static CycleEvent.Progress p(Phase phase, String dataset, StepStatus status, Double percent) {
    return new CycleEvent.Progress(
        "c1", phase, "src", dataset, "t/" + dataset, null, "s1", status, 0, 100L, 0, percent, null);
  }

  /** As retention emits it, after both phases. */
  static CycleEvent.Progress pruned(Phase phase, String dataset) {
    return new CycleEvent.Progress(
        "c1",
        phase,
        "src",
        dataset,
        "t/" + dataset,
        null,
        null,
        StepStatus.PRUNED,
        0,
        null,
        0,
        null,
        "destroyed 1 snapshot(s): @s0",
        List.of("s0"));
  }

  // Catches: a percent that counts bytes of one dataset as the whole cycle, or ignores the estimate
  // of the dataset in flight, or goes past 100.
  @Test
  void percent_endedStepsPlusTheOneInFlight_overTheExpectedSteps() {
    CycleProgress c = new CycleProgress("c1", 4);
    assertEquals(0.0, c.percent());
    c.update(p(Phase.PULL, "a", StepStatus.STARTED, 0.0));
    c.update(p(Phase.PULL, "a", StepStatus.STREAMING, 50.0));
    assertEquals(12.5, c.percent());
    c.update(p(Phase.PULL, "a", StepStatus.DONE, 100.0));
    assertEquals(25.0, c.percent());
    c.update(p(Phase.PULL, "b", StepStatus.SKIPPED, null));
    c.update(p(Phase.PUSH, "a", StepStatus.FAILED, null));
    assertEquals(75.0, c.percent());
    c.update(p(Phase.PUSH, "b", StepStatus.STREAMING, null)); // no estimate: counts 0 until done
    assertEquals(75.0, c.percent());
    c.update(p(Phase.PUSH, "b", StepStatus.DONE, null));
    assertEquals(100.0, c.percent());
    assertEquals(4, c.payload().get("datasets_done").asInt());
    assertEquals("b", c.payload().get("dataset").asText());
    assertEquals("push", c.payload().get("phase").asText());
  }

  @Test
  void percent_moreStepsThanExpected_raisesTheTotalAndNeverPasses100() {
    CycleProgress c = new CycleProgress("c1", 1);
    c.update(p(Phase.PULL, "a", StepStatus.DONE, 100.0));
    c.update(p(Phase.PULL, "b", StepStatus.STARTED, null));
    // The published count is raised too (docs/mqtt.md), not only the percent's denominator.
    assertEquals(2, c.payload().get("datasets_expected").asInt());
    c.update(p(Phase.PULL, "b", StepStatus.STREAMING, 50.0));
    assertEquals(100.0, c.percent(), "never back: (1 + 0.5) / 2 would be 75");
    c.update(p(Phase.PULL, "b", StepStatus.DONE, 100.0));
    assertEquals(100.0, c.percent());
  }

  // Catches: Cycle progress going back (100 % -> 66.7 %) when a new dataset makes the cycle longer
  // than the last full one.
  @Test
  void percent_moreStepsThanExpected_neverGoesBack() {
    CycleProgress c = new CycleProgress("c1", 3);
    c.update(p(Phase.PULL, "a", StepStatus.DONE, 100.0));
    c.update(p(Phase.PULL, "b", StepStatus.DONE, 100.0));
    assertEquals(66.7, c.percent());
    c.update(p(Phase.PULL, "c", StepStatus.DONE, 100.0));
    c.update(p(Phase.PULL, "d", StepStatus.STARTED, 0.0));
    assertEquals(100.0, c.percent(), "not 75: the fourth step is one more than expected");
    c.update(p(Phase.PULL, "d", StepStatus.DONE, 100.0));
    c.update(p(Phase.PULL, "e", StepStatus.STARTED, 0.0));
    assertEquals(100.0, c.percent());
    assertEquals(5, c.payload().get("datasets_expected").asInt());
  }

  // Catches: the incremental step's start taking the dataset out of the ended steps, which made
  // the percent (Home Assistant's Cycle progress bar) go back, e.g. 28.6 % -> 21.4 %.
  @Test
  void percent_twoStepsOfOneDataset_countItOnce_neverGoesBack() {
    CycleProgress c = new CycleProgress("c1", 2);
    c.update(p(Phase.PULL, "a", StepStatus.DONE, 100.0)); // full send
    assertEquals(50.0, c.percent());
    c.update(p(Phase.PULL, "a", StepStatus.STARTED, 0.0)); // then the incremental
    c.update(p(Phase.PULL, "a", StepStatus.STREAMING, 50.0));
    assertEquals(50.0, c.percent());
    c.update(p(Phase.PULL, "a", StepStatus.DONE, 100.0));
    assertEquals(50.0, c.percent());
    assertEquals(1, c.payload().get("datasets_done").asInt());
    assertEquals(2, c.payload().get("datasets_expected").asInt());
  }

  // Catches: a pruned event (same phase, source and dataset as the step that already ended) taken
  // for that step in flight again, which took it out of the ended steps and dropped the percent.
  @Test
  void percent_prunedAfterTheSteps_changesNoCount() {
    CycleProgress c = new CycleProgress("c1", 2);
    c.update(p(Phase.PULL, "a", StepStatus.DONE, 100.0));
    c.update(p(Phase.PULL, "b", StepStatus.DONE, 100.0));
    assertEquals(100.0, c.percent());
    c.update(pruned(Phase.PULL, "a"));
    c.update(pruned(Phase.PULL, "b"));
    assertEquals(100.0, c.percent());
    assertEquals(2, c.payload().get("datasets_done").asInt());
    assertEquals("b", c.payload().get("dataset").asText());
    assertEquals("pruned", c.payload().get("status").asText());
  }

  @Test
  void percent_noEarlierCycle_isUnknown() {
    CycleProgress c = new CycleProgress("c1", null);
    c.update(p(Phase.PULL, "a", StepStatus.DONE, 100.0));
    assertNull(c.percent());
    assertEquals(true, c.payload().get("percent").isNull());
  }
}
