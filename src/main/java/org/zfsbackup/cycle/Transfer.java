package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.PlanOutcome;
import org.zfsbackup.plan.ReplicationPlanner;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * Replicates the configured datasets of one source side into one target side: list the source
 * once, expand and order the datasets, then plan and send each on its own. Pull and push are both
 * Transfers; only their {@link TransferContext.Route} differs.
 *
 * <p>Each step returns what it did, warnings included; the events go out as things happen,
 * through {@link TransferEvents}. What a failed stream means is decided by {@link Failures}.
 */
final class Transfer {
  private static final Logger LOG = LoggerFactory.getLogger(Transfer.class);

  /** What a transfer did: every dataset's result, in order, and the messages of its warnings. */
  record Result(List<DatasetResult> datasets, List<String> warnings) {
    static final Result NOTHING = new Result(List.of(), List.of());
  }

  /**
   * What became of one dataset.
   *
   * @param unheldBase an up-to-date base snapshot without any hold, to be held; or null
   */
  private record Replicated(DatasetResult result, List<Warning> warnings, String unheldBase) {
    static Replicated of(DatasetResult result) {
      return new Replicated(result, List.of(), null);
    }
  }

  /** One {@code send | receive} step: the bytes it moved and, when it failed, why. */
  private record Streamed(long bytes, Failures.Failure failure) {}

  private final TransferContext.Scope scope;
  private final TransferContext.Route route;
  private final TransferEvents events;
  private final Holds holds;

  Transfer(TransferContext context) {
    this.scope = context.scope();
    this.route = context.route();
    this.events =
        new TransferEvents(scope.cycleId(), scope.sink(), route.phase(), route.sourceName());
    this.holds = new Holds(scope.runner(), route.source(), route.holdTag(), scope.shortTimeout());
  }

  Result run() {
    List<String> listRoots = Datasets.listed(route.roots(), route.only());
    if (listRoots.isEmpty()) {
      return Result.NOTHING;
    }
    if (scope.control().stopRequested()) {
      return new Result(listRoots.stream().map(r -> skipped(r, notStarted())).toList(), List.of());
    }
    // One process lists every configured dataset of this side, children and snapshots included.
    ProcessResult r = run(route.source(), ZfsCommands.list(listRoots));
    if (!r.ok() && !Listings.onlyMissing(r, listRoots)) {
      String msg = "cannot list " + route.source().label() + ": " + r.describe();
      return new Result(failAll(listRoots, Failures.listing(r), msg, r), List.of());
    }
    ZfsListing listing;
    try {
      listing = ZfsListing.parse(r.stdout());
    } catch (ZfsListing.ListingException e) {
      String msg = route.source().label() + ": " + e.getMessage();
      return new Result(failAll(listRoots, ErrorKind.BAD_ZFS_OUTPUT, msg, null), List.of());
    }

    List<DatasetResult> results = new ArrayList<>();
    for (String missing : Listings.missingRoots(r)) {
      String msg = missing + " does not exist on " + route.source().label();
      results.add(failed(missing, ErrorKind.DATASET_MISSING, msg, r));
    }
    List<String> datasets = Datasets.selected(listRoots, route.only(), listing);
    if (!datasets.isEmpty()) {
      Optional<String> targetError =
          route.target().ensureListed(scope.runner(), scope.shortTimeout());
      if (targetError.isPresent()) {
        results.addAll(failAll(datasets, ErrorKind.TARGET_UNREACHABLE, targetError.get(), null));
        return new Result(results, List.of());
      }
    }
    Result replicated = replicateAll(datasets, listing);
    results.addAll(replicated.datasets());
    return new Result(results, replicated.warnings());
  }

