package org.zfsbackup.exec;

/**
 * How a send-to-receive stream ended.
 *
 * @param bytes      bytes that went through
 * @param send       the sending side (exit code, stderr tail)
 * @param receive    the receiving side
 * @param stalled    killed because no byte moved for the stall timeout
 * @param killed     killed by a forced stop
 */
public record PipeResult(long bytes, ProcessResult send, ProcessResult receive, boolean stalled, boolean killed) {
  public boolean ok() {
    return send.ok() && receive.ok() && !stalled && !killed;
  }
}
