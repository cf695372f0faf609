package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.KeepPolicy;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.RetentionConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Pruned;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.RetentionPolicy;
import org.zfsbackup.plan.RetentionPolicy.Candidate;
import org.zfsbackup.plan.RetentionPolicy.Decision;
import org.zfsbackup.plan.RetentionPolicy.Guard;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.plan.SnapshotTime;
import org.zfsbackup.zfs.DatasetName;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * Retention, once both phases of a cycle are over: the offsite tier (below {@code push.target})
 * first, then the backup tier (below {@code pull.target}). It runs after the push because the
 * backup tier's push base, the newest snapshot a dataset has in common with its offsite copy, is
 * known only from the offsite listing. Each tier is listed afresh (with {@code creation}), each
 * dataset decided by {@link RetentionPolicy}, and what it destroys is destroyed in batches.
 *
 * <p>Only datasets that this cycle replicated ({@code sent} or {@code up_to_date}) are pruned; on
 * the backup tier, a dataset that is pushed also needs its push to have gone through, or its push
 * base is unknown. A failed, diverged or refused dataset is left alone, and so is everything when
 * the cycle was stopped. A dry run decides the same way and destroys nothing.
 */
final class Pruning {
  private static final Logger LOG = LoggerFactory.getLogger(Pruning.class);

  /** What retention did in one cycle: the snapshots destroyed per dataset, and the warnings. */
  record Result(List<Pruned> pruned, List<String> warnings) {
    static final Result NOTHING = new Result(List.of(), List.of());
  }

  private final Optional<RetentionConfig> retention;
  private final TransferContext.Scope scope;
  private final String pullTarget;
  private final Optional<PushConfig> push;
  private final Endpoint local;
  private final Map<String, ZfsListing> pullSources = new HashMap<>();

  /** One per transfer of the push phase (one per independent tree of push.datasets). */
  private final List<ZfsListing> pushSources = new ArrayList<>();

  private final List<Pruned> pruned = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();
  private boolean stopLogged;

  /** {@code retention}: the configuration's, or empty to prune nothing this cycle. */
  Pruning(
      Optional<RetentionConfig> retention,
      AgentConfig config,
      TransferContext.Scope scope,
      Endpoint local) {
    this.retention = retention;
    this.scope = scope;
    this.pullTarget = config.pull().target();
    this.push = config.push();
    this.local = local;
  }

  /**
   * The source listing a transfer planned with: the base of each dataset is found in it. Called on
   * the cycle's thread once a phase's transfers (side by side) have ended, in configuration order.
   */
  void listed(Phase phase, String sourceName, ZfsListing listing) {
    if (listing == null) {
      return;
    }
    if (phase == Phase.PULL) {
      pullSources.put(sourceName, listing);
    } else {
      pushSources.add(listing);
    }
  }

