package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.Set;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.StepStatus;

/**
 * Progress over a whole cycle, for {@code T/cycle_progress}: the share of the cycle's dataset steps
 * (a dataset in one phase) that ended, the one in flight counting by its own estimate ({@code bytes
 * / total_bytes} of {@code zfs send -nP}).
 *
 * <p>Why not bytes over the cycle's estimated bytes: no such total exists when a cycle starts. The
 * engine lists each source only when it reaches it and estimates each step just before sending it,
 * and the push phase sends what the pull phase has just received. So the number of steps to expect
 * is the last real cycle's {@code datasets.total} (nightly cycles repeat themselves), raised to
 * what this cycle has seen when it has more; with no earlier cycle it is unknown and so is the
 * percent. Not thread-safe: used on the agent's context only.
 */
final class CycleProgress {
  private final String cycleId;
  private final Integer expected;
  private final Set<String> ended = new HashSet<>();
  private String current;
  private double currentFraction;
  private CycleEvent.Progress last;
  private double highest;

  /**
   * @param expected steps the cycle is expected to have; null when unknown
   */
  CycleProgress(String cycleId, Integer expected) {
    this.cycleId = cycleId;
    this.expected = expected == null || expected <= 0 ? null : expected;
  }

  /**
   * Takes in one engine progress event. A {@code pruned} one only becomes the latest event of the
   * payload: it is no dataset step and leaves the counts alone.
   */
  void update(CycleEvent.Progress p) {
    String key = p.phase() + "|" + p.source() + "|" + p.dataset();
    last = p;
    if (p.status() == StepStatus.PRUNED) {
      // Retention after both phases, on a dataset whose step already ended: not a step of its own.
      return;
    }
    if (p.status() == StepStatus.DONE
        || p.status() == StepStatus.SKIPPED
        || p.status() == StepStatus.FAILED) {
      ended.add(key);
      if (key.equals(current)) {
        current = null;
        currentFraction = 0;
      }
    } else if (!ended.contains(key)) {
      // A dataset sent in two steps (full, then incremental) counts as ended at the end of its
      // first: the percent of a cycle never goes back (Home Assistant draws it as a bar).
      current = key;
      currentFraction = p.percent() == null ? 0 : Math.min(1.0, p.percent() / 100.0);
    }
    percent(); // what the percent reached counts, published or not (the throttle drops some)
  }

  /**
   * Percent over the cycle, one decimal; null when the number of steps is unknown. Never below what
   * it was: when the cycle has more steps than expected (a new dataset), the total grows, and the
   * percent waits for the steps to catch up rather than going back.
   */
  Double percent() {
    Integer total = total();
    if (total == null) {
      return null;
    }
    double done = ended.size() + currentFraction;
    highest = Math.max(highest, Math.min(100.0, Math.round(done * 1000.0 / total) / 10.0));
    return highest;
  }

  /** The steps expected, raised to those this cycle has seen when it has more; null if unknown. */
  private Integer total() {
    int seen = ended.size() + (current == null ? 0 : 1);
    return expected == null ? null : Math.max(expected, seen);
  }

  /** {@code T/cycle_progress}. */
  ObjectNode payload() {
    ObjectNode n = Payloads.JSON.createObjectNode();
    n.put("cycle_id", cycleId);
    n.put("percent", percent());
    n.put("datasets_done", ended.size());
    n.put("datasets_expected", total());
    n.put("phase", last == null || last.phase() == null ? null : last.phase().wire());
    n.put("source", last == null ? null : last.source());
    n.put("dataset", last == null ? null : last.dataset());
    n.put("status", last == null ? null : last.status().wire());
    return n;
  }
}
