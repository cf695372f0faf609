package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.ZfsListing;

/**
 * One {@link Transfer}'s holds on its source side ({@link Holds} does the calls): the early hold of
 * each dataset's newest snapshot before the streams, the base each dataset ends on (a cut {@code
 * -I}'s included), and the end of the pass: the holds that moved, and the stale ones. Confined to
 * the thread that runs its transfer.
 */
final class TransferHolds {
  private final TransferContext.Scope scope;
  private final TransferContext.Route route;
  private final TransferEvents events;
  private final Holds holds;
  private final TransferContext context;
  private Holds.Early early = Holds.Early.NONE;

  /**
   * Per dataset, what its chain needs whatever the cycle does to it: its base (the newest snapshot
   * the target has) and, where the target has an interrupted receive, the snapshot its resume
   * sends. Held early when no one held them; a dataset that then fails with nothing moved keeps
   * them held ({@link #finish}).
   */
  private final Map<String, Set<String>> needed = new HashMap<>();

  /**
   * Per dataset, the snapshot the saved state of an {@code -I} stream cut in this pass resumes, or,
   * when the target could not be listed after the cut, every snapshot the stream may have committed
   * ({@link #partly}): held at the end, and kept held.
   */
  private final Map<String, Set<String>> resumes = new HashMap<>();

  /** Warnings of {@link #partly}, published at the end of the pass. */
  private final List<Warning> unknownParts = new ArrayList<>();

  TransferHolds(TransferContext context, TransferEvents events) {
    this.scope = context.scope();
    this.route = context.route();
    this.context = context;
    this.events = events;
    this.holds = new Holds(scope.runner(), route.source(), route.holdTag(), scope.shortTimeout());
  }

  /** Before the streams ({@link Holds#holdEarly}): not in a dry run, nor after a stop. */
  void holdEarly(List<String> datasets, ZfsListing listing) {
    if (scope.holds() && !scope.dryRun() && !scope.control().stopRequested()) {
      early = holds.holdEarly(toHoldEarly(datasets, listing));
    }
  }

  /**
   * The end of the pass; returns its warnings, published.
   *
   * @param keep per dataset that ended sent or up to date, or failed with a part kept on the target
   *     ({@link #partly}), the snapshots whose holds stay
   */
  List<Warning> finish(
      List<Holds.Move> moves,
      List<String> unheldBases,
      Map<String, Set<String>> keep,
      ZfsListing listing) {
    List<Warning> warnings = new ArrayList<>();
    // The early hold (before the loop) held each dataset's newest snapshot the target lacked, and
    // up-to-date bases without any hold (the first cycle after migrating from a tool without
    // holds, a hold someone released, one that failed before); a base held by anyone else is left
    // alone: any hold stops zfs destroy. Now the bases the early hold missed (a dataset that ended
    // on an older step, a hold that failed) are held, then the old bases released where their
    // replacement is held, with the early holds that did not become a base: at most two calls for
    // the whole transfer, not two per dataset. A crash before this point leaves the old bases
    // held, and early holds on the new bases (fine) or on snapshots not sent yet, which the next
    // cycle sends (they become bases) or, on OpenZFS, releases as stale.
    // A dataset that failed with nothing moved keeps what its chain needs held: the next cycle
    // goes on from there, and a pruner must not take it meanwhile.
    Map<String, Set<String>> stay = new HashMap<>();
    keep.forEach((d, k) -> stay.put(d, new HashSet<>(k)));
    needed.forEach((d, n) -> stay.putIfAbsent(d, new HashSet<>(n)));
    // A cut -I stream's saved state: its resume needs the snapshot it was receiving, held like a
    // new base (and so kept from the stale release where the dataset has a keep).
    List<Holds.Move> withResumes = new ArrayList<>(moves);
    resumes.forEach(
        (d, snaps) ->
            snaps.forEach(
                snap -> {
                  stay.computeIfAbsent(d, x -> new HashSet<>()).add(snap);
                  keep.computeIfPresent(d, (x, k) -> with(k, snap));
                  withResumes.add(new Holds.Move(d + "@" + snap, null));
                }));
    unknownParts.forEach(w -> warnings.add(events.warning(w)));
    // What the chain of a dataset that ended with nothing moved needs, and no one holds: the early
    // hold of it failed or its answer was lost. Held now (or warned about, by name).
    List<String> unheld = new ArrayList<>(unheldBases);
    needed.forEach(
        (d, n) -> {
          if (!keep.containsKey(d)) {
            n.stream()
                .map(snap -> d + "@" + snap)
                .filter(s -> listing.unheld(d, HoldAnswers.nameOf(s)) && !early.held().contains(s))
                .filter(s -> !unheld.contains(s))
                .forEach(unheld::add);
          }
        });
    Holds.Applied applied =
        holds.apply(withResumes, unheld, early, early.notKept(stay), events::held);
    applied.warnings().forEach(w -> warnings.add(events.warning(w)));
    // Holds of this target's tag on snapshots that are no longer a base (a release that failed,
    // a base that moved while the agent was not running): released, so the source can prune.
    // After apply: an old base whose replacement could not be held is in keep, and stays held;
    // a dataset whose new base could not be held keeps every hold it has, which may be the only
    // held snapshot of its chain (the hold failed in earlier cycles too).
    applied.notHeld().forEach(keep::remove);
    if (scope.holds() && !scope.dryRun()) {
      holds.releaseStale(keep, listing).forEach(w -> warnings.add(events.warning(w)));
    } else if (!scope.dryRun()) {
      // Holds off: this tag's holds from when they were on would pin their snapshots for ever
      // (a source's pruner refused, "dataset is busy"); released like stale ones, none kept.
      Map<String, Set<String>> none = new HashMap<>();
      keep.keySet().forEach(d -> none.put(d, Set.of()));
      holds.releaseStale(none, listing).forEach(w -> warnings.add(events.warning(w)));
    }
    return warnings;
  }