  /** Each dataset in turn, until a stop; then the holds that up-to-date bases lack. */
  private Result replicateAll(List<String> datasets, ZfsListing listing) {
    List<DatasetResult> results = new ArrayList<>();
    List<Warning> warnings = new ArrayList<>();
    List<String> unheldBases = new ArrayList<>();
    for (String d : datasets) {
      Replicated one =
          scope.control().stopRequested()
              ? Replicated.of(skipped(d, notStarted()))
              : replicateGuarded(d, listing);
      results.add(one.result());
      warnings.addAll(one.warnings());
      if (one.unheldBase() != null) {
        unheldBases.add(one.unheldBase());
      }
    }
    // Up-to-date bases without any hold (the first cycle after migrating from a tool without
    // holds, a hold someone released, one that failed before): held now, in batches, so pruning
    // on the source cannot break the next incremental. A base held by anyone is left alone: any
    // hold stops zfs destroy. Costs nothing once every base is held.
    holds.holdAll(unheldBases, events::held).forEach(w -> warnings.add(events.warning(w)));
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
    TargetSide target = route.target();
    List<Snapshot> targetSnaps = target.exists(dst) ? target.listing().snapshots(dst) : List.of();
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
    if (scope.dryRun()) {
      String would = "would send " + send;
      String why = "dry run: " + would;
      events.progress(dataset, dst, null, null, StepStatus.SKIPPED, 0, null, 0, why);
      return Replicated.of(events.result(dataset, dst, Status.SENT, 0, would, null));
    }
    return send(dataset, dst, send);
  }

  /** Nothing to send; the target still gets canmount=off, and an unheld base a hold later. */
  private Replicated upToDate(
      String dataset, String dst, PlanOutcome.UpToDate up, ZfsListing listing) {
    String latest = up.latest().name();
    List<Warning> warnings = new ArrayList<>();
    String unheldBase = null;
    if (!scope.dryRun()) {
      canmountOff(dst).ifPresent(w -> warnings.add(events.warning(w)));
      if (scope.holds() && listing.unheld(dataset, latest)) {
        unheldBase = dataset + "@" + latest;
      }
    }
    events.progress(dataset, dst, latest, latest, StepStatus.DONE, 0, null, 0, "up to date");
    DatasetResult result =
        events.result(dataset, dst, Status.UP_TO_DATE, 0, up.toString(), null);
    return new Replicated(result, warnings, unheldBase);
  }

  /** Creates the missing parents, streams each step and moves the hold, sets canmount=off. */
  private Replicated send(String dataset, String dst, PlanOutcome.Send send) {
    String plan = send.toString();
    Optional<DatasetResult> noParent = createParents(dataset, dst, plan);
    if (noParent.isPresent()) {
      return Replicated.of(noParent.get());
    }
    List<Warning> warnings = new ArrayList<>();
    long total = 0;
    for (ReplicationStep step : send.steps()) {
      if (scope.control().forced()) {
        String msg = "stopped before " + step + " by a forced stop";
        DatasetResult stopped =
            events.failed(dataset, dst, ErrorKind.INTERRUPTED, msg, null, plan);
        return new Replicated(stopped, warnings, null);
      }
      Streamed streamed = stream(dataset, dst, step);
      total += streamed.bytes();
      if (streamed.failure() != null) {
        String msg = streamed.failure().message();
        DatasetResult failed = events.result(dataset, dst, Status.FAILED, total, plan, msg);
        return new Replicated(failed, warnings, null);
      }
      if (scope.holds()) {
        holds.move(dataset, step).ifPresent(w -> warnings.add(events.warning(w)));
      }
    }
    canmountOff(dst).ifPresent(w -> warnings.add(events.warning(w)));
    DatasetResult sent = events.result(dataset, dst, Status.SENT, total, plan, null);
    return new Replicated(sent, warnings, null);
  }

  /** The target's missing parents, top-down; the failed result when one cannot be created. */
  private Optional<DatasetResult> createParents(String dataset, String dst, String plan) {
    TargetSide target = route.target();
    for (String parent : target.missingParents(dst)) {
      ProcessResult c = run(target.endpoint, ZfsCommands.createParent(parent));
      if (!c.ok() && !c.stderrTail().contains("dataset already exists")) {
        String msg = "cannot create the parent " + parent + ": " + c.describe();
        return Optional.of(events.failed(dataset, dst, ErrorKind.CREATE_FAILED, msg, c, plan));
      }
      target.created(parent);
    }
    return Optional.empty();
  }

