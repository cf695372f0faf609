package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.PlanOutcome;
import org.zfsbackup.plan.ReceiveRules;
import org.zfsbackup.plan.ReplicationPlanner;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Resumption;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * Replicates the configured datasets of one source side into one target side: list the source once,
 * expand and order the datasets, then plan and send each on its own. Pull and push are both
 * Transfers; only their {@link TransferContext.Route} differs.
 *
 * <p>Each step returns what it did, warnings included; the events go out as things happen, through
 * {@link TransferEvents}. What a failed stream means is decided by {@link Failures}. The streams
 * are {@link Streams}', an interrupted receive is {@link Resumes}', the parents, placeholder marks
 * and {@code canmount} on the target are {@link TargetChanges}', and the holds on the source are
 * {@link TransferHolds}'.
 */
final class Transfer {
  private static final Logger LOG = LoggerFactory.getLogger(Transfer.class);

  /** What a transfer did: every dataset's result, in order, and the messages of its warnings. */
  record Result(List<DatasetResult> datasets, List<String> warnings) {
    static final Result NOTHING = new Result(List.of(), List.of());
  }

  private final TransferContext context;
  private final TransferContext.Scope scope;
  private final TransferContext.Route route;
  private final TransferEvents events;
  private final TransferHolds baseHolds;
  private final Streams streams;
  private final TargetChanges changes;
  private final Resumes resumes;
  private volatile ZfsListing sourceListing;

  /**
   * The source datasets that failed this phase: their children create no placeholder. Confined to
   * the thread that runs this transfer: transfers run side by side ({@link SideBySide}), each with
   * its own set (a source's datasets, a push tree, never span two transfers).
   */
  private final Set<String> failed = new HashSet<>();

  Transfer(TransferContext context) {
    this.context = context;
    this.scope = context.scope();
    this.route = context.route();
    this.events =
        new TransferEvents(scope.cycleId(), scope.sink(), route.phase(), route.sourceName());
    this.baseHolds = new TransferHolds(context, events);
    Refusals refusals =
        new Refusals(
            scope.runner(), route.target(), scope.shortTimeout(), route.raw(), route.source());
    this.streams = new Streams(context, events, refusals);
    this.changes = new TargetChanges(context, events);
    this.resumes = new Resumes(context, events, streams, changes);
  }

  Result run() {
    List<String> listRoots = Datasets.listed(route.roots(), route.only());
    if (listRoots.isEmpty()) {
      return Result.NOTHING;
    }
    // What a result names when nothing could be listed (a limited run's own datasets).
    List<String> named = Datasets.named(listRoots, route.only());
    if (scope.control().stopRequested()) {
      return new Result(
          named.stream().map(d -> skipped(d, scope.control().notStarted())).toList(), List.of());
    }
    // One process lists every configured dataset of this side, children and snapshots included.
    ProcessResult r = scope.run(route.source(), ZfsCommands.list(listRoots));
    if (!r.ok() && !Listings.onlyMissing(r, listRoots)) {
      Failures.Failure f =
          Failures.listing(
              route.source().label(), r, scope.control().forced(), !route.source().isLocal());
      return new Result(failAll(named, f.kind(), f.message(), f.blamed()), List.of());
    }
    ZfsListing listing;
    try {
      listing = ZfsListing.parse(r.stdout());
    } catch (ZfsListing.ListingException e) {
      String msg = route.source().label() + ": " + e.getMessage();
      return new Result(failAll(named, ErrorKind.BAD_ZFS_OUTPUT, msg, null), List.of());
    }
    sourceListing = listing;

    List<DatasetResult> results = new ArrayList<>();
    for (String root : Listings.leftOutInSilence(listRoots, listing, r)) {
      String msg =
          route.source().label()
              + ": the listing of "
              + root
              + " exited "
              + r.exitCode()
              + " without it or a word why (a commands.zfs wrapper?)";
      results.add(failed(root, ErrorKind.BAD_ZFS_OUTPUT, msg, r));
    }
    for (String missing : Listings.missingRoots(r)) {
      String msg =
          missing
              + " does not exist on "
              + route.source().label()
              + " (destroyed or renamed there, or its pool not imported)";
      String notYet = route.notThereYet().get(missing); // a plan's root its pull would create
      results.add(
          notYet != null
              ? skipped(missing, notYet)
              : failed(missing, ErrorKind.DATASET_MISSING, msg, r));
    }
    List<String> datasets = Datasets.selected(listRoots, route.only(), listing);
    if (scope.control().stopRequested()) { // a stop during the listing: the target is not listed
      datasets.forEach(d -> results.add(skipped(d, scope.control().notStarted())));
      return new Result(results, List.of());
    }
    if (!datasets.isEmpty()) {
      Optional<TargetSide.Problem> targetError =
          route.target().ensureListed(scope.runner(), scope.shortTimeout());
      if (targetError.isPresent()) {
        TargetSide.Problem p = targetError.get();
        if (scope.control().forced()) { // it killed the target's listing: not the target's fault
          String msg = "listing the target killed by a forced stop";
          p = new TargetSide.Problem(ErrorKind.INTERRUPTED, msg);
        }
        results.addAll(failAll(datasets, p.kind(), p.message(), null));
        return new Result(results, List.of());
      }
    }
    Result replicated = replicateAll(datasets, listing);
    results.addAll(replicated.datasets());
    return new Result(results, replicated.warnings());
  }