  /**
   * Each dataset's newest snapshot that the target does not have (it will be sent, and become the
   * base), or that it has without any hold (an up-to-date base to hold); and what its chain needs
   * ({@link #needed}) where no one holds it: a base without a hold (after migrating from a tool
   * without holds, a hold that failed or was released) would otherwise be unheld until the
   * dataset's own stream, hours into a pass. A dataset the push holds back is not sent.
   */
  private List<String> toHoldEarly(List<String> datasets, ZfsListing listing) {
    List<String> snapshots = new ArrayList<>();
    for (String d : datasets) {
      List<Snapshot> snaps = listing.snapshots(d);
      if (snaps.isEmpty() || route.heldBack().containsKey(d)) {
        continue;
      }
      Snapshot latest = snaps.get(snaps.size() - 1);
      String dst = route.mapping().apply(d);
      boolean exists = route.target().exists(dst);
      Set<String> onTarget = new HashSet<>();
      if (exists) {
        route.target().listing().snapshots(dst).forEach(t -> onTarget.add(t.guid()));
      }
      Set<String> toHold = new java.util.LinkedHashSet<>();
      if (!onTarget.contains(latest.guid()) || listing.unheld(d, latest.name())) {
        toHold.add(latest.name());
      }
      Set<String> chain = chainNeeds(snaps, onTarget, exists && hasSavedState(dst));
      needed.put(d, chain);
      chain.stream().filter(n -> listing.unheld(d, n)).forEach(toHold::add);
      toHold.forEach(n -> snapshots.add(d + "@" + n));
    }
    return snapshots;
  }

  private static Set<String> with(Set<String> set, String one) {
    Set<String> more = new HashSet<>(set);
    more.add(one);
    return more;
  }

  private boolean hasSavedState(String dst) {
    return context.resumable() && route.target().resumeToken(dst).isPresent();
  }

  /**
   * The base (the newest of {@code snaps} the target has, by guid) and, with {@code savedState},
   * the snapshot the interrupted receive was receiving: the one after the base (an {@code -I}
   * stream commits its snapshots in order), or the earliest when the target has none (a full stream
   * sends the earliest, {@code ReplicationPlanner}). zfs-send(8) {@code -t}: the resume needs it on
   * the source.
   */
  static Set<String> chainNeeds(List<Snapshot> snaps, Set<String> onTarget, boolean savedState) {
    Set<String> chain = new java.util.LinkedHashSet<>();
    int base = -1;
    for (int i = 0; i < snaps.size(); i++) {
      if (onTarget.contains(snaps.get(i).guid())) {
        base = i;
      }
    }
    if (base >= 0) {
      chain.add(snaps.get(base).name());
    }
    if (savedState && base + 1 < snaps.size()) {
      chain.add(snaps.get(base + 1).name());
    }
    return chain;
  }

