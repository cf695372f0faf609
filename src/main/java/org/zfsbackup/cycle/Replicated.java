package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.zfsbackup.cycle.CycleReport.DatasetResult;

/**
 * What became of one dataset in a {@link Transfer}.
 *
 * @param unheldBase an up-to-date base snapshot without any hold, to be held; or null
 * @param keep the snapshots whose holds stay (the base after this cycle, the one the hold moved
 *     from; for a failed step, the part the target kept: {@link TransferHolds#partly}); null when
 *     the base is not known (the dataset failed with nothing kept, or did not end at all)
 * @param move the base that moved (to be held, the old one released); or null
 */
record Replicated(
    DatasetResult result,
    List<Warning> warnings,
    String unheldBase,
    Set<String> keep,
    Holds.Move move) {
  static Replicated of(DatasetResult result) {
    return new Replicated(result, List.of(), null, null, null);
  }

  /** This, with what came before it: the resumed bytes and note, and its warnings. */
  Replicated after(Resumes.Before before) {
    List<Warning> all = new ArrayList<>(before.warnings());
    all.addAll(warnings);
    return new Replicated(before.then(result), all, unheldBase, keep, move);
  }

  /** The snapshots whose holds stay after {@code move}: null when nothing moved. */
  static Set<String> kept(Holds.Move move) {
    if (move == null) {
      return null;
    }
    Set<String> kept = new HashSet<>();
    kept.add(HoldAnswers.nameOf(move.held()));
    if (move.released() != null) {
      kept.add(HoldAnswers.nameOf(move.released())); // moved (or, failing that, kept) by Holds
    }
    return kept;
  }
}
