package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.ReceiveRules;
import org.zfsbackup.plan.Resumption;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.ZfsCommands;
import org.zfsbackup.zfs.ZfsListing;

/**
 * The target's interrupted receive, before a dataset is planned: resumed ({@code send -t}), or
 * aborted ({@code receive -A}) when resumable receives are off or its token no longer works, then
 * the dataset listed again for the plan. What to do is decided by the pure {@link Resumption}.
 */
final class Resumes {
  // Logs as the Transfer it resumes for: the same log lines as before the split.
  private static final Logger LOG = LoggerFactory.getLogger(Transfer.class);

  /**
   * What came before the plan: a resumed receive ({@code bytes} moved, {@code note} for the
   * result), warnings, and the target's snapshots to plan against; or the dataset's end (a dry run,
   * a failed resume that keeps its state, an abort that failed, a listing that failed after).
   */
  record Before(
      long bytes,
      String note,
      List<Warning> warnings,
      DatasetResult ended,
      List<Snapshot> targetSnaps) {

    /** {@code r}, the planned rest's result, with this before it: the resumed bytes and note. */
    DatasetResult then(DatasetResult r) {
      String plan =
          note() == null
              ? r.plan()
              : note() + (r.plan() == null || r.plan().isEmpty() ? "" : ", then " + r.plan());
      // Up to date after bytes: the resume received the newest snapshot. A resume that was refused
      // and aborted keeps its bytes too, but it is never up to date after: a refused send -t moves
      // no byte, and when the receive refused the resumed stream, the sender had found the token's
      // snapshot, which is then on the source but not on the target (it was still being received).
      Status status = r.status() == Status.UP_TO_DATE && bytes() > 0 ? Status.SENT : r.status();
      return new DatasetResult(
          r.phase(),
          r.source(),
          r.dataset(),
          r.target(),
          status,
          bytes() + r.bytes(),
          plan,
          r.message(),
          r.kind());
    }
  }

  private final TransferContext.Scope scope;
  private final TargetSide target;
  private final TransferEvents events;
  private final Streams streams;
  private final TargetChanges changes;

  Resumes(TransferContext context, TransferEvents events, Streams streams, TargetChanges changes) {
    this.scope = context.scope();
    this.target = context.route().target();
    this.events = events;
    this.streams = streams;
    this.changes = changes;
  }

  /**
   * Resumes or aborts the interrupted receive on {@code dst} ({@code first}: not {@link
   * Resumption.First#PLAN}), then lists {@code dst} again; in a dry run, says what it would do.
   *
   * @param targetSnaps the snapshots of {@code dst} as the target side was listed
   */
  Before settle(
      String dataset,
      String dst,
      Resumption.First first,
      Optional<String> token,
      List<Snapshot> targetSnaps) {
    // A full receive's saved state is the new dataset itself (receive -A destroys it); one into
    // the agent's placeholder (-F) is a hidden clone below it, and the placeholder stays.
    boolean placeholder = target.placeholder(dst);
    boolean full = targetSnaps.isEmpty() && !placeholder;
    boolean force =
        ReceiveRules.resumeWithForce(
            new ReceiveRules.Target(true, placeholder, !targetSnaps.isEmpty()));
    if (force && first == Resumption.First.RESUME) {
      // The resumed stream replaces the placeholder: only as the agent made it (files someone
      // wrote into it would go). Failed here, its saved state stays for the next cycle.
      Optional<DatasetResult> inUse = changes.placeholderInUse(dataset, dst, "resume (send -t)");
      if (inUse.isPresent()) {
        return new Before(0, null, List.of(), inUse.get(), null);
      }
    }
    if (scope.dryRun()) {
      String would =
          first == Resumption.First.RESUME
              ? "would resume an interrupted receive (zfs send -t), then plan again"
              : "would abort an interrupted receive (zfs receive -A: resumable receives are off),"
                  + " then plan again";
      return new Before(0, null, List.of(), events.dryRun(dataset, dst, would), null);
    }
    Before before;
    if (first == Resumption.First.RESUME) {
      before = resume(dataset, dst, token.get(), full, force);
    } else { // ABORT_THEN_PLAN: Transfer plans a PLAN dataset without settling it
      String why = "resumable receives are off (replication.resumable, or this zfs has none)";
      before = abort(dataset, dst, why, full);
    }
    if (before.ended() != null) {
      return before;
    }
    List<Warning> warnings = before.warnings();
    if (placeholder && before.note() != null) {
      // The resumed stream replaced the placeholder (its -F receive was cut): the mark goes.
      Optional<Warning> w = changes.clearPlaceholder(dst).map(events::warning);
      if (w.isPresent()) {
        warnings = new ArrayList<>(warnings);
        warnings.add(w.get());
      }
    }
    TargetSide.Again relisted = relist(dst);
    if (relisted.listing() == null) {
      String msg =
          "cannot list " + dst + " again after the interrupted receive: " + relisted.problem();
      DatasetResult f =
          events.failed(dataset, dst, ErrorKind.LIST_FAILED, msg, null, before.note());
      return new Before(before.bytes(), before.note(), warnings, f, null);
    }
    return new Before(
        before.bytes(), before.note(), warnings, null, relisted.listing().snapshots(dst));
  }

