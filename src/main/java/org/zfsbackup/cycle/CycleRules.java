package org.zfsbackup.cycle;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.plan.PlanOutcome;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.DatasetName;

/**
 * The pure rules of one cycle that {@link BackupCycle} applies: which datasets a limited run
 * selects, where a pushed dataset lands, which backup copies the push holds back, which names are
 * too long to receive, and the cycle's outcome. Table-tested in {@code CycleRulesTest}.
 */
final class CycleRules {
  private CycleRules() {}

  /** The pull failures that mean a backup copy is not what its source sent. */
  private static final Set<ErrorKind> NOT_FROM_SOURCE =
      EnumSet.of(
          ErrorKind.DIVERGED,
          ErrorKind.NO_COMMON_SNAPSHOT,
          ErrorKind.TARGET_EXISTS,
          ErrorKind.TARGET_MODIFIED);

  /** {@link #nameTooLong} or {@link #nameTaken}, with its kind: nothing is sent. */
  static Optional<Map.Entry<ErrorKind, String>> namesRefused(
      Phase phase,
      String dst,
      PlanOutcome.Send send,
      List<Snapshot> source,
      List<Snapshot> target) {
    return nameTooLong(phase, dst, send, source)
        .map(why -> Map.entry(ErrorKind.NAME_TOO_LONG, why))
        .or(
            () ->
                nameTaken(dst, send, source, target)
                    .map(why -> Map.entry(ErrorKind.SNAPSHOT_NAME_TAKEN, why)));
  }

  /**
   * Why {@code send} cannot be received at {@code dst}: a name it would make there (the dataset, or
   * one of the snapshots it carries from {@code source}) is longer than ZFS allows, since the
   * target root and the source's name lengthen it. zfs receive would say only "invalid name".
   */
  static Optional<String> nameTooLong(
      Phase phase, String dst, PlanOutcome.Send send, List<Snapshot> source) {
    List<String> carried = send.carried(source).stream().map(Snapshot::name).toList();
    String shorter = phase == Phase.PULL ? "pull.target or source name" : "push.target";
    // Why first, the name last: Home Assistant's Last error shows the first 255 characters.
    return DatasetName.tooLong(dst, carried)
        .map(
            name ->
                ("a name on the target would be %d characters, and ZFS allows %d: nothing was"
                        + " sent; a shorter %s would fit it. The name: '%s'")
                    .formatted(name.length(), DatasetName.MAX_NAME, shorter, name));
  }

  /**
   * Why {@code send} cannot be received at {@code dst}: a snapshot it carries from {@code source}
   * has the name of another snapshot of the target ({@code target}, by guid): one destroyed on the
   * source and taken again under its name ({@code @before-upgrade}, at the next upgrade). ZFS
   * refuses to receive it ("destination already exists"), and would every night. Renaming the
   * target's keeps it, and lets the stream through.
   */
  static Optional<String> nameTaken(
      String dst, PlanOutcome.Send send, List<Snapshot> source, List<Snapshot> target) {
    Map<String, String> guids = new HashMap<>();
    target.forEach(t -> guids.put(t.name(), t.guid()));
    List<String> taken =
        send.carried(source).stream()
            .filter(s -> guids.containsKey(s.name()) && !guids.get(s.name()).equals(s.guid()))
            .map(Snapshot::name)
            .toList();
    if (taken.isEmpty()) {
      return Optional.empty();
    }
    String name = taken.get(0);
    String guid = guids.get(name);
    String suffix =
        guid.substring(Math.max(0, guid.length() - 6)); // unique: the name may come back
    return Optional.of(
        ("%s@%s is another snapshot than the source's @%s (most likely that name was destroyed on the"
                + " source and taken again), and ZFS refuses to receive a second one: nothing was"
                + " sent."
                + " Rename the target's, which keeps it: zfs rename %s@%s %s@%s-%s%s; the next"
                + " cycle goes on")
            .formatted(
                dst,
                name,
                name,
                dst,
                name,
                dst,
                name,
                suffix,
                taken.size() > 1
                    ? " (the same for @" + String.join(", @", taken.subList(1, taken.size())) + ")"
                    : ""));
  }

  /**
   * The backup copies the push leaves alone this cycle, with the reason: those whose pull was
   * refused because the copy holds snapshots its source did not send (diverged, or got them while
   * the cycle ran: target_modified), shares none with it, or is not the agent's. Pushing them would
   * carry the same problem offsite, and move the push's hold onto a snapshot the documented fix
   * ({@code zfs rollback -r}) has to destroy. Another pull failure (an unreachable host) leaves the
   * copy as the last cycle made it, and it is pushed as usual.
   */
  static Map<String, String> heldBack(List<DatasetResult> pulled) {
    Map<String, String> heldBack = new HashMap<>();
    for (DatasetResult d : pulled) {
      if (d.phase() == Phase.PULL && NOT_FROM_SOURCE.contains(d.kind())) {
        heldBack.put(
            d.target(),
            "not pushed: its pull was refused this cycle ("
                + d.kind().wire()
                + "), and pushing it would carry that offsite; fix the backup copy as the pull"
                + " error says, then run again");
      }
    }
    return heldBack;
  }

