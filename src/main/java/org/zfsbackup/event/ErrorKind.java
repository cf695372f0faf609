package org.zfsbackup.event;

import java.util.Locale;

/**
 * Why the engine reported a {@link CycleEvent.Error}: one constant per kind, each documented here
 * and nowhere else in the code. {@link #wire()} is the {@code kind} on {@code T/error}; {@code
 * docs/mqtt.md} lists every constant (a test checks that it does).
 *
 * <p>A kind that fails a dataset fails that dataset only: the others go on. {@link #WARNING} fails
 * nothing. {@link #HOLD_FAILED}, {@link #RELEASE_FAILED}, {@link #CANMOUNT_FAILED}, {@link
 * #SSH_SHARING_FAILED}, {@link #DESTROY_FAILED}, {@link #PRUNE_FAILED}, {@link #RESUME_ABORTED} and
 * {@link #TARGET_ROLLED_BACK} are never a {@code kind} of their own: they are published as a {@code
 * warning} whose message starts with their wire name ({@code hold_failed: could not hold ...}).
 */
public enum ErrorKind {
  /** ssh could not reach the host (its exit code 255), or the host's listing timed out. */
  HOST_UNREACHABLE,
  /**
   * The source side's listing failed for another reason (zfs missing, permissions, ...). Also a
   * {@code warning}'s prefix: a target not listed again after a failed {@code -I} step.
   */
  LIST_FAILED,
  /** A listing did not have the expected shape; the message names the line. */
  BAD_ZFS_OUTPUT,
  /** A configured dataset does not exist on its source; its siblings go on. */
  DATASET_MISSING,
  /** The target side could not be listed: nothing is sent to it this phase. */
  TARGET_UNREACHABLE,
  /** The target has snapshots newer than the latest common one; nothing on it was changed. */
  DIVERGED,
  /** The target has snapshots but none in common with the source; nothing on it was changed. */
  NO_COMMON_SNAPSHOT,
  /**
   * A configured target root ({@code pull.target}, {@code push.target}) does not exist: nothing is
   * created and nothing is sent to it this phase (a typo, or a pool not imported, would otherwise
   * put the backups somewhere else, unencrypted).
   */
  TARGET_MISSING,
  /**
   * A full stream's target exists and is not an empty placeholder of the agent's: receiving would
   * destroy it, so nothing was received. The message names the manual fix.
   */
  TARGET_EXISTS,
  /**
   * An incremental receive was refused because the target changed since it was listed (new
   * snapshots, its base gone); nothing was received or destroyed. The message says what changed.
   */
  TARGET_MODIFIED,
  /**
   * The dataset's name on the target, or the name of a snapshot it would receive there, would be
   * longer than ZFS's 255 characters (the target root and the source's name make it longer than on
   * the source): nothing was sent. The message names it.
   */
  NAME_TOO_LONG,
  /**
   * A snapshot the dataset would receive has the name of another snapshot of the target (another
   * guid: a snapshot destroyed on the source and taken again under its name), which ZFS refuses to
   * receive ("destination already exists"): nothing was sent. The message names it and the rename
   * that lets the next cycle go on.
   */
  SNAPSHOT_NAME_TAKEN,
  /**
   * The agent's placeholder cannot be replaced by the dataset's full stream (OpenZFS refuses {@code
   * receive -F} on an encrypted filesystem); the message names the manual fix.
   */
  PLACEHOLDER_BLOCKED,
  /** A missing parent on the target could not be created ({@code zfs create}). */
  CREATE_FAILED,
  /** {@code zfs send} failed (on a remote source: ssh exited with something else than 255). */
  SEND_FAILED,
  /** {@code zfs receive} failed, or both sides failed and the receive said why. */
  RECEIVE_FAILED,
  /**
   * The byte counter between send and receive ({@code commands.pv}) failed first (killed, crashed),
   * cutting the stream; its exit code and stderr are the error's.
   */
  COUNTER_FAILED,
  /** No byte moved for {@code replication.stall_timeout_s}: the stream was killed. */
  STALLED,
  /** A forced stop killed the stream in flight, or came before the dataset's next step. */
  INTERRUPTED,
  /**
   * A process of the stream outlived SIGTERM and SIGKILL (a receive blocked in the kernel, e.g. on
   * a pool with {@code failmode=wait}): it was abandoned, still running, and the cycle went on.
   */
  STUCK,
  /** An unexpected exception in the engine (a bug); the dataset, or the cycle, failed. */
  INTERNAL,
  /** Another cycle with the same configuration holds the cycle lock; nothing was done. */
  CYCLE_LOCKED,
  /**
   * Something that failed no dataset: a hold, release or canmount that could not be set (the
   * message then starts with that kind's wire name), or a cycle lock that could not be taken.
   */
  WARNING,
  /** A hold on the new incremental base could not be placed: pruning could break the next one. */
  HOLD_FAILED,
  /** The hold on the replaced incremental base could not be released. */
  RELEASE_FAILED,
  /** {@code canmount=off} could not be set on a received dataset. */
  CANMOUNT_FAILED,
  /** A host's ssh connection could not be shared: its commands ran on plain connections. */
  SSH_SHARING_FAILED,
  /**
   * Retention could not destroy a snapshot (busy, held meanwhile, a clone, permission): it stays
   * until a later cycle prunes it.
   */
  DESTROY_FAILED,
  /** Retention could not list a tier to prune: nothing on it was destroyed this cycle. */
  PRUNE_FAILED,
  /**
   * The saved state of an interrupted {@code receive -s} was aborted ({@code zfs receive -A}): its
   * token no longer works (the snapshot was destroyed on the source) or resumable receives are off;
   * the dataset was planned afresh. A {@code warning}'s prefix, like {@link #HOLD_FAILED}.
   */
  RESUME_ABORTED,
  /**
   * A target's head had been written since its newest snapshot (a backup mounted read-write) and
   * refused the incremental: it was rolled back to that snapshot, which discards what was written
   * there, and the step tried once more. A {@code warning}'s prefix, like {@link #HOLD_FAILED}.
   */
  TARGET_ROLLED_BACK;

  /** The {@code kind} on {@code T/error}, e.g. {@code no_common_snapshot}. */
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The wire name, so that log lines and messages read as they did when kinds were strings. */
  @Override
  public String toString() {
    return wire();
  }
}
