package org.zfsbackup.plan;

import java.util.List;
import java.util.Optional;

/**
 * What to do with a target's interrupted resumable receive: resume it, abort it, or plan afresh.
 * Pure: the target's {@code receive_resume_token}, the setting, and (after a failed resume) what
 * the two sides said, in; a decision out.
 *
 * <ul>
 *   <li>No token: plan as usual.
 *   <li>A token and resumable receives on both sides: resume first ({@code zfs send -t}), before
 *       anything else is planned for that dataset (zfs-receive(8): a new stream into a dataset with
 *       saved state is refused, "contains partially-complete state from zfs receive -s").
 *   <li>A token but resumable receives off (the setting, or a side without them): abort it ({@code
 *       zfs receive -A}) and plan afresh.
 *   <li>A resume that failed because the token no longer works — the sender rejected it ({@code
 *       cannot resume send}: its snapshot was destroyed or replaced, the token is corrupt) or has
 *       no {@code send -t} at all (zfs-fuse: {@code invalid option 't'}), or the receiver refused
 *       the stream as not continuing its saved state (see {@link #RECEIVE_REFUSALS}) — is aborted
 *       and the dataset planned afresh in the same cycle.
 *   <li>Any other failure keeps the saved state for the next cycle: a stall, a stop, a lost
 *       connection, no space. OpenZFS starts <em>every</em> error of a resumed receive with {@code
 *       cannot receive resume stream} (lib/libzfs/libzfs_sendrecv.c, {@code zfs_receive_one}), a
 *       cut stream's too ("checksum mismatch or incomplete stream. Partially received snapshot is
 *       saved"), so that prefix alone says nothing about the token.
 * </ul>
 */
public final class Resumption {

  /** What comes first for one dataset. */
  public enum First {
    PLAN,
    RESUME,
    ABORT_THEN_PLAN
  }

  /** What a failed resume leaves. */
  public enum AfterFailure {
    /** The saved state stays; the next cycle resumes it again. */
    KEEP,
    /** The token no longer works: abort it and plan the dataset afresh. */
    ABORT_THEN_PLAN
  }

  /** OpenZFS's prefix of every refusal of {@code zfs send -t} (lib/libzfs/libzfs_sendrecv.c). */
  public static final String SEND_REFUSED = "cannot resume send";

  /** A sender without {@code send -t} (zfs-fuse) can never resume: its usage error. */
  public static final String NO_SEND_T = "invalid option 't'";

  /**
   * What OpenZFS's receiver says when a resumed stream cannot continue its saved state
   * (lib/libzfs/libzfs_sendrecv.c): EINVAL from the kernel's resume checks (module/zfs/dmu_recv.c,
   * a stream that does not match the saved object, offset or guid), printed for a {@code -s}
   * receive as "kernel modules must be upgraded to receive this stream"; and OpenZFS 2.2's refusal
   * of a full stream resumed into an existing dataset without {@code -F}: libzfs's
   * EZFS_RESUME_EXISTS ("Resuming recv on existing destination '...' must specify -F to overwrite
   * it"; the kernel's own ZFS_ERR_RESUME_EXISTS, "Resuming recv on existing dataset without force",
   * comes only from a userland older than its kernel). The agent gives {@code -F} there ({@link
   * ReceiveRules#resumeWithForce}), so these are for a token that truly cannot go on.
   */
  public static final List<String> RECEIVE_REFUSALS =
      List.of(
          "kernel modules must be upgraded to receive this stream",
          "must specify -F",
          "Resuming recv on existing dataset without force");

  private Resumption() {}

  /**
   * @param token the target dataset's {@code receive_resume_token}, if any
   * @param resumable the setting, and both sides able to resume
   */
  public static First first(Optional<String> token, boolean resumable) {
    if (token.isEmpty()) {
      return First.PLAN;
    }
    return resumable ? First.RESUME : First.ABORT_THEN_PLAN;
  }

  /**
   * @param interrupted the stream was killed (stall, stop) or abandoned: the token was not refused
   * @param sendStderr the sending side's stderr
   * @param receiveStderr the receiving side's stderr
   */
  public static AfterFailure afterFailure(
      boolean interrupted, String sendStderr, String receiveStderr) {
    if (interrupted) {
      return AfterFailure.KEEP;
    }
    String receive = receiveStderr.replaceAll("\\s+", " ");
    if (sendStderr.contains(SEND_REFUSED)
        || sendStderr.contains(NO_SEND_T)
        || RECEIVE_REFUSALS.stream().anyMatch(receive::contains)) {
      return AfterFailure.ABORT_THEN_PLAN;
    }
    return AfterFailure.KEEP;
  }
}
