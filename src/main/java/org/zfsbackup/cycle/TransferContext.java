package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.zfs.Endpoint;

/**
 * Everything one {@link Transfer} needs, fixed for its run: what every transfer of the cycle
 * shares, and the route from one source side to one target side.
 */
record TransferContext(Scope scope, Route route) {

  /** Resumable receives: the setting, and the target's zfs has them. */
  boolean resumable() {
    return scope.resumable() && route.target().resumable();
  }

  /**
   * What every transfer of one cycle shares.
   *
   * @param dryRun plan only: list both sides, decide, change nothing
   * @param shortTimeout the bound of every short command (listing, create, set, hold, estimate)
   * @param stallTimeout a stream that moves no byte for this long is killed
   * @param holds whether incremental bases are held on the source
   * @param resumable {@code replication.resumable}: receive with {@code -s} and resume interrupted
   *     receives, where the target's zfs can
   */
  record Scope(
      String cycleId,
      boolean dryRun,
      EventSink sink,
      CycleControl control,
      ProcessRunner runner,
      Duration shortTimeout,
      Duration stallTimeout,
      boolean holds,
      boolean resumable) {

    /** A short {@code zfs} command on {@code side}, bounded by {@link #shortTimeout}. */
    ProcessResult run(Endpoint side, List<String> zfsArgs) {
      return runner.run(side.zfs(zfsArgs), shortTimeout);
    }
  }

  /**
   * From one source side to one target side; pull and push differ only here.
   *
   * @param sourceName the source's name in events and reports ({@code local} for the push)
   * @param roots the configured datasets of the source side, each with its children
   * @param only the roots a limited run is limited to; null when it is not limited
   * @param mapping a source dataset's name on the target
   * @param receiveOptions appended to every {@code zfs receive}
   * @param raw {@code zfs send -w}
   * @param holdTag the tag of the holds on the source's incremental bases
   * @param heldBack source datasets not to send this cycle, each with the reason (the push holds
   *     back a backup copy its pull refused: see {@code CycleRules.heldBack})
   * @param notThereYet in a dry run, roots that do not exist yet because the pull would create
   *     them, each with the reason: skipped, not missing (see {@code CycleRules.notThereYet})
   */
  record Route(
      Phase phase,
      String sourceName,
      Endpoint source,
      List<String> roots,
      Set<String> only,
      TargetSide target,
      UnaryOperator<String> mapping,
      List<String> receiveOptions,
      boolean raw,
      String holdTag,
      Map<String, String> heldBack,
      Map<String, String> notThereYet) {}
}
