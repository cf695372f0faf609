package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;

/**
 * The {@code send | receive} streams of one {@link Transfer}, each with its progress from start to
 * end: a plan's steps, judged when they fail ({@link Failures#stream}, then {@link Refusals}), and
 * the resume of an interrupted receive, whose failure its caller judges ({@link Resumes}).
 */
final class Streams {
  // Logs as the Transfer it streams for: the same log lines as before the split.
  private static final Logger LOG = LoggerFactory.getLogger(Transfer.class);

  /**
   * One {@code send | receive} step: how it ended ({@code pipe}) and, when it failed, why; {@code
   * rolledBack} (the warning that says so) when the target's head was rolled back to the step's
   * base and the step may run once more.
   */
  record Streamed(Failures.Failure failure, PipeResult pipe, Warning rolledBack) {
    /** The bytes the step moved. */
    long bytes() {
      return pipe.bytes();
    }

    /** The head was rolled back: the step may run once more. */
    boolean retry() {
      return rolledBack != null;
    }
  }

  /**
   * What a failed stream means beyond {@link Failures#stream}: the failure to report, or a retry. A
   * stream without one (a resume) reports nothing itself: its caller judges the failure.
   */
  private interface Judge {
    Refusals.Verdict judge(PipeResult pr, Failures.Failure first);
  }

  private final TransferContext.Scope scope;
  private final TransferContext context;
  private final TransferContext.Route route;
  private final TransferEvents events;
  private final Refusals refusals;

  Streams(TransferContext context, TransferEvents events, Refusals refusals) {
    this.context = context;
    this.scope = context.scope();
    this.route = context.route();
    this.events = events;
    this.refusals = refusals;
  }

  /**
   * One {@code send | receive} step, with its progress from start to end. Received with {@code -s}
   * where the target side is resumable, so a stream cut short is resumed next cycle.
   *
   * @param replace receive with {@code -F}: the step's full stream replaces the agent's placeholder
   * @param mayRetry a refusal that a rollback of the head explains may ask for one more try
   */
  Streamed step(
      String dataset, String dst, ReplicationStep step, boolean replace, boolean mayRetry) {
    String from = step instanceof ReplicationStep.Incremental inc ? inc.from().name() : null;
    List<String> receiveOptions = route.receiveOptions();
    if (context.resumable()) {
      receiveOptions = new ArrayList<>(List.of("-s")); // zfs-receive(8) -s: keep what came
      receiveOptions.addAll(route.receiveOptions());
    }
    Streamed s =
        stream(
            dataset,
            dst,
            from,
            step.to().name(),
            step.toString(),
            ZfsCommands.send(dataset, step, route.raw()),
            // Full sends only: an incremental is usually a small delta, over before a percentage
            // would help, and the estimate would cost a command per dataset (docs/design.md).
            step instanceof ReplicationStep.Full
                ? ZfsCommands.estimate(dataset, step, route.raw())
                : null,
            ZfsCommands.receive(dst, receiveOptions, replace),
            (pr, first) -> refusals.judge(dataset, dst, step, pr, replace, mayRetry, first));
    if (s.failure() == null && !s.retry()) {
      events.sent(dataset, dst, step, s.bytes());
    }
    return s;
  }

  /**
   * The resume of the target's interrupted receive with {@code send -t}; a failure is reported by
   * the caller, once it knows what the failure means.
   *
   * @param force receive with {@code -F} (see {@link ZfsCommands#resumeReceive})
   */
  Streamed resume(String dataset, String dst, String token, boolean force) {
    return stream(
        dataset,
        dst,
        null,
        null,
        "resume of an interrupted receive",
        ZfsCommands.resumeSend(token),
        ZfsCommands.resumeEstimate(token),
        ZfsCommands.resumeReceive(dst, route.receiveOptions(), force),
        null);
  }

  /** One {@code send | receive}, with its progress from start to end. */
  private Streamed stream(
      String dataset,
      String dst,
      String from,
      String to,
      String label,
      List<String> send,
      List<String> estimateArgs, // null: no estimate
      List<String> receive,
      Judge judge) {
    Long estimate = estimateArgs == null ? null : estimate(dataset, estimateArgs);
    events.progress(dataset, dst, from, to, StepStatus.STARTED, 0, estimate, 0, label);
    long start = System.nanoTime();
    // Counted from the processes' own I/O (commands.pv: []): an ssh in the stream carries the data
    // itself, on a connection of its own; through a shared one its counters stay at zero.
    boolean own = !scope.runner().countsInTheStream();
    Endpoint sender = own ? route.source().ownConnection() : route.source();
    Endpoint receiver = own ? route.target().endpoint.ownConnection() : route.target().endpoint;
    PipeResult pr =
        scope
            .runner()
            .pipe(
                sender.zfs(send),
                receiver.zfs(receive),
                bytes ->
                    events.progress(
                        dataset,
                        dst,
                        from,
                        to,
                        StepStatus.STREAMING,
                        bytes,
                        estimate,
                        rate(bytes, start),
                        null),
                scope.stallTimeout(),
                scope.control());
    long rate = rate(pr.bytes(), start);
    if (!pr.ok()) {
      Failures.Sides ssh = new Failures.Sides(!sender.isLocal(), !receiver.isLocal());
      Failures.Failure f = Failures.stream(dataset, dst, label, pr, scope.stallTimeout(), ssh);
      if (judge != null) { // a resume's is reported later: a refused token is no error once aborted
        Refusals.Verdict verdict = judge.judge(pr, f);
        if (verdict.retry()) {
          return new Streamed(null, pr, verdict.rolledBack());
        }
        f = verdict.failure();
        events.error(dataset, f.kind(), f.message(), f.blamed());
      }
      // The one end-of-step progress for this step: with its snapshots and the bytes moved.
      events.progress(
          dataset, dst, from, to, StepStatus.FAILED, pr.bytes(), estimate, rate, f.message());
      return new Streamed(f, pr, null);
    }
    route.target().created(dst);
    events.progress(dataset, dst, from, to, StepStatus.DONE, pr.bytes(), estimate, rate, label);
    return new Streamed(null, pr, null);
  }

  /** Best effort: OpenZFS's {@code send -nP} size; null where it is not supported (zfs-fuse). */
  private Long estimate(String dataset, List<String> estimateArgs) {
    ProcessResult r = scope.run(route.source(), estimateArgs);
    if (!r.ok()) {
      LOG.debug("no size estimate for {}: {}", dataset, r.describe());
      return null;
    }
    long size = ZfsCommands.parseEstimate(r.stdout() + "\n" + r.stderrTail());
    return size < 0 ? null : size;
  }

  private static long rate(long bytes, long startNanos) {
    long elapsed = System.nanoTime() - startNanos;
    return elapsed <= 0 ? 0 : (long) (bytes * 1e9 / elapsed);
  }
}
