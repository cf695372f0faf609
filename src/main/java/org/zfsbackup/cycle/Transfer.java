package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.plan.PlanOutcome;
import org.zfsbackup.plan.ReplicationPlanner;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.zfs.DatasetName;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * Replicates the configured datasets of one source side into one target side: list the source once,
 * expand and order the datasets, then plan and send each on its own. Pull and push are both
 * Transfers; only the endpoints and the path mapping differ.
 */
final class Transfer {
  private static final Logger LOG = LoggerFactory.getLogger(Transfer.class);

  private final BackupCycle cycle;
  private final CycleRequest request;
  private final EventSink sink;
  private final CycleControl control;
  private final Phase phase;
  private final String sourceName;
  private final Endpoint source;
  private final List<String> roots;
  private final Set<String> only;
  private final TargetSide target;
  private final UnaryOperator<String> mapping;
  private final List<String> receiveOptions;
  private final boolean raw;
  private final String holdTag;
  private final ProcessRunner runner;
  private final Duration shortTimeout;

  Transfer(
      BackupCycle cycle,
      CycleRequest request,
      EventSink sink,
      CycleControl control,
      Phase phase,
      String sourceName,
      Endpoint source,
      List<String> roots,
      Set<String> only,
      TargetSide target,
      UnaryOperator<String> mapping,
      List<String> receiveOptions,
      boolean raw,
      String holdTag) {
    this.cycle = cycle;
    this.request = request;
    this.sink = sink;
    this.control = control;
    this.phase = phase;
    this.sourceName = sourceName;
    this.source = source;
    this.roots = roots;
    this.only = only;
    this.target = target;
    this.mapping = mapping;
    this.receiveOptions = receiveOptions;
    this.raw = raw;
    this.holdTag = holdTag;
    this.runner = cycle.runner();
    var rc = cycle.config().replication();
    this.shortTimeout = rc.connectTimeout().plus(rc.commandTimeout());
  }

  List<DatasetResult> run(List<String> warnings) {
    List<String> listRoots = only == null ? roots : roots.stream().filter(r -> only.stream().anyMatch(o -> DatasetName.isWithin(o, r) || DatasetName.isWithin(r, o))).toList();
    if (listRoots.isEmpty()) {
      return List.of();
    }
    if (control.stopRequested()) {
      return listRoots.stream().map(r -> skipped(r, notStarted())).toList();
    }
    // One process lists every configured dataset of this side, children and snapshots included.
    ProcessResult r = runner.run(source.zfs(ZfsCommands.list(listRoots)), shortTimeout);
    if (!r.ok() && !Listings.onlyMissing(r, listRoots)) {
      String kind = r.exitCode() == Listings.SSH_FAILURE || r.timedOut() ? "host_unreachable" : "list_failed";
      String msg = "cannot list " + source.label() + ": " + r.describe();
      return listRoots.stream().map(root -> failed(root, mapping.apply(root), kind, msg, r)).toList();
    }
    ZfsListing listing;
    try {
      listing = ZfsListing.parse(r.stdout());
    } catch (ZfsListing.ListingException e) {
      String msg = source.label() + ": " + e.getMessage();
      return listRoots.stream().map(root -> failed(root, mapping.apply(root), "bad_zfs_output", msg, null)).toList();
    }

    List<DatasetResult> results = new ArrayList<>();
    for (String missing : Listings.missingRoots(r)) {
      results.add(failed(missing, mapping.apply(missing), "dataset_missing", missing + " does not exist on " + source.label(), r));
    }
    List<String> datasets = order(listRoots, listing);
    if (only != null) {
      datasets = datasets.stream().filter(d -> BackupCycle.within(d, only)).toList();
    }
    if (!datasets.isEmpty()) {
      Optional<String> targetError = target.ensureListed(runner, shortTimeout);
      if (targetError.isPresent()) {
        for (String d : datasets) {
          results.add(failed(d, mapping.apply(d), "target_unreachable", targetError.get(), null));
        }
        return results;
      }
    }
    List<String> unheldBases = new ArrayList<>();
    for (String d : datasets) {
      if (control.stopRequested()) {
        results.add(skipped(d, notStarted()));
        continue;
      }
      try {
        results.add(replicate(d, listing, warnings, unheldBases));
      } catch (RuntimeException e) {
        LOG.error("unexpected error replicating {}", d, e);
        results.add(failed(d, mapping.apply(d), "internal", "unexpected error: " + e, null));
      }
    }
    holdUpToDateBases(unheldBases, warnings);
    return results;
  }