  /** The source side as {@link #run} listed it (for retention's bases); null before, or if none. */
  ZfsListing sourceListing() {
    return sourceListing;
  }

  /**
   * The newest snapshot of each dataset first held, then each dataset in turn, until a stop; then
   * the holds that moved, in batches ({@link TransferHolds}).
   */
  private Result replicateAll(List<String> datasets, ZfsListing listing) {
    baseHolds.holdEarly(datasets, listing);
    List<DatasetResult> results = new ArrayList<>();
    List<Warning> warnings = new ArrayList<>();
    List<String> unheldBases = new ArrayList<>();
    List<Holds.Move> moves = new ArrayList<>();
    Map<String, Set<String>> keep = new LinkedHashMap<>();
    for (String d : datasets) {
      Replicated one =
          scope.control().stopRequested()
              ? Replicated.of(skipped(d, scope.control().notStarted()))
              : replicateGuarded(d, listing);
      results.add(one.result());
      warnings.addAll(one.warnings());
      if (one.result().status() == Status.FAILED) {
        failed.add(d);
      }
      if (one.unheldBase() != null) {
        unheldBases.add(one.unheldBase());
      }
      if (one.keep() != null) {
        keep.put(d, one.keep());
      }
      if (one.move() != null) {
        moves.add(one.move());
      }
    }
    warnings.addAll(baseHolds.finish(moves, unheldBases, keep, listing));
    return new Result(results, warnings.stream().map(Warning::message).toList());
  }

  /** A bug in one dataset's replication fails that dataset, not the cycle. */
  private Replicated replicateGuarded(String dataset, ZfsListing listing) {
    try {
      return replicate(dataset, listing);
    } catch (RuntimeException e) {
      LOG.error("unexpected error replicating {}", dataset, e);
      return Replicated.of(failed(dataset, ErrorKind.INTERNAL, "unexpected error: " + e, null));
    }
  }

  /** Plans one dataset and does what the plan says (or, in a dry run, says what it would do). */
  private Replicated replicate(String dataset, ZfsListing listing) {
    String dst = route.mapping().apply(dataset);
    String heldBack = route.heldBack().get(dataset);
    if (heldBack != null) {
      return Replicated.of(events.skipped(dataset, dst, heldBack));
    }
    TargetSide target = route.target();
    List<Snapshot> targetSnaps = target.exists(dst) ? target.listing().snapshots(dst) : List.of();
    Optional<String> token = target.exists(dst) ? target.resumeToken(dst) : Optional.empty();
    Resumption.First first = Resumption.first(token, context.resumable());
    if (first == Resumption.First.PLAN) {
      return replicatePlanned(dataset, dst, listing, targetSnaps);
    }
    Resumes.Before before = resumes.settle(dataset, dst, first, token, targetSnaps);
    if (before.ended() != null) {
      return new Replicated(before.ended(), before.warnings(), null, null, null);
    }
    Replicated rest = replicatePlanned(dataset, dst, listing, before.targetSnaps());
    return before.note() == null && before.warnings().isEmpty() ? rest : rest.after(before);
  }

  /** Plans one dataset against {@code targetSnaps} and does what the plan says. */
  private Replicated replicatePlanned(
      String dataset, String dst, ZfsListing listing, List<Snapshot> targetSnaps) {
    TargetSide target = route.target();
    PlanOutcome plan = ReplicationPlanner.plan(listing.snapshots(dataset), targetSnaps);
    if (plan instanceof PlanOutcome.NoSourceSnapshots) {
      String why = "no snapshots on the source: nothing to send";
      return Replicated.of(events.skipped(dataset, dst, why));
    }
    if (plan instanceof PlanOutcome.Diverged || plan instanceof PlanOutcome.NoCommonSnapshot) {
      ErrorKind kind =
          plan instanceof PlanOutcome.Diverged ? ErrorKind.DIVERGED : ErrorKind.NO_COMMON_SNAPSHOT;
      String msg = dst + ": " + plan;
      return Replicated.of(events.failed(dataset, dst, kind, msg, null, plan.toString()));
    }
    if (plan instanceof PlanOutcome.UpToDate up) {
      return upToDate(dataset, dst, up, listing);
    }
    PlanOutcome.Send send = (PlanOutcome.Send) plan;
    Optional<Map.Entry<ErrorKind, String>> names =
        CycleRules.namesRefused(route.phase(), dst, send, listing.snapshots(dataset), targetSnaps);
    if (names.isPresent()) {
      String why = names.get().getValue();
      return Replicated.of(
          events.failed(dataset, dst, names.get().getKey(), why, null, send.toString()));
    }
    ReceiveRules.Target state =
        new ReceiveRules.Target(
            target.exists(dst), target.placeholder(dst), !targetSnaps.isEmpty());
    ReceiveRules.Mode mode = ReceiveRules.mode(dst, send.steps().get(0), state);
    if (mode instanceof ReceiveRules.Mode.Refused refused) {
      String steps = send.toString();
      return Replicated.of(
          events.failed(dataset, dst, ErrorKind.TARGET_EXISTS, refused.why(), null, steps));
    }
    boolean replace = mode instanceof ReceiveRules.Mode.ReplacePlaceholder;
    Optional<DatasetResult> inUse =
        replace ? changes.placeholderInUse(dataset, dst, send.toString()) : Optional.empty();
    if (inUse.isPresent()) {
      return Replicated.of(inUse.get());
    }
    if (scope.dryRun()) {
      String would =
          "would send "
              + send
              + (replace ? " (replacing the agent's empty placeholder, receive -F)" : "");
      return Replicated.of(events.dryRun(dataset, dst, would));
    }
    return send(dataset, dst, send, mode);
  }

