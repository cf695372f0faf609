package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.IntConsumer;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;

/**
 * The holds on a source's incremental bases, one tag per target, so that snapshot pruning on the
 * source cannot break the next incremental. A hold that cannot be placed or released is a
 * {@link Warning}, never a failure: the data is on the target either way.
 */
final class Holds {
  /** Batches per {@code zfs hold} call: well under any command-line limit, ssh's included. */
  static final int HOLD_BATCH = 100;

  private final ProcessRunner runner;
  private final Endpoint source;
  private final String tag;
  private final Duration timeout;

  Holds(ProcessRunner runner, Endpoint source, String tag, Duration timeout) {
    this.runner = runner;
    this.source = source;
    this.tag = tag;
    this.timeout = timeout;
  }

  /** Holds the new base of {@code dataset} after {@code step}; releases the one it replaced. */
  Optional<Warning> move(String dataset, ReplicationStep step) {
    String snap = dataset + "@" + step.to().name();
    ProcessResult h = run(ZfsCommands.hold(tag, snap));
    if (!h.ok() && !h.stderrTail().contains("tag already exists")) {
      return Optional.of(holdFailed(dataset, snap, h));
    }
    if (step instanceof ReplicationStep.Incremental inc) {
      String old = dataset + "@" + inc.from().name();
      ProcessResult rel = run(ZfsCommands.release(tag, old));
      if (!rel.ok() && !rel.stderrTail().contains("no such tag")) {
        String msg = "could not release the old hold on " + old + ": " + rel.describe();
        return Optional.of(new Warning(dataset, ErrorKind.RELEASE_FAILED, msg, rel));
      }
    }
    return Optional.empty();
  }

  /**
   * Holds {@code snapshots}, a batch per call. {@code held} hears of each batch that went
   * through; the warnings are for the snapshots that could not be held.
   */
  List<Warning> holdAll(List<String> snapshots, IntConsumer held) {
    List<Warning> warnings = new ArrayList<>();
    for (int i = 0; i < snapshots.size(); i += HOLD_BATCH) {
      List<String> batch = snapshots.subList(i, Math.min(snapshots.size(), i + HOLD_BATCH));
      ProcessResult h = run(ZfsCommands.hold(tag, batch));
      if (h.ok()) {
        held.accept(batch.size());
        continue;
      }
      for (String snap : notHeld(batch, h.stderrTail())) {
        warnings.add(holdFailed(snap.substring(0, snap.indexOf('@')), snap, h));
      }
    }
    return warnings;
  }

  /**
   * The snapshots of a failed {@code zfs hold} batch that are not held. zfs holds each snapshot
   * on its own and names those it could not hold; when it names none (ssh failed, the tail was
   * cut), every one of the batch is reported. One held meanwhile ({@code tag already exists}) is
   * what we wanted.
   */
  static List<String> notHeld(List<String> batch, String stderr) {
    List<String> named = batch.stream().filter(s -> stderr.contains("'" + s + "'")).toList();
    return (named.isEmpty() ? batch : named)
        .stream()
        .filter(s -> !stderr.contains("'" + s + "': tag already exists"))
        .toList();
  }

  private Warning holdFailed(String dataset, String snap, ProcessResult h) {
    String msg =
        "could not hold "
            + snap
            + " (the next incremental is not protected from pruning): "
            + h.describe();
    return new Warning(dataset, ErrorKind.HOLD_FAILED, msg, h);
  }

  private ProcessResult run(List<String> zfsArgs) {
    return runner.run(source.zfs(zfsArgs), timeout);
  }
}