  /**
   * In a dry run, the backup datasets its pull would create (a full stream into a dataset that is
   * not there) and their parents below {@code pullTarget}, with the reason a plan gives for a push
   * root among them that does not exist yet: the run's pull creates it, then its push sends it.
   * Empty for a real cycle, where they exist by the time the push lists them.
   */
  static Map<String, String> notThereYet(
      List<DatasetResult> pulled, boolean dryRun, String pullTarget) {
    Map<String, String> notYet = new HashMap<>();
    for (DatasetResult d : dryRun ? pulled : List.<DatasetResult>of()) {
      boolean creates =
          d.phase() == Phase.PULL
              && d.status() == Status.SENT
              && d.plan() != null
              && d.plan().matches("(would send )?full @.*");
      for (String t = d.target();
          creates && DatasetName.isWithin(t, pullTarget) && !t.equals(pullTarget);
          t = t.substring(0, t.lastIndexOf('/'))) {
        notYet.putIfAbsent(
            t, "not there yet: the pull of this cycle would create it, and a run pushes it then");
      }
    }
    return notYet;
  }

  /**
   * The contract's path mapping: the local dataset minus {@code strip_prefix}, below {@code
   * target}.
   */
  static UnaryOperator<String> pushMapping(PushConfig p) {
    String prefix = p.stripPrefix();
    return d -> {
      if (d.equals(prefix)) {
        return p.target();
      }
      if (!d.startsWith(prefix + "/")) {
        throw new IllegalArgumentException(d + " is not below strip_prefix " + prefix);
      }
      return p.target() + d.substring(prefix.length());
    };
  }

  /**
   * The cycle's outcome: as the stop made it, else {@code success} when nothing failed, {@code
   * partial} when something failed and something was backed up (a pull sent or up to date, a push
   * that sent), {@code failed} when nothing was. A push that found a backup copy (below {@code
   * pullTarget}) up to date offsite is not counted: with every pull failed, it only confirms the
   * copies of an earlier night; a dataset of this machine's own that is pushed counts as a pull.
   */
  static Outcome outcome(List<DatasetResult> results, CycleControl control, String pullTarget) {
    if (control.stopRequested()) {
      return switch (control.stopReason()) {
        case SUSPEND -> Outcome.SUSPENDED;
        case CANCEL -> Outcome.CANCELLED;
        case INTERRUPT -> Outcome.INTERRUPTED;
      };
    }
    long failed = results.stream().filter(r -> r.status() == Status.FAILED).count();
    long good =
        results.stream()
            .filter(
                r ->
                    r.status() == Status.SENT
                        || r.status() == Status.UP_TO_DATE
                            && (r.phase() == Phase.PULL
                                || !DatasetName.isWithin(r.dataset(), pullTarget)))
            .count();
    if (failed == 0) {
      return Outcome.SUCCESS;
    }
    return good > 0 ? Outcome.PARTIAL : Outcome.FAILED;
  }

  /**
   * The datasets of {@code source} a request is limited to ({@code source:dataset} entries, each
   * selecting that dataset and its children); null when the request is not limited.
   */
  static Set<String> selection(CycleRequest request, SourceConfig source) {
    return roots(request, List.of(source), (s, d) -> d);
  }

  /** A limited run pushes only what it pulled: {@code pull.target/<source>/<dataset>} and below. */
  static Set<String> pushSelection(
      CycleRequest request, List<SourceConfig> sources, String pullTarget) {
    return roots(request, sources, (s, d) -> pullTarget + "/" + s + "/" + d);
  }

  /**
   * Each configured dataset of {@code sources} whose {@code source:dataset} entry the request
   * names, through {@code root}; null when the request is not limited. Matched whole, never split
   * at a ':', which source names and dataset names may both contain.
   */
  private static Set<String> roots(
      CycleRequest request, List<SourceConfig> sources, BinaryOperator<String> root) {
    if (!request.limited()) {
      return null;
    }
    Set<String> roots = new LinkedHashSet<>();
    for (SourceConfig s : sources) {
      s.datasets().stream()
          .filter(d -> request.only().contains(s.name() + ":" + d))
          .forEach(d -> roots.add(root.apply(s.name(), d)));
    }
    return roots;
  }
}