  /** Nothing to send; the target still gets canmount=off, and an unheld base a hold later. */
  private Replicated upToDate(
      String dataset, String dst, PlanOutcome.UpToDate up, ZfsListing listing) {
    String latest = up.latest().name();
    List<Warning> warnings = new ArrayList<>();
    String unheldBase = null;
    if (!scope.dryRun()) {
      changes.canmountOff(dst, listing, dataset).ifPresent(w -> warnings.add(events.warning(w)));
      if (scope.holds() && listing.unheld(dataset, latest)) {
        unheldBase = dataset + "@" + latest;
      }
    }
    events.progress(dataset, dst, latest, latest, StepStatus.DONE, 0, null, 0, "up to date");
    DatasetResult result = events.result(dataset, dst, Status.UP_TO_DATE, 0, up.toString(), null);
    return new Replicated(result, warnings, unheldBase, Set.of(latest), null);
  }

  /**
   * Creates the missing parents (placeholders) unless a failed parent belongs there, streams each
   * step ({@code mode}: how the first may be received) and moves the hold, sets canmount=off.
   */
  private Replicated send(
      String dataset, String dst, PlanOutcome.Send send, ReceiveRules.Mode mode) {
    String plan = send.toString();
    Optional<DatasetResult> noParent = changes.parents(dataset, dst, plan, failed);
    if (noParent.isPresent()) {
      return Replicated.of(noParent.get());
    }
    ReplicationStep first = send.steps().get(0);
    List<Warning> warnings = new ArrayList<>();
    List<ReplicationStep> done = new ArrayList<>();
    long total = 0;
    for (ReplicationStep step : send.steps()) {
      if (scope.control().forced()) {
        String msg = "stopped before " + step + " by a forced stop";
        DatasetResult stopped = events.failed(dataset, dst, ErrorKind.INTERRUPTED, msg, null, plan);
        Holds.Move move = baseHolds.moved(sourceListing, dataset, done);
        return new Replicated(stopped, warnings, null, Replicated.kept(move), move);
      }
      boolean replace = step == first && mode instanceof ReceiveRules.Mode.ReplacePlaceholder;
      Streams.Streamed streamed = streams.step(dataset, dst, step, replace, true);
      total += streamed.bytes();
      if (streamed.retry()) { // the head was rolled back to the base: once more
        warnings.add(events.warning(streamed.rolledBack()));
        streamed = streams.step(dataset, dst, step, replace, false);
        total += streamed.bytes();
      }
      if (streamed.failure() != null) {
        Failures.Failure f = streamed.failure();
        DatasetResult failed =
            events.failedResult(dataset, dst, f.kind(), total, plan, f.message());
        // The part the target kept is its base (held, and kept held) until the next cycle.
        Holds.Move move =
            baseHolds.moved(
                sourceListing, dataset, baseHolds.partly(sourceListing, dataset, dst, step, done));
        return new Replicated(failed, warnings, null, Replicated.kept(move), move);
      }
      if (replace) {
        changes.clearPlaceholder(dst).ifPresent(w -> warnings.add(events.warning(w)));
      }
      done.add(step);
    }
    changes
        .canmountOff(dst, sourceListing, dataset)
        .ifPresent(w -> warnings.add(events.warning(w)));
    DatasetResult sent = events.result(dataset, dst, Status.SENT, total, plan, null);
    Set<String> kept = new HashSet<>();
    kept.add(send.steps().get(send.steps().size() - 1).to().name());
    if (send.base() != null) {
      kept.add(send.base().name()); // its hold is moved (or, failing that, kept) by Holds.apply
    }
    return new Replicated(
        sent, warnings, null, kept, baseHolds.moved(sourceListing, dataset, done));
  }

  private List<DatasetResult> failAll(
      List<String> datasets, ErrorKind kind, String message, ProcessResult r) {
    return datasets.stream().map(d -> failed(d, kind, message, r)).toList();
  }

  private DatasetResult failed(String dataset, ErrorKind kind, String message, ProcessResult r) {
    return events.failed(dataset, route.mapping().apply(dataset), kind, message, r, null);
  }

  private DatasetResult skipped(String dataset, String why) {
    return events.skipped(dataset, route.mapping().apply(dataset), why);
  }
}
