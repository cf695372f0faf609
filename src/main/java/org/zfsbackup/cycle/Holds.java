package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * The holds on a source's incremental bases, one tag per target, so that snapshot pruning on the
 * source cannot break the next incremental. A hold that cannot be placed or released is a
 * {@link Warning}, never a failure: the data is on the target either way.
 */
final class Holds {
  private static final Logger LOG = LoggerFactory.getLogger(Holds.class);
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

  /**
   * Holds the new base of {@code dataset} after {@code step}, then releases the one it replaced:
   * in that order, so that the dataset always has a held base. When the new hold fails, the old
   * one stays.
   */
  Optional<Warning> move(String dataset, ReplicationStep step) {
    String snap = dataset + "@" + step.to().name();
    ProcessResult h = run(ZfsCommands.hold(tag, snap));
    if (!h.ok() && !h.stderrTail().contains("tag already exists")) {
      Warning w = holdFailed(dataset, snap, h);
      if (step instanceof ReplicationStep.Incremental inc) {
        String old = dataset + "@" + inc.from().name();
        String msg = w.message() + "; the hold on " + old + " stays in place";
        w = new Warning(dataset, w.kind(), msg, h);
      }
      return Optional.of(w);
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

  /**
   * Releases this tag's holds on the snapshots of {@code keep}'s datasets that are not to be
   * kept (no longer a base): those the listing shows held by anyone are asked about with
   * {@code zfs holds} (OpenZFS; a batch per call), and those carrying this tag released. Other
   * tags are never touched. Where {@code zfs holds} does not exist (zfs-fuse), nothing is
   * released and one line is logged per host.
   *
   * @param keep per dataset that ended this phase sent or up to date, the snapshots whose holds
   *     stay (its base, and the one {@link #move} already dealt with)
   */
  List<Warning> releaseStale(Map<String, Set<String>> keep, ZfsListing listing) {
    List<String> candidates = new ArrayList<>();
    keep.forEach(
        (dataset, kept) ->
            listing.held(dataset).stream()
                .filter(s -> !kept.contains(s))
                .sorted()
                .forEach(s -> candidates.add(dataset + "@" + s)));
    List<Warning> warnings = new ArrayList<>();
    if (candidates.isEmpty() || NO_HOLDS_COMMAND.contains(source.label())) {
      return warnings;
    }
    List<String> stale = new ArrayList<>();
    for (int i = 0; i < candidates.size(); i += HOLD_BATCH) {
      List<String> batch = candidates.subList(i, Math.min(candidates.size(), i + HOLD_BATCH));
      ProcessResult r = run(ZfsCommands.holds(batch));
      if (!r.ok()) {
        if (noHoldsCommand(r)) {
          if (NO_HOLDS_COMMAND.add(source.label())) {
            LOG.info("{}: this zfs has no `zfs holds` (zfs-fuse): holds that are no longer a base"
                + " are not looked for", source.label());
          }
          return warnings;
        }
        String dataset = batch.get(0).substring(0, batch.get(0).indexOf('@'));
        String msg = "could not list the holds of " + batch.size() + " snapshot(s) to release"
            + " those no longer a base: " + r.describe();
        warnings.add(new Warning(dataset, ErrorKind.RELEASE_FAILED, msg, r));
        continue;
      }
      stale.addAll(tagged(r.stdout(), tag));
    }
    for (int i = 0; i < stale.size(); i += HOLD_BATCH) {
      List<String> batch = stale.subList(i, Math.min(stale.size(), i + HOLD_BATCH));
      ProcessResult rel = run(ZfsCommands.release(tag, batch));
      if (rel.ok()) {
        LOG.info("{}: released the holds {} on {} snapshot(s) that are no longer a base",
            source.label(), tag, batch.size());
      } else {
        String dataset = batch.get(0).substring(0, batch.get(0).indexOf('@'));
        String msg = "could not release the holds on snapshots that are no longer a base: "
            + rel.describe();
        warnings.add(new Warning(dataset, ErrorKind.RELEASE_FAILED, msg, rel));
      }
    }
    return warnings;
  }

  /** Hosts whose zfs has no {@code holds} subcommand, logged once. */
  private static final Set<String> NO_HOLDS_COMMAND = ConcurrentHashMap.newKeySet();

  /**
   * zfs-fuse: {@code zfs holds} is a Python script it does not ship; it says so on stdout
   * ("internal error: /usr/lib/zfs/pyzfs.py not found", exit 255). A zfs without the subcommand
   * at all says "unrecognized command 'holds'".
   */
  static boolean noHoldsCommand(ProcessResult r) {
    String said = r.stderrTail() + "\n" + r.stdout();
    return said.contains("pyzfs.py not found") || said.contains("unrecognized command 'holds'");
  }

  /**
   * The snapshots of {@code zfs holds -H} output ({@code snapshot TAB tag TAB time} per line)
   * that carry {@code tag}.
   */
  static List<String> tagged(String holdsOutput, String tag) {
    List<String> snaps = new ArrayList<>();
    for (String line : holdsOutput.split("\n")) {
      String[] f = line.split("\t");
      if (f.length >= 2 && f[1].equals(tag) && !snaps.contains(f[0])) {
        snaps.add(f[0]);
      }
    }
    return snaps;
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