  /** One {@code send | receive} step, with its progress from start to end. */
  private Streamed stream(String dataset, String dst, ReplicationStep step) {
    String from = step instanceof ReplicationStep.Incremental inc ? inc.from().name() : null;
    String to = step.to().name();
    Long estimate = estimate(dataset, step);
    events.progress(dataset, dst, from, to, StepStatus.STARTED, 0, estimate, 0, step.toString());
    long start = System.nanoTime();
    PipeResult pr =
        scope
            .runner()
            .pipe(
                route.source().zfs(ZfsCommands.send(dataset, step, route.raw())),
                route.target().endpoint.zfs(ZfsCommands.receive(dst, route.receiveOptions())),
                bytes ->
                    events.progress(
                        dataset, dst, from, to, StepStatus.STREAMING, bytes, estimate,
                        rate(bytes, start), null),
                scope.stallTimeout(),
                scope.control());
    long rate = rate(pr.bytes(), start);
    if (!pr.ok()) {
      Failures.Failure f = Failures.stream(dataset, dst, step, pr, scope.stallTimeout());
      events.error(dataset, f.kind(), f.message(), f.blamed());
      // The one end-of-step progress for this step: with its snapshots and the bytes moved.
      events.progress(
          dataset, dst, from, to, StepStatus.FAILED, pr.bytes(), estimate, rate, f.message());
      return new Streamed(pr.bytes(), f);
    }
    route.target().created(dst);
    events.progress(
        dataset, dst, from, to, StepStatus.DONE, pr.bytes(), estimate, rate, step.toString());
    events.sent(dataset, dst, step, pr.bytes());
    return new Streamed(pr.bytes(), null);
  }

  /** Best effort: OpenZFS's {@code send -nP} size; null where it is not supported (zfs-fuse). */
  private Long estimate(String dataset, ReplicationStep step) {
    ProcessResult r = run(route.source(), ZfsCommands.estimate(dataset, step, route.raw()));
    if (!r.ok()) {
      LOG.debug("no size estimate for {}: {}", dataset, r.describe());
      return null;
    }
    long size = ZfsCommands.parseEstimate(r.stdout() + "\n" + r.stderrTail());
    return size < 0 ? null : size;
  }

  /** Backups are never mounted: {@code canmount=off}, unless the listing shows it already. */
  private Optional<Warning> canmountOff(String dst) {
    ZfsListing known = route.target().listing();
    Optional<String> canmount =
        known == null ? Optional.empty() : known.dataset(dst).flatMap(ZfsListing.Dataset::canmount);
    if (canmount.isPresent() && canmount.get().equals("off")) {
      return Optional.empty();
    }
    if (known != null && known.contains(dst) && canmount.isEmpty()) {
      return Optional.empty(); // a volume: no canmount
    }
    ProcessResult r = run(route.target().endpoint, ZfsCommands.canmountOff(dst));
    if (r.ok()) {
      return Optional.empty();
    }
    String msg = "could not set canmount=off on " + dst + ": " + r.describe();
    return Optional.of(new Warning(dst, ErrorKind.CANMOUNT_FAILED, msg, r));
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

  private String notStarted() {
    return "not started: the cycle was "
        + switch (scope.control().stopReason()) {
          case SUSPEND -> "suspended";
          case CANCEL -> "cancelled";
          case INTERRUPT -> "interrupted";
        };
  }

  private ProcessResult run(Endpoint side, List<String> zfsArgs) {
    return scope.runner().run(side.zfs(zfsArgs), scope.shortTimeout());
  }

  private static long rate(long bytes, long startNanos) {
    long elapsed = System.nanoTime() - startNanos;
    return elapsed <= 0 ? 0 : (long) (bytes * 1e9 / elapsed);
  }
}
