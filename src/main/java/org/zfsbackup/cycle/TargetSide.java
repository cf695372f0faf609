package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.zfs.DatasetName;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * The receiving side of a phase: listed once (one process, whatever the number of datasets), then
 * kept up to date in memory as the phase creates and receives datasets. Thread-safe: the sources of
 * the pull phase (the trees of the push phase) share their target side and run side by side.
 */
final class TargetSide {
  private static final Logger LOG = LoggerFactory.getLogger(TargetSide.class);

  /** zfs's exit code for a usage error (an unknown property, option or command). */
  private static final int USAGE = 2;

  final Endpoint endpoint;
  final String root;
  private volatile ZfsListing listing;
  private volatile Problem problem;
  private volatile boolean resumeTokens;
  private final Set<String> existing = ConcurrentHashMap.newKeySet();
  private final Set<String> placeholders = ConcurrentHashMap.newKeySet();

  /** Why nothing can be sent to this side this phase. */
  record Problem(ErrorKind kind, String message) {}

  TargetSide(Endpoint endpoint, String root) {
    this.endpoint = endpoint;
    this.root = root;
  }

  /**
   * Lists the side on first use, with each dataset's placeholder mark and resume token; the
   * problem, if the listing failed or the root does not exist, else empty. The root is never
   * created: a typo or a pool that is not imported would put the backups somewhere else (and
   * unencrypted, outside an encrypted root).
   *
   * <p>A zfs without the token property (zfs-fuse: "bad property list: invalid property
   * 'receive_resume_token'", then its usage, exit code 2) is listed again without it; when that
   * listing works (or says only that the root is missing), the side has no resumable receives: the
   * property and {@code receive -s} came together (OpenZFS 0.7), so asking for it is the probe, at
   * the cost of one extra listing per cycle on such a side only, and none on OpenZFS.
   */
  synchronized Optional<Problem> ensureListed(ProcessRunner runner, Duration timeout) {
    if (listing == null && problem == null) {
      ProcessResult r = runner.run(endpoint.zfs(ZfsCommands.list(List.of(root), true)), timeout);
      resumeTokens = true;
      if (!r.ok()
          && (r.exitCode() == USAGE || r.stderrTail().contains(ZfsCommands.NO_RESUME_TOKENS))) {
        ProcessResult without = runner.run(endpoint.zfs(ZfsCommands.list(List.of(root))), timeout);
        if (without.ok() || Listings.onlyMissing(without, List.of(root))) {
          resumeTokens = false;
          LOG.info(
              "{}: zfs has no resumable receives (no {} property, as zfs-fuse): receiving there"
                  + " without -s",
              endpoint.label(),
              ZfsCommands.RESUME_TOKEN);
        }
        r = without;
      }
      if (r.ok()) {
        try {
          ZfsListing parsed = ZfsListing.parse(r.stdout());
          if (!Listings.leftOutInSilence(List.of(root), parsed, r).isEmpty()) {
            throw new ZfsListing.ListingException(
                "the listing of " + root + " exited 0 without it (a commands.zfs wrapper?)");
          }
          listing = parsed;
          listing.datasets().forEach(d -> existing.add(d.name()));
          listing.datasets().stream()
              .filter(ZfsListing.Dataset::placeholder)
              .forEach(d -> placeholders.add(d.name()));
        } catch (ZfsListing.ListingException e) {
          String msg = "target " + endpoint.label() + ": " + e.getMessage();
          problem = new Problem(ErrorKind.BAD_ZFS_OUTPUT, msg);
        }
      } else if (Listings.onlyMissing(r, List.of(root))) {
        String msg =
            "the target root "
                + root
                + " does not exist on "
                + endpoint.label()
                + ": nothing was created or sent. Create it (with the encryption you want), import"
                + " its pool, or correct the configured target";
        problem = new Problem(ErrorKind.TARGET_MISSING, msg);
      } else {
        problem =
            new Problem(
                ErrorKind.TARGET_UNREACHABLE,
                "cannot list the target " + root + " on " + endpoint.label() + ": " + r.describe());
      }
    }
    return Optional.ofNullable(problem);
  }

  ZfsListing listing() {
    return listing;
  }

