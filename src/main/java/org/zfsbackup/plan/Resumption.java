package org.zfsbackup.plan;

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
 *       the stream ({@code cannot receive resume stream}) — is aborted and the dataset planned
 *       afresh in the same cycle. Any other failure (a stall, a stop, a lost connection, no space)
 *       keeps the saved state for the next cycle.
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

  /** OpenZFS's prefix when the receiver refuses a resumed stream. */
  public static final String RECEIVE_REFUSED = "cannot receive resume stream";

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
    if (sendStderr.contains(SEND_REFUSED)
        || sendStderr.contains(NO_SEND_T)
        || receiveStderr.contains(RECEIVE_REFUSED)) {
      return AfterFailure.ABORT_THEN_PLAN;
    }
    return AfterFailure.KEEP;
  }
}
