package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;

/**
 * Destroys snapshots on one side, batched: OpenZFS takes {@code zfs destroy ds@a,b,c} and destroys
 * none of them when one cannot be (zfs-destroy(8): "zfs destroy will have no effect and exit in
 * error"), so a failed batch is retried one snapshot at a time to destroy the others and name the
 * one that failed. Where the comma list is refused (zfs-fuse: "cannot open 'ds@a,b': invalid
 * dataset name"), that is noticed once and every later destroy on the side goes one at a time. A
 * snapshot that cannot be destroyed is a {@link Warning}, never a failure.
 */
final class Destroys {
  private static final Logger LOG = LoggerFactory.getLogger(Destroys.class);

  /** What one {@link #destroy} did: the names destroyed, and why the others were not. */
  record Outcome(List<String> destroyed, List<Warning> warnings) {}

  private final ProcessRunner runner;
  private final Endpoint side;
  private final Duration timeout;
  private final CycleControl control;
  private boolean oneAtATime;

  /**
   * @param control a stop ends the destroys: none starts after it; one a forced stop (or a signal)
   *     killed does not warn, one that failed for its own reason does
   */
  Destroys(ProcessRunner runner, Endpoint side, Duration timeout, CycleControl control) {
    this.runner = runner;
    this.side = side;
    this.timeout = timeout;
    this.control = control;
  }

  /**
   * Destroys {@code snapshots} (short names) of {@code dataset}, until the cycle is stopped: the
   * call in flight then ends (a forced stop or a signal kills it), and no other starts.
   */
  Outcome destroy(String dataset, List<String> snapshots) {
    List<String> destroyed = new ArrayList<>();
    List<Warning> warnings = new ArrayList<>();
    for (List<String> batch : Batches.of(snapshots)) {
      if (control.stopRequested()) {
        break;
      }
      if (!oneAtATime && batch.size() > 1) {
        ProcessResult r = run(ZfsCommands.destroy(dataset, batch));
        if (r.ok()) {
          destroyed.addAll(batch);
          continue;
        }
        if (control.forced()) {
          // Killed by the stop: not retried one by one, and no warning. Over ssh the remote zfs may
          // have finished anyway: what is gone counts as destroyed.
          destroyed.addAll(goneAfterAKill(dataset, batch));
          break;
        } else if (control.stopRequested()) { // a real failure, as a graceful stop came
          batch.forEach(snap -> warnings.add(failed(dataset, snap, r)));
          break;
        }
        if (refusesCommaList(r)) {
          oneAtATime = true;
          LOG.info("{} refuses a comma list of snapshots: one destroy per snapshot", side.label());
        } else if (unreachable(r)) {
          batch.forEach(s -> warnings.add(failed(dataset, s, r)));
          continue;
        }
      }
      for (String snap : batch) {
        if (control.stopRequested()) {
          break;
        }
        ProcessResult r = run(ZfsCommands.destroy(dataset, List.of(snap)));
        if (r.ok()) {
          destroyed.add(snap);
        } else if (control.forced()) {
          destroyed.addAll(goneAfterAKill(dataset, List.of(snap)));
        } else {
          warnings.add(failed(dataset, snap, r));
        }
      }
    }
    return new Outcome(destroyed, warnings);
  }

  /** How long the look after a killed destroy may take: the agent may be shutting down. */
  static final Duration LOOK_AFTER_A_KILL = Duration.ofSeconds(5);

  /**
   * Those of {@code snapshots} that are gone after a destroy the stop killed, so that what was
   * destroyed is reported (killing ssh does not stop the remote {@code zfs destroy}, which may take
   * a whole batch). One {@code zfs list}; when it cannot tell, none.
   */
  private List<String> goneAfterAKill(String dataset, List<String> snapshots) {
    List<String> names = snapshots.stream().map(s -> dataset + "@" + s).toList();
    ProcessResult r = runner.run(side.zfs(ZfsCommands.listSnapshots(names)), LOOK_AFTER_A_KILL);
    if (!r.ok() && !Listings.onlyMissing(r, names)) {
      return List.of();
    }
    List<String> gone = Listings.missingRoots(r);
    return snapshots.stream().filter(s -> gone.contains(dataset + "@" + s)).toList();
  }

  /** zfs-fuse (and zfs before the comma list) reads {@code ds@a,b} as one invalid name. */
  static boolean refusesCommaList(ProcessResult r) {
    String err = r.stderrTail();
    return r.exitCode() > 0
        && (err.contains("invalid dataset name") || err.contains("invalid character ','"));
  }

  /** Trying each snapshot on its own would only fail the same way, once per snapshot. */
  private boolean unreachable(ProcessResult r) {
    return r.timedOut()
        || r.startFailed()
        || (!side.isLocal() && r.exitCode() == Failures.SSH_FAILURE);
  }

  private static Warning failed(String dataset, String snap, ProcessResult r) {
    String msg = "could not destroy " + dataset + "@" + snap + ": " + r.describe();
    return new Warning(dataset, ErrorKind.DESTROY_FAILED, msg, r);
  }

  private ProcessResult run(List<String> zfsArgs) {
    return runner.run(side.zfs(zfsArgs), timeout);
  }
}
