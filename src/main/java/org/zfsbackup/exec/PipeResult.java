package org.zfsbackup.exec;

/**
 * How a send-to-receive stream ended.
 *
 * @param bytes      bytes that went through
 * @param send       the sending side (exit code, stderr tail)
 * @param receive    the receiving side
 * @param stalled    killed because no byte moved for the stall timeout
 * @param killed     killed by a forced stop
 * @param stuck      a process of the stream outlived the kill and was abandoned (still running,
 *                   e.g. a receive blocked in the kernel on a pool with {@code failmode=wait})
 */
public record PipeResult(
    long bytes, ProcessResult send, ProcessResult receive, boolean stalled, boolean killed, boolean stuck) {

  public PipeResult(long bytes, ProcessResult send, ProcessResult receive, boolean stalled, boolean killed) {
    this(bytes, send, receive, stalled, killed, false);
  }

  public boolean ok() {
    return send.ok() && receive.ok() && !stalled && !killed && !stuck;
  }
}
