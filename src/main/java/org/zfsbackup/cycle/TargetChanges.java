package org.zfsbackup.cycle;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.ReceiveRules;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * What one {@link Transfer} changes on the target besides the streams: the missing parents, created
 * as the agent's placeholders (unless a failed parent belongs there), the placeholder mark removed
 * once the real dataset replaced it, and {@code canmount=off} on every backup.
 */
final class TargetChanges {
  private final TransferContext.Scope scope;
  private final TargetSide target;
  private final TransferEvents events;

  TargetChanges(TransferContext context, TransferEvents events) {
    this.scope = context.scope();
    this.target = context.route().target();
    this.events = events;
  }

  /**
   * The target's missing parents, created top-down, unless a source dataset that failed this phase
   * ({@code failed}) belongs where one would go: then the dataset is skipped. The skipped or failed
   * result when the parents are not all there.
   */
  Optional<DatasetResult> parents(String dataset, String dst, String plan, Set<String> failed) {
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
        return Optional.of(events.skipped(dataset, dst, why));
      }
    }
    return createParents(dataset, dst, plan);
  }

  /** The target's missing parents, top-down; the failed result when one cannot be created. */
  private Optional<DatasetResult> createParents(String dataset, String dst, String plan) {
    for (String parent : target.missingParents(dst)) {
      ProcessResult c = scope.run(target.endpoint, ZfsCommands.createParent(parent));
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
   * Before a full stream replaces the placeholder {@code dst} with {@code receive -F}: the failed
   * result when it is not as the agent made it, unmountable and empty ({@link
   * ReceiveRules#placeholderInUse}), or when zfs cannot say so. Read-only: in a dry run too.
   */
  Optional<DatasetResult> placeholderInUse(String dataset, String dst, String plan) {
    ProcessResult r = scope.run(target.endpoint, ZfsCommands.placeholderUse(dst, true));
    if (!r.ok()) { // zfs-fuse has no logical sizes ("bad property list", then its whole usage)
      r = scope.run(target.endpoint, ZfsCommands.placeholderUse(dst, false));
    }
    Map<String, String> props = new HashMap<>();
    for (String line : r.ok() ? r.stdout().split("\n") : new String[0]) {
      String[] f = line.split("\t");
      if (f.length == 2) {
        props.put(f[0], f[1]);
      }
    }
    // What its files hold before compression, where zfs says (gzip made 8 MB of text 0.4 MiB).
    String referenced = props.getOrDefault("logicalreferenced", props.get("referenced"));
    referenced = referenced == null ? "" : referenced;
    if (!r.ok() || !referenced.matches("[0-9]{1,18}") || !props.containsKey("canmount")) {
      String msg =
          "could not check that the agent's placeholder "
              + dst
              + " is empty before replacing it (receive -F), so nothing was received: "
              + (r.ok() ? "zfs get gave no canmount and referenced in bytes" : r.describe());
      return Optional.of(events.failed(dataset, dst, ErrorKind.LIST_FAILED, msg, r, plan));
    }
    return ReceiveRules.placeholderInUse(
            dst, props.get("canmount"), props.get("mounted"), Long.parseLong(referenced))
        .map(why -> events.failed(dataset, dst, ErrorKind.TARGET_EXISTS, why, null, plan));
  }

  /** The placeholder was replaced by the real dataset: its mark goes (the dataset stays). */
  Optional<Warning> clearPlaceholder(String dst) {
    ProcessResult r = scope.run(target.endpoint, ZfsCommands.clearPlaceholder(dst));
    if (r.ok()) {
      return Optional.empty();
    }
    String msg = "could not remove the placeholder mark from " + dst + ": " + r.describe();
    return Optional.of(new Warning(dst, ErrorKind.WARNING, msg, r));
  }

  /**
   * Backups are never mounted: {@code canmount=off}, unless the listing shows it already, or the
   * dataset is a volume: {@code dataset} has no canmount in the {@code source} listing (OpenZFS
   * refuses the property on one, "'canmount' does not apply to datasets of this type").
   */
  Optional<Warning> canmountOff(String dst, ZfsListing source, String dataset) {
    if (source.contains(dataset)
        && source.dataset(dataset).flatMap(ZfsListing.Dataset::canmount).isEmpty()) {
      return Optional.empty();
    }
    ZfsListing known = target.listing();
    Optional<String> canmount =
        known == null ? Optional.empty() : known.dataset(dst).flatMap(ZfsListing.Dataset::canmount);
    if (canmount.isPresent() && canmount.get().equals("off")) {
      return Optional.empty();
    }
    if (known != null && known.contains(dst) && canmount.isEmpty()) {
      return Optional.empty(); // a volume: no canmount
    }
    ProcessResult r = scope.run(target.endpoint, ZfsCommands.canmountOff(dst));
    if (r.ok()) {
      return Optional.empty();
    }
    String msg = "could not set canmount=off on " + dst + ": " + r.describe();
    return Optional.of(new Warning(dst, ErrorKind.CANMOUNT_FAILED, msg, r));
  }
}
