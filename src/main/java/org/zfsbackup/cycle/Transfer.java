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
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.PlanOutcome;
import org.zfsbackup.plan.ReceiveRules;
import org.zfsbackup.plan.ReplicationPlanner;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Resumption;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * Replicates the configured datasets of one source side into one target side: list the source once,
 * expand and order the datasets, then plan and send each on its own. Pull and push are both
 * Transfers; only their {@link TransferContext.Route} differs.
 *
 * <p>Each step returns what it did, warnings included; the events go out as things happen, through
 * {@link TransferEvents}. What a failed stream means is decided by {@link Failures}.
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
   * @param keep the snapshots whose holds stay (the base after this cycle, the one the hold moved
   *     from); null when the base is not known (the dataset did not end sent or up to date)
   * @param move the base that moved (to be held, the old one released); or null
   */
  private record Replicated(
      DatasetResult result,
      List<Warning> warnings,
      String unheldBase,
      Set<String> keep,
      Holds.Move move) {
    static Replicated of(DatasetResult result) {
      return new Replicated(result, List.of(), null, null, null);
    }
  }

  /**
   * One {@code send | receive} step: the bytes it moved and, when it failed, why (and how it ended,
   * {@code pipe}); {@code retry} when the target's head was rolled back to the step's base and the
   * step may run once more.
   */
  private record Streamed(long bytes, Failures.Failure failure, PipeResult pipe, boolean retry) {}

  /**
   * What a failed stream means beyond {@link Failures#stream}: the failure to report, or a retry. A
   * stream without one (a resume) reports nothing itself: its caller judges the failure.
   */
  private interface Judge {
    Refusals.Verdict judge(PipeResult pr, Failures.Failure first);
  }

  /**
   * What came before the plan: a resumed receive ({@code bytes} moved, {@code note} for the
   * result), warnings, or the dataset's end (a failed resume that keeps its state, an abort that
   * failed).
   */
  private record Before(long bytes, String note, List<Warning> warnings, DatasetResult ended) {}

  private final TransferContext.Scope scope;
  private final TransferContext.Route route;
  private final TransferEvents events;
  private final Holds holds;
  private volatile ZfsListing sourceListing;
  private final Refusals refusals;

  /**
   * The source datasets that failed this phase: their children create no placeholder. Confined to
   * the thread that runs this transfer: transfers run side by side ({@link SideBySide}), each with
   * its own set (a source's datasets, a push tree, never span two transfers).
   */
  private final Set<String> failed = new HashSet<>();

  Transfer(TransferContext context) {
    this.scope = context.scope();
    this.route = context.route();
    this.events =
        new TransferEvents(scope.cycleId(), scope.sink(), route.phase(), route.sourceName());
    this.holds = new Holds(scope.runner(), route.source(), route.holdTag(), scope.shortTimeout());
    this.refusals = new Refusals(scope.runner(), route.target().endpoint, scope.shortTimeout());
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
    sourceListing = listing;

    List<DatasetResult> results = new ArrayList<>();
    for (String missing : Listings.missingRoots(r)) {
      String msg = missing + " does not exist on " + route.source().label();
      results.add(failed(missing, ErrorKind.DATASET_MISSING, msg, r));
    }
    List<String> datasets = Datasets.selected(listRoots, route.only(), listing);
    if (!datasets.isEmpty()) {
      Optional<TargetSide.Problem> targetError =
          route.target().ensureListed(scope.runner(), scope.shortTimeout());
      if (targetError.isPresent()) {
        TargetSide.Problem p = targetError.get();
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

  /** Each dataset in turn, until a stop; then the holds, in batches ({@link Holds}). */
  private Result replicateAll(List<String> datasets, ZfsListing listing) {
    List<DatasetResult> results = new ArrayList<>();
    List<Warning> warnings = new ArrayList<>();
    List<String> unheldBases = new ArrayList<>();
    List<Holds.Move> moves = new ArrayList<>();
    Map<String, Set<String>> keep = new LinkedHashMap<>();
    for (String d : datasets) {
      Replicated one =
          scope.control().stopRequested()
              ? Replicated.of(skipped(d, notStarted()))
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
    // Up-to-date bases without any hold (the first cycle after migrating from a tool without
    // holds, a hold someone released, one that failed before): held now, in batches, so pruning
    // on the source cannot break the next incremental. A base held by anyone is left alone: any
    // hold stops zfs destroy. Costs nothing once every base is held. The bases that moved are held
    // in the same calls, and their old bases released after, only where the new hold went through
    // (two calls for the whole transfer, not two per dataset). A crash before this point leaves
    // the old bases held, never the new ones released: the next cycle holds the new ones as
    // unheld up-to-date bases, and releases the old ones as stale.
    holds.apply(moves, unheldBases, events::held).forEach(w -> warnings.add(events.warning(w)));
    // Holds of this target's tag on snapshots that are no longer a base (a release that failed,
    // a base that moved while the agent was not running): released, so the source can prune.
    // After apply: an old base whose replacement could not be held is in keep, and stays held.
    if (scope.holds() && !scope.dryRun()) {
      holds.releaseStale(keep, listing).forEach(w -> warnings.add(events.warning(w)));
    }
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
    Optional<String> token = target.exists(dst) ? target.resumeToken(dst) : Optional.empty();
    Resumption.First first = Resumption.first(token, resumable());
    if (first != Resumption.First.PLAN && scope.dryRun()) {
      String would =
          first == Resumption.First.RESUME
              ? "would resume an interrupted receive (zfs send -t), then plan again"
              : "would abort an interrupted receive (zfs receive -A: resumable receives are off),"
                  + " then plan again";
      events.progress(
          dataset, dst, null, null, StepStatus.SKIPPED, 0, null, 0, "dry run: " + would);
      return Replicated.of(events.result(dataset, dst, Status.SENT, 0, would, null));
    }
    Before before = new Before(0, null, List.of(), null);
    // A full receive's saved state is the new dataset itself (receive -A destroys it); one into
    // the agent's placeholder (-F) is a hidden clone below it, and the placeholder stays.
    boolean placeholder = target.placeholder(dst);
    boolean full = targetSnaps.isEmpty() && !placeholder;
    if (first == Resumption.First.RESUME) {
      before = resume(dataset, dst, token.get(), full);
    } else if (first == Resumption.First.ABORT_THEN_PLAN) {
      String why = "resumable receives are off (replication.resumable, or this zfs has none)";
      before = abort(dataset, dst, why, full);
    }
    if (before.ended() != null) {
      return new Replicated(before.ended(), before.warnings(), null, null, null);
    }
    if (placeholder && before.note() != null) {
      // The resumed stream replaced the placeholder (its -F receive was cut): the mark goes.
      Optional<Warning> w = clearPlaceholder(dst).map(events::warning);
      if (w.isPresent()) {
        List<Warning> ws = new ArrayList<>(before.warnings());
        ws.add(w.get());
        before = new Before(before.bytes(), before.note(), ws, null);
      }
    }
    if (first != Resumption.First.PLAN) {
      Optional<List<Snapshot>> relisted = relist(dst);
      if (relisted.isEmpty()) {
        String msg = "cannot list " + dst + " again after the interrupted receive";
        DatasetResult f =
            events.failed(dataset, dst, ErrorKind.LIST_FAILED, msg, null, before.note());
        return new Replicated(f, before.warnings(), null, null, null);
      }
      targetSnaps = relisted.get();
    }
    Replicated rest = replicatePlanned(dataset, dst, listing, targetSnaps);
    return before.note() == null && before.warnings().isEmpty() ? rest : after(before, rest);
  }

  /** {@code rest}, with what came before it: the resumed bytes and note, and its warnings. */
  private static Replicated after(Before before, Replicated rest) {
    DatasetResult r = rest.result();
    String plan =
        before.note() == null
            ? r.plan()
            : before.note() + (r.plan() == null || r.plan().isEmpty() ? "" : ", then " + r.plan());
    Status status =
        r.status() == Status.UP_TO_DATE && before.bytes() > 0 ? Status.SENT : r.status();
    DatasetResult merged =
        new DatasetResult(
            r.phase(),
            r.source(),
            r.dataset(),
            r.target(),
            status,
            before.bytes() + r.bytes(),
            plan,
            r.message());
    List<Warning> warnings = new ArrayList<>(before.warnings());
    warnings.addAll(rest.warnings());
    return new Replicated(merged, warnings, rest.unheldBase(), rest.keep(), rest.move());
  }

  /** Resumable receives: the setting, and the target's zfs has them. */
  private boolean resumable() {
    return scope.resumable() && route.target().resumable();
  }

  /**
   * Resumes the target's interrupted receive with {@code send -t}. A token that no longer works is
   * aborted and the dataset planned afresh; any other failure keeps the saved state for the next
   * cycle and ends the dataset.
   *
   * @param full the partial state is a full receive's (the dataset has no snapshot yet)
   */
  private Before resume(String dataset, String dst, String token, boolean full) {
    Streamed s =
        stream(
            dataset,
            dst,
            null,
            null,
            "resume of an interrupted receive",
            ZfsCommands.resumeSend(token),
            ZfsCommands.resumeEstimate(token),
            ZfsCommands.resumeReceive(dst, route.receiveOptions()),
            null);
    if (s.failure() == null) {
      return new Before(s.bytes(), "resumed (" + s.bytes() + " bytes)", List.of(), null);
    }
    PipeResult pr = s.pipe();
    boolean interrupted = pr.killed() || pr.stalled() || pr.stuck();
    Resumption.AfterFailure next =
        Resumption.afterFailure(interrupted, pr.send().stderrTail(), pr.receive().stderrTail());
    if (next == Resumption.AfterFailure.KEEP) {
      error(dataset, s.failure());
      String msg = s.failure().message() + "; the partial state is kept: the next cycle resumes it";
      return new Before(
          s.bytes(),
          null,
          List.of(),
          events.result(dataset, dst, Status.FAILED, s.bytes(), "resume", msg));
    }
    String why = "its token no longer works (" + s.failure().message() + ")";
    Before aborted = abort(dataset, dst, why, full);
    return new Before(s.bytes(), null, aborted.warnings(), aborted.ended());
  }

  /** {@code receive -A}: the saved state goes (with the dataset, when it was a full receive's). */
  private Before abort(String dataset, String dst, String why, boolean full) {
    ProcessResult a = run(route.target().endpoint, ZfsCommands.abortResume(dst));
    if (!a.ok()) {
      String msg =
          "cannot abort the interrupted receive on " + dst + " (" + why + "): " + a.describe();
      return new Before(
          0,
          null,
          List.of(),
          events.failed(dataset, dst, ErrorKind.RECEIVE_FAILED, msg, a, "abort"));
    }
    route.target().aborted(dst, full);
    String msg =
        "aborted the interrupted receive on "
            + dst
            + " (zfs receive -A): "
            + why
            + "; planned afresh";
    Warning w = events.warning(new Warning(dataset, ErrorKind.RESUME_ABORTED, msg, null));
    return new Before(0, null, List.of(w), null);
  }

  /** The snapshots of {@code dst} now (after a resume or an abort); empty on a failed listing. */
  private Optional<List<Snapshot>> relist(String dst) {
    if (!route.target().exists(dst)) {
      return Optional.of(List.of());
    }
    ProcessResult r = run(route.target().endpoint, ZfsCommands.listOne(dst));
    if (!r.ok()) {
      LOG.warn("cannot list {} again: {}", dst, r.describe());
      return Optional.empty();
    }
    try {
      return Optional.of(ZfsListing.parse(r.stdout()).snapshots(dst));
    } catch (ZfsListing.ListingException e) {
      LOG.warn("cannot list {} again: {}", dst, e.getMessage());
      return Optional.empty();
    }
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
    ReceiveRules.Target state =
        new ReceiveRules.Target(
            target.exists(dst), target.placeholder(dst), !targetSnaps.isEmpty());
    ReceiveRules.Mode mode = ReceiveRules.mode(dst, send.steps().get(0), state);
    if (mode instanceof ReceiveRules.Mode.Refused refused) {
      String steps = send.toString();
      return Replicated.of(
          events.failed(dataset, dst, ErrorKind.TARGET_EXISTS, refused.why(), null, steps));
    }
    if (scope.dryRun()) {
      String would =
          "would send "
              + send
              + (mode instanceof ReceiveRules.Mode.ReplacePlaceholder
                  ? " (replacing the agent's empty placeholder, receive -F)"
                  : "");
      String why = "dry run: " + would;
      events.progress(dataset, dst, null, null, StepStatus.SKIPPED, 0, null, 0, why);
      return Replicated.of(events.result(dataset, dst, Status.SENT, 0, would, null));
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
      canmountOff(dst).ifPresent(w -> warnings.add(events.warning(w)));
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
    TargetSide target = route.target();
    if (!target.missingParents(dst).isEmpty()) {
      Optional<String> blocker = ReceiveRules.blockingAncestor(dataset, failed);
      if (blocker.isPresent()) {
        String why =
            "parent failed: "
                + blocker.get()
                + " failed this cycle; no placeholder is"
                + " created where it belongs, "
                + dataset
                + " follows it once it is received";
        return Replicated.of(events.skipped(dataset, dst, why));
      }
    }
    ReplicationStep first = send.steps().get(0);
    Optional<DatasetResult> noParent = createParents(dataset, dst, plan);
    if (noParent.isPresent()) {
      return Replicated.of(noParent.get());
    }
    List<Warning> warnings = new ArrayList<>();
    List<ReplicationStep> done = new ArrayList<>();
    long total = 0;
    for (ReplicationStep step : send.steps()) {
      if (scope.control().forced()) {
        String msg = "stopped before " + step + " by a forced stop";
        DatasetResult stopped = events.failed(dataset, dst, ErrorKind.INTERRUPTED, msg, null, plan);
        return new Replicated(stopped, warnings, null, null, moved(dataset, done));
      }
      boolean replace = step == first && mode instanceof ReceiveRules.Mode.ReplacePlaceholder;
      Streamed streamed = stream(dataset, dst, step, replace, true);
      total += streamed.bytes();
      if (streamed.retry()) { // the head was rolled back to the base: once more
        streamed = stream(dataset, dst, step, replace, false);
        total += streamed.bytes();
      }
      if (streamed.failure() != null) {
        String msg = streamed.failure().message();
        DatasetResult failed = events.result(dataset, dst, Status.FAILED, total, plan, msg);
        return new Replicated(failed, warnings, null, null, moved(dataset, done));
      }
      if (replace) {
        clearPlaceholder(dst).ifPresent(w -> warnings.add(events.warning(w)));
      }
      done.add(step);
    }
    canmountOff(dst).ifPresent(w -> warnings.add(events.warning(w)));
    DatasetResult sent = events.result(dataset, dst, Status.SENT, total, plan, null);
    Set<String> kept = new HashSet<>();
    kept.add(send.steps().get(send.steps().size() - 1).to().name());
    if (send.base() != null) {
      kept.add(send.base().name()); // its hold is moved (or, failing that, kept) by Holds.apply
    }
    return new Replicated(sent, warnings, null, kept, moved(dataset, done));
  }

  /** The hold to move once the transfer ends, when holds are on and a step went through. */
  private Holds.Move moved(String dataset, List<ReplicationStep> done) {
    return scope.holds() ? Holds.Move.after(dataset, done) : null;
  }

  /** The placeholder was replaced by the real dataset: its mark goes (the dataset stays). */
  private Optional<Warning> clearPlaceholder(String dst) {
    ProcessResult r = run(route.target().endpoint, ZfsCommands.clearPlaceholder(dst));
    if (r.ok()) {
      return Optional.empty();
    }
    String msg = "could not remove the placeholder mark from " + dst + ": " + r.describe();
    return Optional.of(new Warning(dst, ErrorKind.WARNING, msg, r));
  }

  /** The target's missing parents, top-down; the failed result when one cannot be created. */
  private Optional<DatasetResult> createParents(String dataset, String dst, String plan) {
    TargetSide target = route.target();
    for (String parent : target.missingParents(dst)) {
      ProcessResult c = run(target.endpoint, ZfsCommands.createParent(parent));
      if (c.ok()) {
        target.createdPlaceholder(parent);
        continue;
      }
      if (!c.stderrTail().contains("dataset already exists")) {
        String msg = "cannot create the parent " + parent + ": " + c.describe();
        return Optional.of(events.failed(dataset, dst, ErrorKind.CREATE_FAILED, msg, c, plan));
      }
      // Created meanwhile: by another tree of this phase (its placeholder mark stays known), or
      // by someone else (then it is no placeholder of the agent's).
      target.appeared(parent);
    }
    return Optional.empty();
  }

  /**
   * One {@code send | receive} step, with its progress from start to end. Received with {@code -s}
   * where the target side is resumable, so a stream cut short is resumed next cycle.
   *
   * @param replace receive with {@code -F}: the step's full stream replaces the agent's placeholder
   * @param mayRetry a refusal that a rollback of the head explains may ask for one more try
   */
  private Streamed stream(
      String dataset, String dst, ReplicationStep step, boolean replace, boolean mayRetry) {
    String from = step instanceof ReplicationStep.Incremental inc ? inc.from().name() : null;
    List<String> receiveOptions = route.receiveOptions();
    if (resumable()) {
      receiveOptions = new ArrayList<>(List.of("-s")); // zfs-receive(8) -s: keep what came
      receiveOptions.addAll(route.receiveOptions());
    }
    Streamed s =
        stream(
            dataset,
            dst,
            from,
            step.to().name(),
            step.toString(),
            ZfsCommands.send(dataset, step, route.raw()),
            // Full sends only: an incremental is usually a small delta, over before a percentage
            // would help, and the estimate would cost a command per dataset (docs/design.md).
            step instanceof ReplicationStep.Full
                ? ZfsCommands.estimate(dataset, step, route.raw())
                : null,
            ZfsCommands.receive(dst, receiveOptions, replace),
            (pr, first) -> refusals.judge(dataset, dst, step, pr, replace, mayRetry, first));
    if (s.failure() == null && !s.retry()) {
      events.sent(dataset, dst, step, s.bytes());
    }
    return s;
  }

  /** One {@code send | receive}, with its progress from start to end. */
  private Streamed stream(
      String dataset,
      String dst,
      String from,
      String to,
      String label,
      List<String> send,
      List<String> estimateArgs, // null: no estimate
      List<String> receive,
      Judge judge) {
    Long estimate = estimateArgs == null ? null : estimate(dataset, estimateArgs);
    events.progress(dataset, dst, from, to, StepStatus.STARTED, 0, estimate, 0, label);
    long start = System.nanoTime();
    PipeResult pr =
        scope
            .runner()
            .pipe(
                route.source().zfs(send),
                route.target().endpoint.zfs(receive),
                bytes ->
                    events.progress(
                        dataset,
                        dst,
                        from,
                        to,
                        StepStatus.STREAMING,
                        bytes,
                        estimate,
                        rate(bytes, start),
                        null),
                scope.stallTimeout(),
                scope.control());
    long rate = rate(pr.bytes(), start);
    if (!pr.ok()) {
      Failures.Failure f = Failures.stream(dataset, dst, label, pr, scope.stallTimeout());
      if (judge != null) { // a resume's is reported later: a refused token is no error once aborted
        Refusals.Verdict verdict = judge.judge(pr, f);
        if (verdict.retry()) {
          return new Streamed(pr.bytes(), null, pr, true);
        }
        f = verdict.failure();
        error(dataset, f);
      }
      // The one end-of-step progress for this step: with its snapshots and the bytes moved.
      events.progress(
          dataset, dst, from, to, StepStatus.FAILED, pr.bytes(), estimate, rate, f.message());
      return new Streamed(pr.bytes(), f, pr, false);
    }
    route.target().created(dst);
    events.progress(dataset, dst, from, to, StepStatus.DONE, pr.bytes(), estimate, rate, label);
    return new Streamed(pr.bytes(), null, pr, false);
  }

  private void error(String dataset, Failures.Failure f) {
    events.error(dataset, f.kind(), f.message(), f.blamed());
  }

  /** Best effort: OpenZFS's {@code send -nP} size; null where it is not supported (zfs-fuse). */
  private Long estimate(String dataset, List<String> estimateArgs) {
    ProcessResult r = run(route.source(), estimateArgs);
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