  /** Batches per {@code zfs hold} call: well under any command-line limit, ssh's included. */
  static final int HOLD_BATCH = 100;

  /**
   * Up-to-date datasets whose base has no hold at all (the first cycle after migrating from a
   * tool without holds, a hold someone released, one that failed before): hold them now, a
   * batch per call, so that pruning on the source cannot break the next incremental. A base
   * held by anyone is left alone: any hold stops {@code zfs destroy}. Costs nothing when every
   * base is held, which is every cycle after the first.
   */
  private void holdUpToDateBases(List<String> snapshots, List<String> warnings) {
    for (int i = 0; i < snapshots.size(); i += HOLD_BATCH) {
      List<String> batch = snapshots.subList(i, Math.min(snapshots.size(), i + HOLD_BATCH));
      ProcessResult h = runner.run(source.zfs(ZfsCommands.hold(holdTag, batch)), shortTimeout);
      if (h.ok()) {
        LOG.info("{} {}: held {} up-to-date base snapshot(s) that had no hold", phase.wire(), sourceName, batch.size());
        continue;
      }
      // zfs holds each snapshot on its own and names those it could not hold; when it names
      // none (ssh failed, the tail was cut), every one of the batch is reported.
      String err = h.stderrTail();
      List<String> named = batch.stream().filter(snap -> err.contains("'" + snap + "'")).toList();
      for (String snap : named.isEmpty() ? batch : named) {
        if (err.contains("'" + snap + "': tag already exists")) {
          continue; // held meanwhile: what we wanted
        }
        warn(snap.substring(0, snap.indexOf('@')), "hold_failed",
            "could not hold " + snap + " (the next incremental is not protected from pruning): " + h.describe(), h, warnings);
      }
    }
  }

  /**
   * Expands each root to itself and its children, removes duplicates keeping first-seen order, and
   * puts every dataset after its parent (when the parent is replicated too).
   */
  static List<String> order(List<String> roots, ZfsListing listing) {
    Set<String> seen = new LinkedHashSet<>();
    for (String root : roots) {
      seen.addAll(listing.expand(root));
    }
    Set<String> ordered = new LinkedHashSet<>();
    for (String d : seen) {
      addWithParents(d, seen, ordered);
    }
    return List.copyOf(ordered);
  }

  private static void addWithParents(String d, Set<String> all, Set<String> ordered) {
    if (ordered.contains(d)) {
      return;
    }
    DatasetName.parent(d).filter(all::contains).ifPresent(p -> addWithParents(p, all, ordered));
    ordered.add(d);
  }