  /**
   * Resumes the target's interrupted receive with {@code send -t}. A token that no longer works is
   * aborted and the dataset planned afresh; any other failure keeps the saved state for the next
   * cycle and ends the dataset.
   *
   * @param full the partial state is a full receive's (the dataset has no snapshot yet)
   * @param force resume with {@code -F}: a full stream into the agent's placeholder
   */
  private Before resume(String dataset, String dst, String token, boolean full, boolean force) {
    Streams.Streamed s = streams.resume(dataset, dst, token, force);
    if (s.failure() == null) {
      return new Before(s.bytes(), "resumed (" + s.bytes() + " bytes)", List.of(), null, null);
    }
    PipeResult pr = s.pipe();
    boolean interrupted = pr.cutShort();
    Resumption.AfterFailure next =
        Resumption.afterFailure(interrupted, pr.send().stderrTail(), pr.receive().stderrTail());
    if (next == Resumption.AfterFailure.KEEP) {
      Failures.Failure f = s.failure();
      events.error(dataset, f.kind(), f.message(), f.blamed());
      String msg = f.message() + "; the partial state is kept: the next cycle resumes it";
      return new Before(
          s.bytes(),
          null,
          List.of(),
          events.failedResult(dataset, dst, f.kind(), s.bytes(), "resume", msg),
          null);
    }
    String why = "its token no longer works (" + s.failure().message() + ")";
    Before aborted = abort(dataset, dst, why, full);
    return new Before(s.bytes(), null, aborted.warnings(), aborted.ended(), null);
  }

  /** {@code receive -A}: the saved state goes (with the dataset, when it was a full receive's). */
  private Before abort(String dataset, String dst, String why, boolean full) {
    ProcessResult a = scope.run(target.endpoint, ZfsCommands.abortResume(dst));
    if (!a.ok()) {
      String msg =
          "cannot abort the interrupted receive on " + dst + " (" + why + "): " + a.describe();
      return new Before(
          0,
          null,
          List.of(),
          events.failed(dataset, dst, ErrorKind.RECEIVE_FAILED, msg, a, "abort"),
          null);
    }
    target.aborted(dst, full);
    String msg =
        "aborted the interrupted receive on "
            + dst
            + " (zfs receive -A): "
            + why
            + "; planned afresh";
    Warning w = events.warning(new Warning(dataset, ErrorKind.RESUME_ABORTED, msg, null));
    return new Before(0, null, List.of(w), null, null);
  }

  /** {@code dst} now (after a resume or an abort), or why it could not be listed. */
  private TargetSide.Again relist(String dst) {
    if (!target.exists(dst)) {
      return new TargetSide.Again(ZfsListing.parse(""), null);
    }
    return target.snapshotsNow(scope.runner(), scope.shortTimeout(), dst);
  }
}
