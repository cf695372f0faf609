package org.zfsbackup.cycle;

import static org.zfsbackup.cycle.HoldAnswers.datasetOf;
import static org.zfsbackup.cycle.HoldAnswers.named;
import static org.zfsbackup.cycle.HoldAnswers.noHoldsCommand;
import static org.zfsbackup.cycle.HoldAnswers.notReleased;
import static org.zfsbackup.cycle.HoldAnswers.tagged;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * The holds of one tag on a source that are stale: on snapshots that are no longer a base (a
 * release that failed once, a base that moved while the agent was not running, a crash before the
 * end of a pass). Released at the end of each pass, after {@link Holds#apply}.
 */
final class StaleHolds {
  // Logs as Holds: its lines stay those of the holds (the class was split out of it).
  private static final Logger LOG = LoggerFactory.getLogger(Holds.class);

  private final ProcessRunner runner;
  private final Endpoint source;
  private final String tag;
  private final Duration timeout;

  StaleHolds(ProcessRunner runner, Endpoint source, String tag, Duration timeout) {
    this.runner = runner;
    this.source = source;
    this.tag = tag;
    this.timeout = timeout;
  }

  /**
   * Releases this tag's holds on the snapshots of {@code keep}'s datasets that are not to be kept
   * (no longer a base): those the listing shows held by anyone are asked about with {@code zfs
   * holds} (OpenZFS; a batch per call), and those carrying this tag released. Other tags are never
   * touched. Where {@code zfs holds} does not exist (zfs-fuse), the tag is released without asking
   * ({@link #releaseUnasked}), and that is logged once per host.
   *
   * @param keep per dataset that ended this phase sent or up to date (or failed with a part kept on
   *     the target), the snapshots whose holds stay (its base, and the one {@link Holds#apply}
   *     moved its hold from, or kept when the new hold failed)
   */
  List<Warning> release(Map<String, Set<String>> keep, ZfsListing listing) {
    List<String> candidates = new ArrayList<>();
    keep.forEach(
        (dataset, kept) ->
            listing.held(dataset).stream()
                .filter(s -> !kept.contains(s))
                .sorted()
                .forEach(s -> candidates.add(dataset + "@" + s)));
    List<Warning> warnings = new ArrayList<>();
    if (candidates.isEmpty()) {
      return warnings;
    } else if (NO_HOLDS_COMMAND.contains(zfsOfThisSide())) {
      return releaseUnasked(candidates);
    }
    List<String> stale = new ArrayList<>();
    for (List<String> batch : Batches.of(candidates)) {
      ProcessResult r = run(ZfsCommands.holds(batch));
      if (!r.ok()) {
        if (noHoldsCommand(r)) {
          if (NO_HOLDS_COMMAND.add(zfsOfThisSide())) {
            LOG.info(
                "{}: this zfs has no `zfs holds` (zfs-fuse): this tag is released from the held"
                    + " snapshots that are no longer a base without asking which carry it",
                source.label());
          }
          return releaseUnasked(candidates);
        }
        String dataset = datasetOf(batch.get(0));
        String msg =
            "could not list the holds of "
                + batch.size()
                + " snapshot(s) to release"
                + " those no longer a base: "
                + r.describe();
        warnings.add(new Warning(dataset, ErrorKind.RELEASE_FAILED, msg, r));
        continue;
      }
      stale.addAll(tagged(r.stdout(), tag));
    }
    for (List<String> batch : Batches.of(stale)) {
      ProcessResult rel = run(ZfsCommands.release(tag, batch));
      if (rel.ok()) {
        LOG.info(
            "{}: released the holds {} on {} snapshot(s) that are no longer a base",
            source.label(),
            tag,
            batch.size());
      } else {
        String dataset = datasetOf(batch.get(0));
        String msg =
            "could not release the holds on snapshots that are no longer a base: " + rel.describe();
        warnings.add(new Warning(dataset, ErrorKind.RELEASE_FAILED, msg, rel));
      }
    }
    return warnings;
  }

  /**
   * Where zfs has no {@code zfs holds} (zfs-fuse), this tag is released from every candidate
   * without asking which carry it: one that does not answers "no such tag" (one destroyed meanwhile
   * "dataset does not exist"), which is harmless, and other tags are never touched. Without it, a
   * hold left by a crash, a failed release or a failed new hold would pin its snapshot for ever.
   */
  private List<Warning> releaseUnasked(List<String> candidates) {
    List<Warning> warnings = new ArrayList<>();
    for (List<String> batch : Batches.of(candidates)) {
      // One call per batch, never asked again: most candidates answer "no such tag" (another
      // tool's hold, there at every pass), which fills the stderr tail; what this leaves held is
      // tried again at the next pass. Warned about: a snapshot zfs names with another error.
      ProcessResult rel = run(ZfsCommands.release(tag, batch));
      if (!rel.ok() && batch.stream().noneMatch(s -> named(rel.stderrTail(), s))) {
        // No answer at all (ssh gone, a timeout): said once for the batch, every pass it lasts.
        String msg =
            "may not have released this tag from "
                + batch.size()
                + " held snapshot(s) that are no longer a base: "
                + rel.describe();
        warnings.add(new Warning(datasetOf(batch.get(0)), ErrorKind.RELEASE_FAILED, msg, rel));
        continue;
      }
      for (String old : rel.ok() ? List.<String>of() : notReleased(batch, rel.stderrTail())) {
        if (named(rel.stderrTail(), old)) {
          String msg =
              "could not release the hold on " + old + " (no longer a base): " + rel.describe();
          warnings.add(new Warning(datasetOf(old), ErrorKind.RELEASE_FAILED, msg, rel));
        }
      }
    }
    LOG.debug(
        "{}: released {} from {} held snapshot(s) no longer a base, where it was there",
        source.label(),
        tag,
        candidates.size());
    return warnings;
  }

  /**
   * The zfs commands ({@link #zfsOfThisSide}) that have no {@code holds} subcommand, logged once.
   */
  private static final Set<String> NO_HOLDS_COMMAND = ConcurrentHashMap.newKeySet();

  /**
   * The side and the zfs it runs: two sides on this machine ({@code local}) with different {@code
   * commands.zfs} are not the same zfs.
   */
  private String zfsOfThisSide() {
    return source.label() + " " + source.zfs();
  }

  private ProcessResult run(List<String> zfsArgs) {
    return runner.run(source.zfs(zfsArgs), timeout);
  }
}