  private DatasetResult replicate(String dataset, ZfsListing listing, List<String> warnings, List<String> unheldBases) {
    String dst = mapping.apply(dataset);
    boolean targetExists = target.exists(dst);
    var targetSnaps = targetExists ? target.listing().snapshots(dst) : List.<org.zfsbackup.plan.Snapshot>of();
    PlanOutcome plan = ReplicationPlanner.plan(listing.snapshots(dataset), targetSnaps);
    if (plan instanceof PlanOutcome.NoSourceSnapshots) {
      return skipped(dataset, dst, "no snapshots on the source: nothing to send");
    }
    if (plan instanceof PlanOutcome.Diverged || plan instanceof PlanOutcome.NoCommonSnapshot) {
      String kind = plan instanceof PlanOutcome.Diverged ? "diverged" : "no_common_snapshot";
      return failed(dataset, dst, kind, dst + ": " + plan, null, plan.toString());
    }
    if (plan instanceof PlanOutcome.UpToDate up) {
      if (!request.dryRun()) {
        ensureCanmountOff(dst, warnings);
        if (cycle.config().replication().holds() && listing.unheld(dataset, up.latest().name())) {
          unheldBases.add(dataset + "@" + up.latest().name());
        }
      }
      progress(dataset, dst, up.latest().name(), up.latest().name(), StepStatus.DONE, 0, null, 0, "up to date");
      return new DatasetResult(phase, sourceName, dataset, dst, Status.UP_TO_DATE, 0, plan.toString(), null);
    }
    PlanOutcome.Send send = (PlanOutcome.Send) plan;
    if (request.dryRun()) {
      progress(dataset, dst, null, null, StepStatus.SKIPPED, 0, null, 0, "dry run: would send " + send);
      return new DatasetResult(phase, sourceName, dataset, dst, Status.SENT, 0, "would send " + send, null);
    }

    for (String parent : target.missingParents(dst)) {
      ProcessResult c = runner.run(target.endpoint.zfs(ZfsCommands.createParent(parent)), shortTimeout);
      if (!c.ok() && !c.stderrTail().contains("dataset already exists")) {
        return failed(dataset, dst, "create_failed", "cannot create the parent " + parent + ": " + c.describe(), c, send.toString());
      }
      target.created(parent);
    }

    long total = 0;
    for (ReplicationStep step : send.steps()) {
      String from = step instanceof ReplicationStep.Incremental inc ? inc.from().name() : null;
      String to = step.to().name();
      if (control.forced()) {
        return failed(dataset, dst, "interrupted", "stopped before " + step + " by a forced stop", null, send.toString());
      }
      Long estimate = estimate(dataset, step);
      progress(dataset, dst, from, to, StepStatus.STARTED, 0, estimate, 0, step.toString());
      long stepStart = System.nanoTime();
      PipeResult pr =
          runner.pipe(
              source.zfs(ZfsCommands.send(dataset, step, raw)),
              target.endpoint.zfs(ZfsCommands.receive(dst, receiveOptions)),
              bytes -> progress(dataset, dst, from, to, StepStatus.STREAMING, bytes, estimate, rate(bytes, stepStart), null),
              cycle.config().replication().stallTimeout(),
              control);
      total += pr.bytes();
      if (!pr.ok()) {
        DatasetResult failure = streamFailed(dataset, dst, step, pr, total, send.toString());
        // The one end-of-step progress for this step: with its snapshots and the bytes moved.
        progress(dataset, dst, from, to, StepStatus.FAILED, pr.bytes(), estimate, rate(pr.bytes(), stepStart), failure.message());
        return failure;
      }
      target.created(dst);
      progress(dataset, dst, from, to, StepStatus.DONE, pr.bytes(), estimate, rate(pr.bytes(), stepStart), step.toString());
      LOG.info("{} {}: {} -> {}: {} ({} bytes)", phase.wire(), sourceName, dataset, dst, step, pr.bytes());
      moveHold(dataset, step, warnings);
    }
    ensureCanmountOff(dst, warnings);
    return new DatasetResult(phase, sourceName, dataset, dst, Status.SENT, total, send.toString(), null);
  }

  /** Best effort: OpenZFS's {@code send -nP} size; null where it is not supported (zfs-fuse). */
  private Long estimate(String dataset, ReplicationStep step) {
    ProcessResult r = runner.run(source.zfs(ZfsCommands.estimate(dataset, step, raw)), shortTimeout);
    if (!r.ok()) {
      LOG.debug("no size estimate for {}: {}", dataset, r.describe());
      return null;
    }
    long size = ZfsCommands.parseEstimate(r.stdout() + "\n" + r.stderrTail());
    return size < 0 ? null : size;
  }

  /** Holds the new base on the source so pruning cannot break the next incremental; releases the old one. */
  private void moveHold(String dataset, ReplicationStep step, List<String> warnings) {
    if (!cycle.config().replication().holds()) {
      return;
    }
    String snap = dataset + "@" + step.to().name();
    ProcessResult h = runner.run(source.zfs(ZfsCommands.hold(holdTag, snap)), shortTimeout);
    if (!h.ok() && !h.stderrTail().contains("tag already exists")) {
      warn(dataset, "hold_failed", "could not hold " + snap + " (the next incremental is not protected from pruning): " + h.describe(), h, warnings);
      return;
    }
    if (step instanceof ReplicationStep.Incremental inc) {
      String old = dataset + "@" + inc.from().name();
      ProcessResult rel = runner.run(source.zfs(ZfsCommands.release(holdTag, old)), shortTimeout);
      if (!rel.ok() && !rel.stderrTail().contains("no such tag")) {
        warn(dataset, "release_failed", "could not release the old hold on " + old + ": " + rel.describe(), rel, warnings);
      }
    }
  }

  private void ensureCanmountOff(String dst, List<String> warnings) {
    Optional<String> known = target.listing() == null ? Optional.empty() : target.listing().dataset(dst).flatMap(ZfsListing.Dataset::canmount);
    if (known.isPresent() && known.get().equals("off")) {
      return;
    }
    if (target.listing() != null && target.listing().contains(dst) && known.isEmpty()) {
      return; // a volume: no canmount
    }
    ProcessResult r = runner.run(target.endpoint.zfs(ZfsCommands.canmountOff(dst)), shortTimeout);
    if (!r.ok()) {
      warn(dst, "canmount_failed", "could not set canmount=off on " + dst + ": " + r.describe(), r, warnings);
    }
  }

