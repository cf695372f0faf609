package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.zfs.DatasetName;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * The receiving side of a phase: listed once (one process, whatever the number of datasets), then
 * kept up to date in memory as the phase creates and receives datasets. Thread-safe: the sources
 * of the pull phase (the trees of the push phase) share their target side and run side by side.
 */
final class TargetSide {
  final Endpoint endpoint;
  final String root;
  private volatile ZfsListing listing;
  private volatile String listingError;
  private final Set<String> existing = ConcurrentHashMap.newKeySet();

  TargetSide(Endpoint endpoint, String root) {
    this.endpoint = endpoint;
    this.root = root;
  }

  /** Lists the side on first use; the error, if the listing failed, else empty. */
  synchronized Optional<String> ensureListed(ProcessRunner runner, Duration timeout) {
    if (listing == null && listingError == null) {
      ProcessResult r = runner.run(endpoint.zfs(ZfsCommands.list(List.of(root))), timeout);
      if (r.ok() || Listings.onlyMissing(r, List.of(root))) {
        try {
          listing = ZfsListing.parse(r.stdout());
          listing.datasets().forEach(d -> existing.add(d.name()));
        } catch (ZfsListing.ListingException e) {
          listingError = "target " + endpoint.label() + ": " + e.getMessage();
        }
      } else {
        listingError = "cannot list the target " + root + " on " + endpoint.label() + ": " + r.describe();
      }
    }
    return Optional.ofNullable(listingError);
  }

  ZfsListing listing() {
    return listing;
  }

  boolean exists(String dataset) {
    return existing.contains(dataset);
  }

  void created(String dataset) {
    existing.add(dataset);
  }

  /** The ancestors of {@code dataset} that do not exist yet, top-down (never the pool itself). */
  List<String> missingParents(String dataset) {
    List<String> missing = new java.util.ArrayList<>();
    Optional<String> p = DatasetName.parent(dataset);
    while (p.isPresent() && p.get().contains("/") && !existing.contains(p.get())) {
      missing.add(0, p.get());
      p = DatasetName.parent(p.get());
    }
    return missing;
  }
}
