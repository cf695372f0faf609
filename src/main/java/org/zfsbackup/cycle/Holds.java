package org.zfsbackup.cycle;

import static org.zfsbackup.cycle.HoldAnswers.datasetOf;
import static org.zfsbackup.cycle.HoldAnswers.nameOf;
import static org.zfsbackup.cycle.HoldAnswers.named;
import static org.zfsbackup.cycle.HoldAnswers.notHeld;
import static org.zfsbackup.cycle.HoldAnswers.notReleased;
import static org.zfsbackup.cycle.HoldAnswers.unclear;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * source cannot break the next incremental. A hold that cannot be placed or released is a {@link
 * Warning}, never a failure: the data is on the target either way.
 *
 * <p>Batched: a transfer {@link #holdEarly holds} each dataset's newest snapshot before its first
 * stream (the base it will most likely end on: held from then on, not only once the whole pass of a
 * host, which can take hours, is over), collects what each dataset needs ({@link Move}s, and
 * up-to-date bases that have no hold) and {@link #apply}s it once at its end, in one {@code zfs
 * hold} and one {@code zfs release} per {@link Batches#SIZE} snapshots, instead of two calls (two
 * ssh commands) per dataset. zfs handles each snapshot of such a call on its own and names the ones
 * it could not handle (zfs-hold(8); {@code zfs_do_hold_rele_impl} in OpenZFS's zfs_main.c), so one
 * bad snapshot costs only its own hold. An old base is released only once its replacement is held.
 */
final class Holds {
  private static final Logger LOG = LoggerFactory.getLogger(Holds.class);

  /**
   * A dataset's base moved: {@code held} (its newest received snapshot) is to be held, then {@code
   * released} (the base the cycle started from, which the agent held before) let go; null when the
   * dataset had no base yet. {@code releasedHeld} false: it may carry no hold (an early hold whose
   * answer named none), so it is released but never said to stay in place.
   */
  record Move(String held, String released, boolean releasedHeld) {
    /** {@code released} is known to carry the hold ({@code releasedHeld}). */
    Move(String held, String released) {
      this(held, released, true);
    }

    /**
     * The move after {@code done}, the steps of a plan that went through (in order): the last one's
     * snapshot becomes the base; the first one's {@code from}, when incremental, was the old one.
     * Null when no step went through.
     */
    static Move after(String dataset, List<ReplicationStep> done) {
      if (done.isEmpty()) {
        return null;
      }
      String held = dataset + "@" + done.get(done.size() - 1).to().name();
      String released =
          done.get(0) instanceof ReplicationStep.Incremental inc
              ? dataset + "@" + inc.from().name()
              : null;
      return new Move(held, released);
    }
  }

  /**
   * What {@link #apply} did not do: a warning for each snapshot it could not hold or release, and
   * the datasets whose new base it could not hold.
   */
  record Applied(List<Warning> warnings, Set<String> notHeld) {}

  /**
   * What {@link #holdEarly} did: the snapshots that carry this tag now, those of them it held
   * itself (the others had it already), and those it may have held (zfs's answer was cut, or named
   * none of them: a timeout, ssh gone). The last two are let go again unless they end as a base
   * ({@link #notKept}).
   */
  record Early(Set<String> held, Set<String> created, Set<String> maybe) {
    static final Early NONE = new Early(Set.of(), Set.of(), Set.of());

    /**
     * The early holds to let go: those placed (or maybe placed) on a snapshot that did not become
     * its dataset's base, per {@code keep} (dataset to the snapshot names that stay held).
     */
    List<String> notKept(Map<String, Set<String>> keep) {
      Set<String> placed = new java.util.TreeSet<>(created);
      placed.addAll(maybe);
      return placed.stream()
          .filter(snap -> !keep.getOrDefault(datasetOf(snap), Set.of()).contains(nameOf(snap)))
          .toList();
    }
  }

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
   * Holds {@code snapshots} before any stream: a source's pruner (zfs-auto-snapshot keeps its
   * newest snapshot about an hour) cannot destroy a new base between its receive and the end of the
   * pass, which would leave the target with a snapshot the source no longer has (diverged, on both
   * tiers once pushed). No warning here: a snapshot it could not hold is held again, and warned
   * about, by {@link #apply}, once it is known to be a base.
   */
  Early holdEarly(List<String> snapshots) {
    Set<String> held = new HashSet<>();
    Set<String> created = new HashSet<>();
    Set<String> maybe = new HashSet<>();
    for (List<String> batch : Batches.of(snapshots)) {
      ProcessResult h = run(ZfsCommands.hold(tag, batch));
      if (!h.ok() && unclear(batch, h.stderrTail())) {
        maybe.addAll(batch); // held again at the end where a base, else released
        continue;
      }
      List<String> failed = h.ok() ? List.of() : notHeld(batch, h.stderrTail());
      for (String snap : batch) {
        if (!failed.contains(snap)) {
          held.add(snap);
          if (h.ok() || !h.stderrTail().contains("'" + snap + "': tag already exists")) {
            created.add(snap);
          }
        }
      }
    }
    return new Early(held, created, maybe);
  }

  /**
   * Holds the new bases of {@code moves} and the {@code unheld} up-to-date bases that {@code early}
   * did not hold already, then releases the old bases whose replacement is held, and the early
   * holds in {@code unused} (not a base after all): in that order, so that a dataset always has a
   * held base. When a new hold fails, the old one stays (and its warning says so). {@code
   * heldUnheld} hears how many of {@code unheld} were held.
   */
  Applied apply(
      List<Move> moves,
      List<String> unheld,
      Early early,
      List<String> unused,
      IntConsumer heldUnheld) {
    List<String> toHold = new ArrayList<>();
    moves.forEach(m -> toHold.add(m.held()));
    toHold.addAll(unheld);
    toHold.removeAll(early.held());
    // The moves whose old base is to be let go once the new one is held.
    List<Move> replacing =
        moves.stream().filter(m -> m.released() != null && !m.released().equals(m.held())).toList();
    List<Warning> warnings = new ArrayList<>();
    Set<String> notHeld = new HashSet<>();
    for (Answer a : answered(batch -> ZfsCommands.hold(tag, batch), toHold)) {
      ProcessResult h = a.result();
      if (h.ok()) {
        continue;
      }
      for (String snap : notHeld(a.batch(), h.stderrTail())) {
        notHeld.add(snap);
        Warning w = holdFailed(datasetOf(snap), snap, h);
        for (Move m : replacing) {
          if (m.held().equals(snap) && m.releasedHeld()) {
            String msg = w.message() + "; the hold on " + m.released() + " stays in place";
            w = new Warning(w.dataset(), w.kind(), msg, h);
          }
        }
        warnings.add(w);
      }
    }
    int held = (int) unheld.stream().filter(s -> !notHeld.contains(s)).count();
    if (held > 0) {
      heldUnheld.accept(held);
    }
    // Never the old base before its replacement is held: pruning could then break the chain.
    List<String> toRelease =
        new ArrayList<>(
            replacing.stream()
                .filter(m -> !notHeld.contains(m.held()))
                .map(Move::released)
                .toList());
    // Once each; and not an old base whose replacement could not be held, though the early hold
    // placed it (a full stream's snapshot), which then stays as its warning says.
    Set<String> staying =
        replacing.stream()
            .filter(m -> notHeld.contains(m.held()))
            .map(Move::released)
            .collect(java.util.stream.Collectors.toSet());
    unused.stream()
        .filter(u -> !toRelease.contains(u) && !staying.contains(u))
        .forEach(toRelease::add);
    warnings.addAll(release(toRelease, ""));
    Set<String> datasets = new HashSet<>();
    notHeld.forEach(snap -> datasets.add(datasetOf(snap)));
    return new Applied(warnings, datasets);
  }

  /** Releases this tag from {@code snapshots}; a warning for each whose hold may remain. */
  private List<Warning> release(List<String> snapshots, String why) {
    List<Warning> warnings = new ArrayList<>();
    for (Answer a : answered(batch -> ZfsCommands.release(tag, batch), snapshots)) {
      ProcessResult rel = a.result();
      for (String old : rel.ok() ? List.<String>of() : notReleased(a.batch(), rel.stderrTail())) {
        // Not named by zfs (ssh or a stop ended it, or its line was cut): it may have gone through.
        String could = named(rel.stderrTail(), old) ? "could not release" : "may not have released";
        String msg = could + " the hold on " + old + why + ": " + rel.describe();
        warnings.add(new Warning(datasetOf(old), ErrorKind.RELEASE_FAILED, msg, rel));
      }
    }
    return warnings;
  }

  /** What zfs answered for {@code batch}: each of its snapshots named, or none (see below). */
  record Answer(List<String> batch, ProcessResult result) {}

  /**
   * Runs {@code command} over {@code snapshots} in batches, with each answer whole: where zfs named
   * more snapshots than the stderr tail keeps ({@link ProcessResult#STDERR_LINES}), those it did
   * not name are asked again, until each is named or the answer is whole. Repeating a hold or a
   * release answers "tag already exists" or "no such tag" for one that went through, which is
   * harmless. Not for the early hold, which tells the holds it placed from those that were there.
   */
  private List<Answer> answered(
      java.util.function.Function<List<String>, List<String>> command, List<String> snapshots) {
    List<Answer> answers = new ArrayList<>();
    for (List<String> batch : Batches.of(snapshots)) {
      List<String> rest = batch;
      while (!rest.isEmpty()) {
        ProcessResult r = run(command.apply(rest));
        String err = r.stderrTail();
        List<String> named = rest.stream().filter(s -> named(err, s)).toList();
        boolean cut =
            !r.ok()
                && err.lines().count() >= ProcessResult.STDERR_LINES
                && !named.isEmpty()
                && named.size() < rest.size();
        answers.add(new Answer(cut ? named : rest, r));
        List<String> asked = rest;
        rest = cut ? asked.stream().filter(s -> !named.contains(s)).toList() : List.of();
      }
    }
    return answers;
  }

  /** The stale holds of this tag released ({@link StaleHolds}). */
  List<Warning> releaseStale(Map<String, Set<String>> keep, ZfsListing listing) {
    return new StaleHolds(runner, source, tag, timeout).release(keep, listing);
  }

  private Warning holdFailed(String dataset, String snap, ProcessResult h) {
    // Not named by zfs (ssh or a stop ended it, or its line was cut): it may have gone through.
    String could = named(h.stderrTail(), snap) ? "could not hold " : "may not have held ";
    String msg =
        could
            + snap
            + " (a pruner on the source could take it, and the next incremental, or the resume of"
            + " an interrupted receive, needs it): "
            + h.describe();
    return new Warning(dataset, ErrorKind.HOLD_FAILED, msg, h);
  }

  private ProcessResult run(List<String> zfsArgs) {
    return runner.run(source.zfs(zfsArgs), timeout);
  }
}