  /**
   * {@code done}, and the part of a failed step the source must keep for the target: ZFS commits
   * each snapshot of an {@code -I} stream as it arrives, so one cut in the middle (or a send that
   * failed after its receive had it all) leaves the target a newer base than the step's {@code
   * from}; and a full stream cut short leaves a saved state ({@code receive -s}) whose resume needs
   * the step's snapshot on the source (zfs-send(8) {@code -t}: "cannot resume send: ... no longer
   * exists", and the next cycle starts that stream again from its first byte). The hold must go
   * there, or a pruner on the source could destroy that snapshot: the next cycle would find the
   * target diverged, or restart the full stream. The target is listed again, once (a saved state
   * that cannot be seen is taken as there).
   */
  List<ReplicationStep> partly(
      ZfsListing sourceListing,
      String dataset,
      String dst,
      ReplicationStep step,
      List<ReplicationStep> done) {
    if (!scope.holds()) {
      return done;
    }
    List<ReplicationStep> withPart = new ArrayList<>(done);
    // One listing of the target tells both what it kept and whether a saved state waits (a listing
    // that failed: nothing kept, and a saved state taken as there).
    boolean resumable = context.resumable(); // known once the target is listed
    TargetSide.Again again =
        route.target().listedNow(scope.runner(), scope.shortTimeout(), dst, resumable);
    Optional<ZfsListing> now = again.found();
    boolean savedState = resumable && now.map(l -> l.resumeToken(dst).isPresent()).orElse(true);
    Set<String> kept = new HashSet<>();
    now.ifPresent(l -> l.snapshots(dst).forEach(s -> kept.add(s.guid())));
    if (step instanceof ReplicationStep.Full full) {
      // arrived: the send failed after its receive had it all (ssh's 255 at the end)
      if (kept.contains(full.to().guid()) || savedState) {
        withPart.add(step);
      }
      return withPart;
    }
    ReplicationStep.Incremental inc = (ReplicationStep.Incremental) step;
    List<Snapshot> received = // those the stream may have committed
        sourceListing.snapshots(dataset).stream()
            .filter(
                s ->
                    s.createtxg() > inc.from().createtxg() && s.createtxg() <= inc.to().createtxg())
            .toList();
    if (now.isEmpty() && !received.isEmpty()) {
      // What the stream committed is not known: each snapshot it may have committed (the target's
      // base now, or the one its saved state resumes) stays held, with the old base, until the
      // dataset is sent or up to date again (then the ones no longer needed are stale).
      Set<String> maybe = new java.util.LinkedHashSet<>();
      received.forEach(s -> maybe.add(s.name()));
      resumes.put(dataset, maybe);
      String msg =
          ("could not list %s again after its failed step (%s), so what the stream committed there"
                  + " is not known: the holds on %s@%s and on every snapshot it may have committed"
                  + " (%s) stay on the source until the dataset is sent again")
              .formatted(
                  dst,
                  again.problem(),
                  dataset,
                  inc.from().name(),
                  "@" + String.join(", @", maybe));
      unknownParts.add(new Warning(dataset, ErrorKind.LIST_FAILED, msg, null));
      return withPart;
    }
    Optional<Snapshot> newest =
        received.stream().filter(s -> kept.contains(s.guid())).reduce((a, b) -> b);
    newest.ifPresent(n -> withPart.add(new ReplicationStep.Incremental(inc.from(), n)));
    // Cut where receives are resumable: the saved state resumes the snapshot after the newest the
    // target committed, and its resume (send -t) needs it on the source, as a full stream's does.
    long committed = newest.orElse(inc.from()).createtxg();
    received.stream()
        .filter(s -> s.createtxg() > committed)
        .findFirst()
        .filter(s -> savedState)
        .ifPresent(s -> resumes.put(dataset, Set.of(s.name())));
    return withPart;
  }

  /**
   * The hold to move once the transfer ends, when holds are on and a step went through. An old base
   * that no one holds (its own hold failed in an earlier cycle) has no hold to release, nor one
   * that could be said to stay in place. A full stream's snapshot that is held (by {@link #partly},
   * when an earlier cycle's full stream was cut, and the resume was then aborted) is released like
   * an old base: where {@code zfs holds} does not exist (zfs-fuse), nothing else would release it
   * (a release of a tag it does not carry is harmless).
   */
  Holds.Move moved(ZfsListing sourceListing, String dataset, List<ReplicationStep> done) {
    Holds.Move m = scope.holds() ? Holds.Move.after(dataset, done) : null;
    String old = m == null ? null : m.released();
    if (m != null && old == null && done.get(0) instanceof ReplicationStep.Full full) {
      old = dataset + "@" + full.to().name(); // released like an old base, when held
    }
    if (old == null || heldNow(sourceListing, old)) {
      return old == null ? m : new Holds.Move(m.held(), old);
    }
    // Not held as listed: nothing to release, unless the early hold may have placed one (zfs's
    // answer named none): then released all the same (a tag that is not there is harmless), but
    // never said to stay in place.
    return early.maybe().contains(old)
        ? new Holds.Move(m.held(), old, false)
        : new Holds.Move(m.held(), null);
  }

  /**
   * Held as listed, or by this transfer's early hold. Not one it may have placed (zfs's answer did
   * not say): a warning would then claim a hold that is probably not there.
   */
  private boolean heldNow(ZfsListing sourceListing, String snapshot) {
    return !sourceListing.unheld(HoldAnswers.datasetOf(snapshot), HoldAnswers.nameOf(snapshot))
        || early.created().contains(snapshot);
  }
}