  /** Whether this side's zfs has resumable receives (known once listed). */
  boolean resumable() {
    return resumeTokens;
  }

  /** The resume token of {@code dataset}'s interrupted receive, if the listing showed one. */
  Optional<String> resumeToken(String dataset) {
    return listing == null ? Optional.empty() : listing.resumeToken(dataset);
  }

  /** {@code dataset}'s saved state was aborted; {@code destroyed} when that removed it too. */
  void aborted(String dataset, boolean destroyed) {
    if (destroyed) {
      existing.remove(dataset);
      placeholders.remove(dataset);
    }
  }

  boolean exists(String dataset) {
    return existing.contains(dataset);
  }

  /** True when {@code dataset} is an empty parent the agent created (its placeholder mark). */
  boolean placeholder(String dataset) {
    return placeholders.contains(dataset);
  }

  /** A dataset received this phase: it exists, and is no placeholder (any more). */
  void created(String dataset) {
    existing.add(dataset);
    placeholders.remove(dataset);
  }

  /** A placeholder the agent created this phase. */
  void createdPlaceholder(String dataset) {
    existing.add(dataset);
    placeholders.add(dataset);
  }

  /**
   * A dataset that was found to exist when the agent went to create it: created meanwhile, by
   * another transfer of this phase (a placeholder it marked, and that stays known as one) or by
   * someone else (no placeholder of the agent's).
   */
  void appeared(String dataset) {
    existing.add(dataset);
  }

  /**
   * The ancestors of {@code dataset} that do not exist yet, top-down: only below the root, which
   * exists ({@link #ensureListed}), so never the root, nor anything above or beside it.
   */
  List<String> missingParents(String dataset) {
    List<String> missing = new java.util.ArrayList<>();
    if (!DatasetName.isWithin(dataset, root) || dataset.equals(root)) {
      return missing;
    }
    Optional<String> p = DatasetName.parent(dataset);
    while (p.isPresent() && !p.get().equals(root) && !existing.contains(p.get())) {
      missing.add(0, p.get());
      p = DatasetName.parent(p.get());
    }
    return missing;
  }

  /**
   * {@code dst} listed again on its own, with its resume token where {@code tokens} (an interrupted
   * receive's saved state): one that does not exist lists as nothing; empty, with a log line, when
   * that listing failed.
   */
  Again listedNow(ProcessRunner runner, Duration timeout, String dst, boolean tokens) {
    ProcessResult r = runner.run(endpoint.zfs(ZfsCommands.listOne(dst, tokens)), timeout);
    if (!r.ok() && Listings.onlyMissing(r, List.of(dst))) {
      return new Again(ZfsListing.parse(""), null);
    }
    return parsedAgain(r, dst);
  }

  /** A dataset listed again: its listing, or (null) the problem that kept it from being listed. */
  record Again(ZfsListing listing, String problem) {
    Optional<ZfsListing> found() {
      return Optional.ofNullable(listing);
    }
  }

  /**
   * The snapshots of {@code dst} as they are now, listed again on their own (after a refused
   * receive, a resume or an abort); empty, with a log line, when that listing fails.
   */
  Again snapshotsNow(ProcessRunner runner, Duration timeout, String dst) {
    return parsedAgain(runner.run(endpoint.zfs(ZfsCommands.listOne(dst)), timeout), dst);
  }

  /**
   * {@code dst} listed again, or (with a log line) why that listing failed; an answer without it
   * and without a word why (a {@code commands.zfs} wrapper) is not taken for a dataset without
   * snapshots.
   */
  private static Again parsedAgain(ProcessResult r, String dst) {
    String problem;
    try {
      ZfsListing listing = r.ok() ? ZfsListing.parse(r.stdout()) : null;
      if (listing != null && listing.contains(dst)) {
        return new Again(listing, null);
      }
      problem =
          listing == null
              ? r.describe()
              : "'" + String.join(" ", r.argv()) + "' exited 0 without it or a word why";
    } catch (ZfsListing.ListingException e) {
      problem = e.getMessage();
    }
    LOG.warn("cannot list {} again: {}", dst, problem);
    return new Again(null, problem);
  }
}
