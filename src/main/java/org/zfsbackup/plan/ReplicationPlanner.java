package org.zfsbackup.plan;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides which snapshots to send for one dataset. A pure function of the two snapshot lists, in
 * the manner of zrepl's {@code IncrementalPath}.
 *
 * <ul>
 *   <li>Snapshots are ordered by createtxg (each list on its own pool), never by name.
 *   <li>They are matched between the sides by guid; a same-named snapshot with another guid is a
 *       different snapshot.
 *   <li>No snapshot on the target: a full send of the earliest source snapshot, then {@code -I} to
 *       the latest.
 *   <li>Otherwise the base is the latest common snapshot; {@code -I base latest}, or up to date.
 *   <li>Target snapshots newer than the base: diverged. Target snapshots, none in common: no common
 *       snapshot. Both refuse and change nothing.
 * </ul>
 */
public final class ReplicationPlanner {
  private static final Comparator<Snapshot> BY_TXG = Comparator.comparingLong(Snapshot::createtxg);

  private ReplicationPlanner() {}

  /**
   * @param source the source dataset's snapshots, in any order
   * @param target the target dataset's snapshots in any order; empty when it has none or does not
   *     exist
   */
  public static PlanOutcome plan(List<Snapshot> source, List<Snapshot> target) {
    List<Snapshot> src = sorted(source);
    List<Snapshot> dst = sorted(target);
    if (src.isEmpty()) {
      return new PlanOutcome.NoSourceSnapshots();
    }
    Snapshot latest = src.get(src.size() - 1);
    if (dst.isEmpty()) {
      Snapshot earliest = src.get(0);
      List<ReplicationStep> steps = new ArrayList<>();
      steps.add(new ReplicationStep.Full(earliest));
      if (!latest.equals(earliest)) {
        steps.add(new ReplicationStep.Incremental(earliest, latest));
      }
      return new PlanOutcome.Send(steps, null);
    }

    Map<String, Snapshot> targetByGuid = new HashMap<>();
    dst.forEach(s -> targetByGuid.put(s.guid(), s));
    Snapshot base = null;
    for (int i = src.size() - 1; i >= 0 && base == null; i--) {
      if (targetByGuid.containsKey(src.get(i).guid())) {
        base = src.get(i);
      }
    }
    if (base == null) {
      return new PlanOutcome.NoCommonSnapshot(dst);
    }
    long baseTxgOnTarget = targetByGuid.get(base.guid()).createtxg();
    List<Snapshot> newer = dst.stream().filter(s -> s.createtxg() > baseTxgOnTarget).toList();
    if (!newer.isEmpty()) {
      // Said of the target, by the target's name of it (renamed on the source, it has another).
      return new PlanOutcome.Diverged(targetByGuid.get(base.guid()), newer);
    }
    if (base.equals(latest)) {
      return new PlanOutcome.UpToDate(latest);
    }
    return new PlanOutcome.Send(List.of(new ReplicationStep.Incremental(base, latest)), base);
  }

  private static List<Snapshot> sorted(List<Snapshot> snapshots) {
    List<Snapshot> copy = new ArrayList<>(snapshots);
    copy.sort(BY_TXG);
    return copy;
  }
}