  private DatasetResult streamFailed(String dataset, String dst, ReplicationStep step, PipeResult pr, long total, String plan) {
    String kind;
    String why;
    ProcessResult blamed;
    if (pr.killed()) {
      kind = "interrupted";
      why = "killed by a forced stop";
      blamed = null;
    } else if (pr.stalled()) {
      kind = "stalled";
      why = "no byte moved for " + cycle.config().replication().stallTimeout().toSeconds() + " s; the stream was killed";
      blamed = null;
    } else if (!pr.send().ok() && (pr.receive().ok() || pr.receive().stderrTail().isBlank() || pr.send().exitCode() == Listings.SSH_FAILURE)) {
      kind = pr.send().exitCode() == Listings.SSH_FAILURE ? "host_unreachable" : "send_failed";
      why = "send failed: " + pr.send().describe();
      blamed = pr.send();
    } else {
      kind = "receive_failed";
      why = "receive failed: " + pr.receive().describe() + (pr.send().ok() ? "" : "; send: " + pr.send().describe());
      blamed = pr.receive();
    }
    String msg = dataset + " -> " + dst + ": " + step + " " + why + " after " + pr.bytes() + " bytes";
    reportFailure(dataset, kind, msg, blamed);
    return new DatasetResult(phase, sourceName, dataset, dst, Status.FAILED, total, plan, msg);
  }

  private DatasetResult failed(String dataset, String dst, String kind, String message, ProcessResult r) {
    return failed(dataset, dst, kind, message, r, null);
  }

  private DatasetResult failed(String dataset, String dst, String kind, String message, ProcessResult r, String plan) {
    reportFailure(dataset, kind, message, r);
    progress(dataset, dst, null, null, StepStatus.FAILED, 0, null, 0, message);
    return new DatasetResult(phase, sourceName, dataset, dst, Status.FAILED, 0, plan, message);
  }

  /** The log line and the error event of a failed dataset; its progress is the caller's. */
  private void reportFailure(String dataset, String kind, String message, ProcessResult r) {
    LOG.error("{} {}: {} failed ({}): {}", phase.wire(), sourceName, dataset, kind, message);
    sink.accept(
        new CycleEvent.Error(
            request.cycleId(), kind, phase, sourceName, dataset, message,
            r == null || r.startFailed() || r.timedOut() ? null : r.exitCode(),
            r == null || r.stderrTail().isBlank() ? null : r.stderrTail()));
  }

  private DatasetResult skipped(String dataset, String why) {
    return skipped(dataset, mapping.apply(dataset), why);
  }

  private DatasetResult skipped(String dataset, String dst, String why) {
    LOG.info("{} {}: {} skipped: {}", phase.wire(), sourceName, dataset, why);
    progress(dataset, dst, null, null, StepStatus.SKIPPED, 0, null, 0, why);
    return new DatasetResult(phase, sourceName, dataset, dst, Status.SKIPPED, 0, null, why);
  }

  private void warn(String dataset, String kind, String message, ProcessResult r, List<String> warnings) {
    LOG.warn("{} {}: {}: {}", phase.wire(), sourceName, dataset, message);
    warnings.add(message);
    sink.accept(
        new CycleEvent.Error(request.cycleId(), "warning", phase, sourceName, dataset, kind + ": " + message,
            r == null || r.startFailed() || r.timedOut() ? null : r.exitCode(),
            r == null || r.stderrTail().isBlank() ? null : r.stderrTail()));
  }

  private String notStarted() {
    return "not started: the cycle was "
        + (control.stopReason() == CycleControl.StopReason.SUSPEND ? "suspended" : "cancelled");
  }

  private void progress(
      String dataset, String dst, String from, String to, StepStatus status, long bytes, Long total, long rate, String message) {
    Double percent = total == null || total <= 0 ? null : Math.min(100.0, Math.round(bytes * 1000.0 / total) / 10.0);
    if (status == StepStatus.DONE && total != null) {
      percent = 100.0;
    }
    sink.accept(
        new CycleEvent.Progress(
            request.cycleId(), phase, sourceName, dataset, dst, from, to, status, bytes, total, rate, percent, message));
  }

  private static long rate(long bytes, long startNanos) {
    long elapsed = System.nanoTime() - startNanos;
    return elapsed <= 0 ? 0 : (long) (bytes * 1e9 / elapsed);
  }
}
