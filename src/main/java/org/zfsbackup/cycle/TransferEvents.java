package org.zfsbackup.cycle;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.exec.ProcessResult;

/**
 * What a {@link Transfer} tells the world: its log lines and its events (progress, errors,
 * warnings), all with the same cycle, phase and source. Returns the {@link DatasetResult}s it
 * reports so a dataset's result and its last event cannot disagree.
 */
final class TransferEvents {
  private static final Logger LOG = LoggerFactory.getLogger(Transfer.class);

  private final String cycleId;
  private final EventSink sink;
  private final Phase phase;
  private final String sourceName;

  /** What a log line starts with: {@code pull host-a}, or {@code pull} for the backup root. */
  private final String who;

  TransferEvents(String cycleId, EventSink sink, Phase phase, String sourceName) {
    this.cycleId = cycleId;
    this.sink = sink;
    this.phase = phase;
    this.sourceName = sourceName;
    this.who = sourceName == null ? phase.wire() : phase.wire() + " " + sourceName;
  }

  /** A dataset that failed before streaming: its error, its failed progress, its result. */
  DatasetResult failed(
      String dataset, String dst, ErrorKind kind, String message, ProcessResult r, String plan) {
    error(dataset, kind, message, r);
    progress(dataset, dst, null, null, StepStatus.FAILED, 0, null, 0, message);
    return failedResult(dataset, dst, kind, 0, plan, message);
  }

  /** The log line and the error event of a failed dataset; its progress is the caller's. */
  void error(String dataset, ErrorKind kind, String message, ProcessResult r) {
    LOG.error(CycleReport.IN_REPORT, "{}: {} failed ({}): {}", who, dataset, kind, message);
    sink.accept(
        new CycleEvent.Error(
            cycleId, kind, phase, sourceName, dataset, message, exitCode(r), stderr(r)));
  }

  DatasetResult skipped(String dataset, String dst, String why) {
    LOG.info("{}: {} skipped: {}", who, dataset, why);
    progress(dataset, dst, null, null, StepStatus.SKIPPED, 0, null, 0, why);
    return result(dataset, dst, Status.SKIPPED, 0, null, why);
  }

  /**
   * A dataset in a dry run: what it {@code would} do, as its skipped progress, and its result
   * (sent, as the real run would report it, with no byte moved).
   */
  DatasetResult dryRun(String dataset, String dst, String would) {
    progress(dataset, dst, null, null, StepStatus.SKIPPED, 0, null, 0, "dry run: " + would);
    return result(dataset, dst, Status.SENT, 0, would, null);
  }

  /** Logs and publishes {@code w}; returns it, for the report. */
  Warning warning(Warning w) {
    LOG.warn("{}: {}: {}", who, w.dataset(), w.message());
    sink.accept(
        new CycleEvent.Error(
            cycleId,
            ErrorKind.WARNING,
            phase,
            sourceName,
            w.dataset(),
            w.kind().wire() + ": " + w.message(),
            exitCode(w.result()),
            stderr(w.result())));
    return w;
  }

  /** A step's log line once it went through. */
  void sent(String dataset, String dst, Object step, long bytes) {
    LOG.info("{}: {} -> {}: {} ({} bytes)", who, dataset, dst, step, bytes);
  }

  void held(int count) {
    LOG.info("{}: held {} base snapshot(s) that had no hold", who, count);
  }

  /** A dataset that did not fail; {@code message} says why when it was skipped. */
  DatasetResult result(
      String dataset, String dst, Status status, long bytes, String plan, String message) {
    return new DatasetResult(phase, sourceName, dataset, dst, status, bytes, plan, message, null);
  }

  /** A failed dataset's result; its error and progress went out already. */
  DatasetResult failedResult(
      String dataset, String dst, ErrorKind kind, long bytes, String plan, String message) {
    return new DatasetResult(
        phase, sourceName, dataset, dst, Status.FAILED, bytes, plan, message, kind);
  }

  /**
   * @param total the size estimate, null when unknown; a step that is done is at 100% of it
   */
  void progress(
      String dataset,
      String dst,
      String from,
      String to,
      StepStatus status,
      long bytes,
      Long total,
      long rate,
      String message) {
    Double percent =
        total == null || total <= 0
            ? null
            : Math.min(100.0, Math.round(bytes * 1000.0 / total) / 10.0);
    if (status == StepStatus.DONE && total != null) {
      percent = 100.0;
    }
    sink.accept(
        new CycleEvent.Progress(
            cycleId,
            phase,
            sourceName,
            dataset,
            dst,
            from,
            to,
            status,
            bytes,
            total,
            rate,
            percent,
            message));
  }

  private static Integer exitCode(ProcessResult r) {
    return r == null ? null : r.exitCodeIfRan();
  }

  private static String stderr(ProcessResult r) {
    return r == null ? null : r.stderrOrNull();
  }
}
