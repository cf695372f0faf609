package org.zfsbackup.exec;

/**
 * How a send-to-receive stream ended.
 *
 * @param bytes bytes that went through
 * @param send the sending side (exit code, stderr tail)
 * @param receive the receiving side
 * @param stalled killed because no byte moved for the stall timeout
 * @param killed killed by a forced stop
 * @param stuck a process of the stream outlived the kill and was abandoned (still running, e.g. a
 *     receive blocked in the kernel on a pool with {@code failmode=wait})
 * @param firstFailure of the processes that failed, the one that exited first; null when none
 *     failed or the order is not known. The others usually fail because of it: a receive that
 *     refuses the stream breaks the pipe of the send (over ssh, ssh then exits 255).
 * @param counter the byte counter between them (its stderr without the counts); null when there is
 *     none
 */
public record PipeResult(
    long bytes,
    ProcessResult send,
    ProcessResult receive,
    boolean stalled,
    boolean killed,
    boolean stuck,
    Stage firstFailure,
    ProcessResult counter) {

  /** The processes of a stream, in stream order. */
  public enum Stage {
    SEND,
    /** The byte counter between them ({@code pv}). */
    COUNTER,
    RECEIVE
  }

  /** A result without a counter. */
  public PipeResult(
      long bytes,
      ProcessResult send,
      ProcessResult receive,
      boolean stalled,
      boolean killed,
      boolean stuck,
      Stage firstFailure) {
    this(bytes, send, receive, stalled, killed, stuck, firstFailure, null);
  }

  /** A result whose exit order is not known, no process abandoned. */
  public PipeResult(
      long bytes, ProcessResult send, ProcessResult receive, boolean stalled, boolean killed) {
    this(bytes, send, receive, stalled, killed, false, null);
  }

  public boolean ok() {
    return send.ok() && receive.ok() && !stalled && !killed && !stuck;
  }

  /** True when the stream was ended from outside: killed, stalled or left stuck. */
  public boolean cutShort() {
    return killed || stalled || stuck;
  }
}
