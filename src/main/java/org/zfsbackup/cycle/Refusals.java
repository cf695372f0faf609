package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.plan.ReceiveRules;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;

/**
 * What a receive the target refused means, beyond {@link Failures#stream}: a placeholder that
 * cannot be replaced ({@link ErrorKind#PLACEHOLDER_BLOCKED}), or an incremental refused because the
 * target changed since it was listed, judged on a fresh listing of that one dataset by {@link
 * ReceiveRules#afterRefusal}: new snapshots are {@link ErrorKind#TARGET_MODIFIED}; a head only
 * written since its base is rolled back to it (never {@code -r}) and the step tried once more.
 */
final class Refusals {

  /**
   * The failure to report, or (failure null) a retry: the head was rolled back, and {@code
   * rolledBack} warns that what was written there is gone.
   */
  record Verdict(Failures.Failure failure, Warning rolledBack) {
    Verdict(Failures.Failure failure) {
      this(failure, null);
    }

    /** The head was rolled back to the step's base: the step may run once more. */
    boolean retry() {
      return failure == null;
    }
  }

  private final ProcessRunner runner;
  private final TargetSide target;
  private final Duration timeout;
  private final boolean raw;
  private final Endpoint source;

  /**
   * @param raw the route sends raw streams ({@code push.raw})
   * @param source the sending side, for the manual fix of a blocked placeholder
   */
  Refusals(
      ProcessRunner runner, TargetSide target, Duration timeout, boolean raw, Endpoint source) {
    this.runner = runner;
    this.target = target;
    this.timeout = timeout;
    this.raw = raw;
    this.source = source;
  }

  /**
   * @param replace the step was received with {@code -F} to replace the agent's placeholder
   * @param mayRetry a rollback of the head may ask for one more try (not on the retry itself)
   * @param first what {@link Failures#stream} made of it
   */
  Verdict judge(
      String dataset,
      String dst,
      ReplicationStep step,
      PipeResult pr,
      boolean replace,
      boolean mayRetry,
      Failures.Failure first) {
    if (replace) {
      return new Verdict(
          Failures.placeholderBlocked(dataset, dst, step, pr, raw, source, target.endpoint)
              .orElse(first));
    }
    Optional<Boolean> refusal = Failures.incrementalRefused(pr);
    if (!(step instanceof ReplicationStep.Incremental inc) || refusal.isEmpty()) {
      return new Verdict(first);
    }
    Optional<List<Snapshot>> targetNow =
        target.snapshotsNow(runner, timeout, dst).found().map(l -> l.snapshots(dst));
    if (targetNow.isEmpty()) {
      return new Verdict(first);
    }
    ReceiveRules.Refusal why =
        ReceiveRules.afterRefusal(dst, inc.from(), targetNow.get(), refusal.get());
    String prefix = dataset + " -> " + dst + ": " + step + " refused by the target: ";
    if (why instanceof ReceiveRules.Refusal.TargetChanged changed) {
      String msg = prefix + changed.what();
      Failures.Failure f = new Failures.Failure(ErrorKind.TARGET_MODIFIED, msg, first.blamed());
      return new Verdict(f);
    }
    if (why instanceof ReceiveRules.Refusal.RollBackHead back && mayRetry) {
      ProcessResult rb =
          runner.run(target.endpoint.zfs(ZfsCommands.rollback(dst + back.base())), timeout);
      if (rb.ok()) {
        String msg =
            dst
                + " was written since "
                + back.base()
                + " (mounted read-write?) and refused the incremental: rolled back to "
                + back.base()
                + ", which discards what was written there (no snapshot destroyed); mount a"
                + " backup read-only to browse it (README, Restoring)";
        return new Verdict(null, new Warning(dataset, ErrorKind.TARGET_ROLLED_BACK, msg, null));
      }
      String msg =
          prefix
              + dst
              + " was modified since "
              + back.base()
              + " and could not be rolled back to it: "
              + rb.describe();
      return new Verdict(new Failures.Failure(ErrorKind.TARGET_MODIFIED, msg, rb));
    }
    return new Verdict(first);
  }
}
