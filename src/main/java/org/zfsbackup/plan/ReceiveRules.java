package org.zfsbackup.plan;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The rules that keep a receive from destroying anything on the target, as pure decisions: how a
 * step may be received ({@link #mode}), what a refused incremental means once the target is listed
 * again ({@link #afterRefusal}), and whether a dataset's missing parents may be created as
 * placeholders ({@link #blockingAncestor}).
 *
 * <p>{@code zfs receive -F} rolls the target back and, for an incremental, destroys the target's
 * snapshots that the stream does not carry (zfs-receive(8), "-F"). So it is used only for a full
 * stream that must replace an empty placeholder the agent itself created; an incremental is
 * received without it, and a target that changed since the listing makes the receive fail.
 */
public final class ReceiveRules {
  private ReceiveRules() {}

  /**
   * What the target listing says about a step's target dataset.
   *
   * @param placeholder the dataset carries the agent's placeholder mark (created empty by it)
   * @param hasSnapshots the dataset has at least one snapshot
   */
  public record Target(boolean exists, boolean placeholder, boolean hasSnapshots) {
    public static final Target ABSENT = new Target(false, false, false);
  }

  /** How one step is received. */
  public sealed interface Mode {
    /** A plain {@code zfs receive}: a new dataset, or an incremental onto the base. */
    record Plain() implements Mode {}

    /** {@code zfs receive -F}: a full stream replaces the agent's empty placeholder. */
    record ReplacePlaceholder() implements Mode {}

    /** Not received at all: the target exists and is not the agent's to replace. */
    record Refused(String why) implements Mode {}
  }

  /**
   * How {@code step} may be received into {@code dst}. An incremental is always plain (the planner
   * found its base on the target). A full stream is plain into a dataset that does not exist, uses
   * {@code -F} only on the agent's placeholder without snapshots, and is refused on anything else
   * (a dataset someone else created, or that has snapshots): {@code -F} would destroy it.
   */
  public static Mode mode(String dst, ReplicationStep step, Target target) {
    if (step instanceof ReplicationStep.Incremental || !target.exists()) {
      return new Mode.Plain();
    }
    if (target.placeholder() && !target.hasSnapshots()) {
      return new Mode.ReplacePlaceholder();
    }
    if (target.hasSnapshots()) {
      return new Mode.Refused(
          dst
              + " exists with snapshots; a full stream would have to destroy them, so nothing"
              + " was received (rename or destroy "
              + dst
              + " by hand to start it afresh)");
    }
    return new Mode.Refused(
        dst
            + " exists and is not an empty placeholder created by this agent; a full stream"
            + " would have to destroy it, so nothing was received (rename or destroy "
            + dst
            + " by hand, or, if it is empty and may be replaced, mark it with `zfs set "
            + PLACEHOLDER_PROPERTY
            + "="
            + dst
            + " "
            + dst
            + "` and `zfs set canmount=off "
            + dst
            + "`)");
  }

  /**
   * Whether the resume of an interrupted receive into {@code target} takes {@code -F}: only into
   * the agent's placeholder without snapshots, whose saved state is a full stream's. OpenZFS 2.2
   * and later refuse to resume a full stream into an existing dataset without it ("Resuming recv on
   * existing destination ... must specify -F to overwrite it", lib/libzfs/libzfs_sendrecv.c); there
   * it has nothing to destroy. Never anywhere else: at the end of an incremental's {@code -F}
   * receive OpenZFS destroys the target's snapshots newer than its base (module/zfs/dmu_recv.c,
   * {@code dmu_recv_end_check}), and a new dataset's partial first receive needs none.
   */
  public static boolean resumeWithForce(Target target) {
    return target.exists() && target.placeholder() && !target.hasSnapshots();
  }

  /**
   * The most an empty filesystem references: zfs-fuse's takes 112 KiB (ashift 12), OpenZFS's tens
   * to a few hundred KiB (more with encryption or a large ashift). A placeholder that references
   * more holds files.
   */
  public static final long EMPTY_REFERENCED_MAX = 1L << 20;

  /**
   * Why the placeholder {@code dst}, about to be replaced ({@link Mode.ReplacePlaceholder}), may
   * hold someone's files, from its {@code canmount}, {@code mounted} and {@code referenced} as zfs
   * reads them now: the agent creates it unmountable and empty, and {@code -F} would replace the
   * files with the stream's (zfs-receive(8), "-F"). Empty when it is as the agent made it.
   */
  public static Optional<String> placeholderInUse(
      String dst, String canmount, String mounted, long referenced) {
    String why =
        "yes".equals(mounted)
            ? "is mounted"
            : !"off".equals(canmount)
                ? "has canmount=" + canmount + " (the agent made it off)"
                : referenced > EMPTY_REFERENCED_MAX
                    ? ("holds %d bytes of its own (referenced, before compression; an empty one"
                            + " holds about 100 KiB)")
                        .formatted(referenced)
                    : null;
    return Optional.ofNullable(why)
        .map(
            w ->
                ("%s is the agent's placeholder but %s: someone may have written files into it,"
                        + " which the full stream (receive -F) would replace, so nothing was"
                        + " received. Look inside it (zfs set canmount=noauto %s; zfs mount %s),"
                        + " move out what you need and empty it, then zfs umount %s and zfs set"
                        + " canmount=off %s: the next cycle replaces it")
                    .formatted(dst, w, dst, dst, dst, dst));
  }

  /** The user property that marks the agent's placeholders; its value is the dataset's name. */
  public static final String PLACEHOLDER_PROPERTY = "org.zfsbackup:placeholder";

  /** What a refused incremental receive means, once the target has been listed again. */
  public sealed interface Refusal {
    /**
     * The base is still the target's newest snapshot: only the head was written since (atime on a
     * mounted dataset, a file written by hand). {@code zfs rollback} to the base, without {@code
     * -r}, undoes that and can destroy no snapshot (zfs-rollback(8)); then the step may be received
     * again, once.
     */
    record RollBackHead(Snapshot base) implements Refusal {}

    /** The target got snapshots after the base, or lost the base, since it was listed. */
    record TargetChanged(String what) implements Refusal {}

    /** Neither: the receive failed for its own reason, reported as such. */
    record Unexplained() implements Refusal {}
  }

  /**
   * Why an incremental receive from {@code base} was refused, given the target's snapshots now.
   *
   * @param headModified the receive said the destination "has been modified since most recent
   *     snapshot" (OpenZFS says so for new snapshots too; zfs-fuse says the most recent snapshot
   *     "does not match incremental source")
   */
  public static Refusal afterRefusal(
      String dst, Snapshot base, List<Snapshot> targetNow, boolean headModified) {
    int at = -1;
    for (int i = 0; i < targetNow.size(); i++) {
      if (targetNow.get(i).guid().equals(base.guid())) {
        at = i;
      }
    }
    if (at < 0) {
      return new Refusal.TargetChanged(
          "the incremental base (the source's "
              + base
              + ") is no longer on "
              + dst
              + " (destroyed since the listing); nothing was received");
    }
    Snapshot there = targetNow.get(at); // said of the target: by its name there
    List<Snapshot> newer = targetNow.subList(at + 1, targetNow.size());
    if (!newer.isEmpty()) {
      return new Refusal.TargetChanged(
          dst
              + " got "
              + newer.stream().map(Object::toString).collect(Collectors.joining(", "))
              + " after the incremental base "
              + there
              + " since it was listed (something else snapshots the backup datasets: sanoid,"
              + " zfs-auto-snapshot?); nothing was received and nothing was destroyed. Exclude"
              + " the backup tree from that tool; to resume, roll "
              + dst
              + " back to "
              + there
              + " by hand (zfs rollback -r "
              + dst
              + there
              + ", which destroys those snapshots)");
    }
    return headModified ? new Refusal.RollBackHead(there) : new Refusal.Unexplained();
  }

  /**
   * The ancestor of {@code dataset} (a source dataset name) that failed this cycle, if any: its
   * target does not exist yet, and a placeholder created in its place would stand where a real
   * dataset belongs (and could later refuse its full stream). The child waits for its parent.
   */
  public static Optional<String> blockingAncestor(String dataset, Set<String> failedThisCycle) {
    String d = dataset;
    for (int slash = d.lastIndexOf('/'); slash > 0; slash = d.lastIndexOf('/')) {
      d = d.substring(0, slash);
      if (failedThisCycle.contains(d)) {
        return Optional.of(d);
      }
    }
    return Optional.empty();
  }
}
