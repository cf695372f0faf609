package org.zfsbackup.cycle;

import java.util.List;
import java.util.function.Predicate;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;

/** Finds what the cycle tests assert on in a report and in the events a cycle sent. */
final class CycleResults {
  private CycleResults() {}

  /** The first result for {@code dataset}, in either phase. */
  static DatasetResult result(CycleReport r, String dataset) {
    return first(r, d -> d.dataset().equals(dataset), dataset);
  }

  /** The result for {@code dataset} in {@code phase}. */
  static DatasetResult result(CycleReport r, Phase phase, String dataset) {
    return first(
        r, d -> d.phase() == phase && d.dataset().equals(dataset), phase.wire() + " " + dataset);
  }

  private static DatasetResult first(CycleReport r, Predicate<DatasetResult> which, String what) {
    return r.datasets().stream()
        .filter(which)
        .findFirst()
        .orElseThrow(() -> new AssertionError(what + " not in " + r.datasets()));
  }

  /** The error events among {@code events}, in order. */
  static List<CycleEvent.Error> errors(List<CycleEvent> events) {
    synchronized (events) {
      return events.stream()
          .filter(e -> e instanceof CycleEvent.Error)
          .map(e -> (CycleEvent.Error) e)
          .toList();
    }
  }
}
