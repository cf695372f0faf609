package org.zfsbackup.plan;

import java.util.List;
import java.util.stream.Collectors;

/**
 * What the planner decided for one dataset. Expected situations are values, not exceptions; the
 * refusals ({@link Diverged}, {@link NoCommonSnapshot}) change nothing on the target.
 */
public sealed interface PlanOutcome {

  /**
   * Send these steps in order. {@code base} is the common snapshot they start from, or null for a
   * first send.
   */
  record Send(List<ReplicationStep> steps, Snapshot base) implements PlanOutcome {
    public Send {
      steps = List.copyOf(steps);
    }

    /** The snapshots it puts on the target, of {@code source}'s: all after the base. */
    public List<Snapshot> carried(List<Snapshot> source) {
      long after = base == null ? Long.MIN_VALUE : base.createtxg();
      return source.stream().filter(s -> s.createtxg() > after).toList();
    }

    @Override
    public String toString() {
      return steps.stream().map(Object::toString).collect(Collectors.joining(", "));
    }
  }

  /** The latest source snapshot is already on the target. */
  record UpToDate(Snapshot latest) implements PlanOutcome {
    @Override
    public String toString() {
      return "up to date at " + latest;
    }
  }

  /** The source dataset has no snapshot to send. */
  record NoSourceSnapshots() implements PlanOutcome {
    @Override
    public String toString() {
      return "no source snapshots";
    }
  }

  /** The target has snapshots newer than the common base: receiving would destroy them. */
  record Diverged(Snapshot base, List<Snapshot> newerOnTarget) implements PlanOutcome {
    public Diverged {
      newerOnTarget = List.copyOf(newerOnTarget);
    }

    @Override
    public String toString() {
      return "diverged: the target has "
          + newerOnTarget.stream().map(Object::toString).collect(Collectors.joining(", "))
          + " newer than the common snapshot "
          + base
          + " and not on the source (taken on the target, or pruned on the source, or the source"
          + " rolled back, after it was received); nothing was changed (roll the target back to "
          + base
          + " or move it aside to resume; README, Troubleshooting)";
    }
  }

  /** The target has snapshots, but none with a guid the source has. */
  record NoCommonSnapshot(List<Snapshot> targetSnapshots) implements PlanOutcome {
    public NoCommonSnapshot {
      targetSnapshots = List.copyOf(targetSnapshots);
    }

    @Override
    public String toString() {
      List<Snapshot> shown =
          targetSnapshots.size() > 5
              ? targetSnapshots.subList(targetSnapshots.size() - 5, targetSnapshots.size())
              : targetSnapshots;
      return "no common snapshot: the target has "
          + targetSnapshots.size()
          + " snapshot(s) ("
          + (shown.size() < targetSnapshots.size() ? "..., " : "")
          + shown.stream().map(Object::toString).collect(Collectors.joining(", "))
          + ") and none matches a source snapshot by guid; nothing was changed";
    }
  }
}