  /**
   * Prunes both tiers after the cycle's phases, given every dataset's result.
   *
   * @param offsite the push host's side, used only once a push went through (the cycle's shared ssh
   *     connection to that host, opened by the push phase); null without a push phase
   */
  Result prune(List<DatasetResult> results, Endpoint offsite) {
    RetentionConfig r = retention.orElse(null);
    if (r == null || (r.backup().isEmpty() && r.offsite().isEmpty())) {
      return Result.NOTHING;
    }
    if (scope.control().stopRequested()) {
      LOG.info("cycle {}: no pruning, the cycle was stopped", scope.cycleId());
      return Result.NOTHING;
    }
    // Listed only when a push went through: otherwise there is nothing to prune there, and no
    // backup dataset that is pushed is pruned either (its push base is unknown).
    List<DatasetResult> pushedResults =
        push.isPresent() ? replicated(results, Phase.PUSH, push.get().target()) : List.of();
    Endpoint offsiteSide = pushedResults.isEmpty() ? null : offsite;
    ZfsListing offsiteListing =
        pushedResults.isEmpty() ? null : list(Phase.PUSH, offsiteSide, push.get().target());
    if (r.offsite().isPresent() && offsiteListing != null) {
      Destroys destroys =
          new Destroys(scope.runner(), offsiteSide, scope.shortTimeout(), scope.control());
      for (DatasetResult d : pushedResults) {
        if (stopped()) {
          break;
        }
        List<Snapshot> source =
            pushSources.stream()
                .filter(l -> l.contains(d.dataset()))
                .findFirst()
                .map(l -> l.snapshots(d.dataset()))
                .orElse(null);
        Map<String, Set<Guard>> bases = new HashMap<>();
        base(offsiteListing, d.target(), source, Guard.INCREMENTAL_BASE, bases);
        prune(d, r, r.offsite().get(), offsiteListing, bases, destroys);
      }
    }
    if (r.backup().isPresent() && !stopped()) {
      ZfsListing backup = list(Phase.PULL, local, pullTarget);
      Destroys destroys =
          new Destroys(scope.runner(), local, scope.shortTimeout(), scope.control());
      for (DatasetResult d :
          backup == null ? List.<DatasetResult>of() : replicated(results, Phase.PULL, pullTarget)) {
        if (stopped()) {
          break;
        }
        ZfsListing src = pullSources.get(d.source());
        Map<String, Set<Guard>> bases = new HashMap<>();
        base(
            backup,
            d.target(),
            src == null ? null : src.snapshots(d.dataset()),
            Guard.INCREMENTAL_BASE,
            bases);
        if (pushed(d.target())) {
          // Its push's result (pushedResults holds every push that went through: a push's target
          // is always below push.target, by the contract's mapping).
          Optional<DatasetResult> pushedAs =
              pushedResults.stream().filter(p -> p.dataset().equals(d.target())).findFirst();
          if (pushedAs.isEmpty() || offsiteListing == null) {
            LOG.info(
                "{} not pruned: its push did not go through this cycle, so its push base"
                    + " is unknown",
                d.target());
            continue;
          }
          base(
              backup,
              d.target(),
              offsiteListing.snapshots(pushedAs.get().target()),
              Guard.PUSH_BASE,
              bases);
        }
        prune(d, r, r.backup().get(), backup, bases, destroys);
      }
    }
    return new Result(List.copyOf(pruned), List.copyOf(warnings));
  }

  /**
   * The cycle was stopped ({@code cancel}, {@code suspend}, a signal) while pruning: no other
   * dataset is pruned, as no other dataset is sent. Said once in the log.
   */
  private boolean stopped() {
    if (scope.control().stopRequested() && !stopLogged) {
      stopLogged = true;
      LOG.info("cycle {}: pruning stopped, the cycle was stopped", scope.cycleId());
    }
    return scope.control().stopRequested();
  }

