package org.zfsbackup.cycle;

import java.util.List;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.SshSharing;
import org.zfsbackup.zfs.Endpoint;

/**
 * A cycle's ssh connections: each remote side of the cycle shares one connection per host ({@link
 * SshSharing}), closed when the cycle ends. A host whose sharing cannot be set up is reported once,
 * as a warning, and runs on plain connections. A dry run lists each host once or twice and shares
 * nothing: a master would cost more than it saves.
 */
final class CycleSsh implements AutoCloseable {
  private final SshSharing sharing;
  private final CycleRequest request;
  private final EventSink sink;
  private final CycleControl control;

  private CycleSsh(SshSharing sharing, CycleRequest request, EventSink sink, CycleControl control) {
    this.sharing = sharing;
    this.request = request;
    this.sink = sink;
    this.control = control;
  }

  static CycleSsh open(
      SshSharing.Factory factory,
      AgentConfig config,
      CycleRequest request,
      EventSink sink,
      CycleControl control) {
    SshSharing.Factory f = request.dryRun() ? SshSharing.Factory.OFF : factory;
    SshSharing sharing = f.open(config.replication().shortCommandTimeout(), control::forced);
    return new CycleSsh(sharing, request, sink, control);
  }

  /**
   * The side to run this host's commands through; opens its shared connection on first use, but not
   * once the cycle is stopping (the host's work is skipped then). Thread-safe: the sources of a
   * phase run side by side.
   *
   * @param warnings gets the warning of a host whose sharing could not be set up
   */
  Endpoint endpoint(Endpoint plain, Phase phase, String source, List<String> warnings) {
    if (control.stopRequested()) {
      return plain;
    }
    SshSharing.Connection c = sharing.share(plain);
    // A forced stop (or a signal) that came during the probe killed it: no fault of the host's.
    c.warning()
        .filter(msg -> !control.forced())
        .ifPresent(
            msg -> {
              warnings.add(msg);
              ProcessResult r = c.probe().orElse(null);
              sink.accept(
                  new CycleEvent.Error(
                      request.cycleId(),
                      ErrorKind.WARNING,
                      phase,
                      source,
                      null,
                      ErrorKind.SSH_SHARING_FAILED.wire() + ": " + msg,
                      r == null ? null : r.exitCodeIfRan(),
                      r == null ? null : r.stderrOrNull()));
            });
    return c.endpoint();
  }

  /** Ends every master ({@code ssh -O exit}) and removes the private directory. */
  @Override
  public void close() {
    sharing.close();
  }
}