  /** Decides one dataset, and destroys (or in a dry run, lists) what the policy does not keep. */
  private void prune(
      DatasetResult d,
      RetentionConfig r,
      KeepPolicy keep,
      ZfsListing listing,
      Map<String, Set<Guard>> bases,
      Destroys destroys) {
    String ds = d.target();
    List<Candidate> candidates = new ArrayList<>();
    for (Snapshot s : listing.snapshots(ds)) {
      Set<Guard> guards = EnumSet.noneOf(Guard.class);
      guards.addAll(bases.getOrDefault(s.name(), Set.of()));
      if (!listing.unheld(ds, s.name())) {
        guards.add(Guard.HELD);
      }
      Long creation = listing.creation(ds, s.name()).orElse(null);
      candidates.add(
          new Candidate(
              s,
              SnapshotTime.of(s.name(), creation, r.timeFromName(), r.zone()).orElse(null),
              guards));
    }
    List<Decision> decisions = RetentionPolicy.decide(policy(keep), candidates);
    decisions.forEach(x -> LOG.debug("{} {}", ds, x));
    List<String> destroy = RetentionPolicy.destroyed(decisions);
    if (destroy.isEmpty()) {
      return;
    }
    TransferEvents events =
        new TransferEvents(scope.cycleId(), scope.sink(), d.phase(), d.source());
    List<String> done = destroy;
    if (!scope.dryRun()) {
      Destroys.Outcome outcome = destroys.destroy(ds, destroy);
      done = outcome.destroyed();
      // Named like every other event of the phase: its dataset, the pruned copy in the message.
      outcome.warnings().stream()
          .map(w -> new Warning(d.dataset(), w.kind(), w.message(), w.result()))
          .forEach(w -> warnings.add(events.warning(w).message()));
    }
    if (done.isEmpty()) {
      return;
    }
    String msg =
        (scope.dryRun() ? "would destroy " : "destroyed ")
            + done.size()
            + " snapshot(s): @"
            + String.join(", @", done);
    LOG.info("{} {}: {}: {}", d.phase().wire(), d.source(), ds, msg);
    scope
        .sink()
        .accept(
            new CycleEvent.Progress(
                scope.cycleId(),
                d.phase(),
                d.source(),
                d.dataset(),
                ds,
                null,
                null,
                StepStatus.PRUNED,
                0,
                null,
                0,
                null,
                msg,
                List.copyOf(done)));
    pruned.add(new Pruned(d.phase(), d.source(), d.dataset(), ds, List.copyOf(done)));
  }

  /** The side below {@code root}, listed for retention; null (and a warning) when it cannot be. */
  private ZfsListing list(Phase phase, Endpoint side, String root) {
    ProcessResult r = scope.run(side, ZfsCommands.listForRetention(root));
    String why;
    if (r.ok()) {
      try {
        return ZfsListing.parse(r.stdout());
      } catch (ZfsListing.ListingException e) {
        why = e.getMessage();
      }
    } else {
      why = r.describe();
    }
    String msg = "cannot list " + root + " on " + side.label() + " to prune it: " + why;
    Warning w = new Warning(root, ErrorKind.PRUNE_FAILED, msg, r.ok() ? null : r);
    String source = phase == Phase.PUSH ? "local" : null;
    warnings.add(
        new TransferEvents(scope.cycleId(), scope.sink(), phase, source).warning(w).message());
    return null;
  }

  /**
   * The newest snapshot of {@code dataset} (by createtxg) whose guid {@code other} has: the
   * incremental base towards that side. None when {@code other} is unknown or shares none.
   */
  private static void base(
      ZfsListing listing,
      String dataset,
      List<Snapshot> other,
      Guard guard,
      Map<String, Set<Guard>> bases) {
    if (other == null) {
      return;
    }
    Set<String> guids = new HashSet<>();
    other.forEach(s -> guids.add(s.guid()));
    listing.snapshots(dataset).stream()
        .filter(s -> guids.contains(s.guid()))
        .reduce((a, b) -> b.createtxg() > a.createtxg() ? b : a)
        .ifPresent(
            s -> bases.computeIfAbsent(s.name(), n -> EnumSet.noneOf(Guard.class)).add(guard));
  }

  /** The datasets a phase replicated, below its root (anything else is never touched). */
  private static List<DatasetResult> replicated(
      List<DatasetResult> results, Phase phase, String root) {
    return results.stream()
        .filter(d -> d.phase() == phase)
        .filter(d -> d.status() == Status.SENT || d.status() == Status.UP_TO_DATE)
        .filter(d -> d.target() != null && DatasetName.isWithin(d.target(), root))
        .toList();
  }

  private boolean pushed(String dataset) {
    return push.isPresent() && Datasets.within(dataset, push.get().datasets());
  }

  private static RetentionPolicy.Policy policy(KeepPolicy k) {
    return new RetentionPolicy.Policy(
        k.keepLast(), k.hourly(), k.daily(), k.weekly(), k.monthly(), k.yearly());
  }
}
