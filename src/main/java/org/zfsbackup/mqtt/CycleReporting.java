package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;

/**
 * What a cycle publishes and keeps: its progress (throttled) and errors while it runs; at its end
 * the result ({@code T/result}, retained, and saved in the {@link StateStore}) and the end event.
 * Holds {@code last_success_at} and the last result across cycles and restarts. The agent decides
 * what happens next; this only reports. Used on the agent's context only.
 *
 * <p>A dry run's result says {@code "dry_run": true} and is published without the retained flag:
 * the broker keeps the last real result, which is also the one kept, saved and republished after a
 * connect, so Home Assistant's Last result, Last success and Problem never show a dry run. Also
 * publishes {@code T/cycle_progress} ({@link CycleProgress}), and when Home Assistant's Problem
 * goes by age, republishes the retained result when the last success turns stale so that the
 * sensor's template is evaluated again.
 */
final class CycleReporting {
  /** Logs as the agent, whose cycles these are. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  private final StateSaves saves;
  private final Clock clock;
  private final AgentPublisher out;
  private final ProgressThrottle throttle;
  private final Context context;
  private final Optional<Duration> staleAfter;

  private ObjectNode lastResult;
  private CycleProgress cycleProgress;
  private long staleTimer = -1;
  private Instant lastSuccessAt;

  /** {@code last_full_outcome} of the result (see {@link Payloads#result}); null before one. */
  private String lastFullOutcome;

  /**
   * Steps of the last real cycle over every configured dataset that ran to its end (not stopped);
   * null before the first.
   */
  private Integer fullSteps;

  CycleReporting(
      WorkerExecutor workers,
      StateStore store,
      Clock clock,
      AgentPublisher out,
      ProgressThrottle throttle,
      Context context,
      Optional<Duration> staleAfter) {
    this.saves = new StateSaves(workers, store, context, out);
    this.clock = clock;
    this.out = out;
    this.throttle = throttle;
    this.context = context;
    this.staleAfter = staleAfter;
  }

  /** What survived the last run. */
  void restore(StateStore.Saved saved) {
    lastSuccessAt = saved.lastSuccessAt().orElse(null);
    lastResult = saved.lastResult().orElse(null);
    // The size of Cycle progress comes only from a full cycle that ran to its end, as below.
    String ownFull =
        lastResult == null
            ? null
            : fullOutcome(
                lastResult.path("outcome").asText(), !lastResult.path("limited").asBoolean());
    fullSteps = ownFull == null ? null : steps(lastResult);
    // A result saved before the field existed: its own outcome, when it was a full cycle's end.
    lastFullOutcome =
        lastResult != null && lastResult.hasNonNull("last_full_outcome")
            ? lastResult.path("last_full_outcome").asText()
            : ownFull;
    if (lastResult != null) {
      lastResult.put("last_full_outcome", lastFullOutcome);
    }
    if (lastSuccessAt != null) {
      log.info("last successful backup finished at {}", Payloads.time(lastSuccessAt));
    }
    saved.running().ifPresent(this::lost);
    watchStaleness();
  }

  /**
   * A cycle the last run of the agent started and did not live to end (SIGKILL, the OOM killer, a
   * power loss): said once, now, as its error, a {@code failed} result and its end event, which are
   * published at the connect (the error and event kept in the outbox until then). Its datasets are
   * not known: the next cycle goes on from what arrived. {@code last_success_at} and {@code
   * last_full_outcome} stay: it did not run to its end.
   */
  private void lost(StateStore.Running r) {
    String msg =
        "cycle "
            + r.cycleId()
            + " (started "
            + Payloads.time(r.startedAt())
            + ") did not report its end: the agent was killed (SIGKILL, out of memory), stopped"
            + " before the cycle could end, or the machine lost power; what it sent is kept, and"
            + " the next cycle goes on from there";
    log.warn("{}", msg);
    CycleReport report =
        new CycleReport(
            r.cycleId(),
            r.runId(),
            Outcome.FAILED,
            r.startedAt(),
            clock.instant(),
            List.of(),
            List.of(msg));
    lastResult = Payloads.result(report, lastSuccessAt, false, r.limited(), lastFullOutcome);
    out.error(Payloads.agentError(r.cycleId(), CYCLE_LOST, msg));
    out.event(Outcome.FAILED.wire(), r.cycleId(), r.runId());
    saves.save(null, lastSuccessAt, lastResult.deepCopy(), null);
  }

  /** The kind of the error that reports a cycle the agent did not live to end. */
  static final String CYCLE_LOST = "cycle_lost";

  /** The last {@code T/result}, republished after every connect; null before the first. */
  ObjectNode lastResult() {
    return lastResult;
  }

  /** Completes when the last result is saved (or saving it failed, which is logged). */
  Future<Void> lastSave() {
    return saves.last();
  }

  /** A cycle starts: progress starts afresh, and Cycle progress shows 0 (or unknown). */
  void started(AgentCycle c) {
    throttle.reset();
    // A run limited with `datasets` has a part of the steps, and how many is not known before it.
    Integer expected = c.request.limited() ? null : fullSteps;
    cycleProgress = new CycleProgress(c.id, expected);
    out.cycleProgress(cycleProgress.payload());
    if (!c.request.dryRun()) { // until it ends: a cycle the agent does not live to end is told
      StateStore.Running running =
          new StateStore.Running(c.id, c.runId, c.startedAt, c.request.limited());
      saves.save(c, lastSuccessAt, lastResult == null ? null : lastResult.deepCopy(), running);
    }
  }

  /**
   * {@code outcome} when it ends a cycle over every configured dataset that ran to its end (not
   * stopped, not limited); else null.
   */
  private static String fullOutcome(String outcome, boolean full) {
    boolean ranToItsEnd =
        Stream.of(Outcome.SUCCESS, Outcome.PARTIAL, Outcome.FAILED)
            .anyMatch(o -> o.wire().equals(outcome));
    return full && ranToItsEnd ? outcome : null;
  }

  /** The steps a result counted; null for none. */
  private static Integer steps(ObjectNode result) {
    if (result == null || !result.path("datasets").path("total").canConvertToInt()) {
      return null;
    }
    return result.path("datasets").path("total").asInt();
  }

  /**
   * The engine's progress and errors. Called only for the agent's current cycle, so between {@link
   * #started} and {@link #ended}.
   */
  void engineEvent(AgentCycle c, CycleEvent event) {
    if (event instanceof CycleEvent.Progress p) {
      if (p.status() != StepStatus.STREAMING) {
        log.info("{}", AgentLog.progress(c.id, p));
      } else if (log.isDebugEnabled()) {
        log.debug("{}", AgentLog.streaming(c.id, p));
      }
      cycleProgress.update(p);
      if (throttle.admit(p, System.nanoTime() / 1_000_000)) {
        out.progress(Payloads.progress(p));
        out.cycleProgress(cycleProgress.payload());
      }
    } else if (event instanceof CycleEvent.Error e) {
      if (e.kind() == ErrorKind.CYCLE_LOCKED) {
        c.lockedOut = true;
      }
      log.warn("{}", AgentLog.error(c.id, e));
      out.error(Payloads.error(e));
    }
  }

  /**
   * The cycle ended: its report (or, when the engine failed without one, an {@code internal} error
   * and a failed report) becomes the result, which is saved, then published with the event (the
   * returned future completes once they are). A cycle refused with {@code cycle_locked} did
   * nothing: only its end event is published; the retained result (and the Problem that Home
   * Assistant derives from it) stays as it was.
   */
  Future<Void> ended(AgentCycle c, AsyncResult<CycleReport> ar) {
    CycleReport report = ar.succeeded() ? ar.result() : null;
    if (report != null && c.lockedOut && report.datasets().isEmpty()) {
      log.warn(
          "cycle {} did nothing: another backup cycle holds the cycle lock; the last result stays",
          c.id);
      saves.save(c, lastSuccessAt, lastResult == null ? null : lastResult.deepCopy(), null);
      CycleReport locked = report;
      return saves.afterLast(() -> out.event(locked.outcome().wire(), c.id, c.runId));
    }
    if (report == null) {
      Throwable t =
          ar.failed() ? ar.cause() : new IllegalStateException("the engine returned no report");
      log.error("cycle {} failed unexpectedly: {}", c.id, t.toString(), t);
      out.agentError(c, "internal", "the backup cycle failed unexpectedly: " + t);
      report =
          new CycleReport(
              c.id,
              c.runId,
              Outcome.FAILED,
              c.startedAt,
              clock.instant(),
              List.of(),
              List.of(t.toString()));
    }
    boolean limited = c.request.limited();
    CycleReport r = report;
    if (c.request.dryRun()) {
      out.dryRunResult(Payloads.result(report, lastSuccessAt, true, limited, lastFullOutcome));
      finished(c, r);
      return Future.succeededFuture();
    }
    // Only a cycle over every configured dataset: a run limited with `datasets` says nothing of
    // the others, one of which may still be failing (Problem and "Backup too old" rely on it).
    if (report.outcome() == Outcome.SUCCESS && !limited) {
      lastSuccessAt = report.finishedAt();
    }
    String full = fullOutcome(report.outcome().wire(), !limited);
    lastFullOutcome = full != null ? full : lastFullOutcome;
    lastResult = Payloads.result(report, lastSuccessAt, false, limited, lastFullOutcome);
    // A stopped cycle has only a part of the steps, like a limited run: it sets no size.
    if (full != null) {
      fullSteps = report.datasets().size();
    }
    saves.save(c, lastSuccessAt, lastResult.deepCopy(), null);
    ObjectNode result = lastResult;
    return saves.afterLast(
        () -> {
          out.result(result);
          watchStaleness();
          finished(c, r);
        });
  }

  /** The end event and the log line of a cycle that ended. */
  private void finished(AgentCycle c, CycleReport report) {
    out.event(report.outcome().wire(), c.id, c.runId);
    log.info("{}", AgentLog.finished(c.id, c.request.dryRun(), report));
    cycleProgress = null;
  }

  /**
   * When the last success will turn stale (Problem on in Home Assistant), republishes the retained
   * result then, so the Problem template sees the new age. Nothing to watch before a first success
   * (Problem is on already) or without Home Assistant. The wall clock is looked at once a minute
   * (or sooner, when the time is nearer): a timer counts only the time the machine is awake, so one
   * long timer would fire late by every suspend in between.
   */
  private void watchStaleness() {
    stop();
    if (staleAfter.isEmpty() || lastSuccessAt == null || lastResult == null) {
      return;
    }
    Instant staleAt = lastSuccessAt.plus(staleAfter.get());
    long delay = Duration.between(clock.instant(), staleAt).toMillis() + 1000;
    if (delay <= 1000) {
      return; // stale already: every result and reconnect carries it
    }
    staleTimer =
        context
            .owner()
            .setPeriodic(
                Math.min(delay, stalenessLookMs),
                id -> context.runOnContext(v -> staleCheck(id, staleAt)));
  }

  /** How often the wall clock is looked at; shorter only in tests. */
  static long stalenessLookMs = 60_000;

  private void staleCheck(long timer, Instant staleAt) {
    if (timer != staleTimer || clock.instant().isBefore(staleAt)) {
      return;
    }
    stop();
    if (lastResult != null) {
      log.info(
          "no successful backup since {}: republishing the result", Payloads.time(lastSuccessAt));
      out.result(lastResult);
    }
  }

  /** Stops the staleness timer (at shutdown, and before it is set again). */
  void stop() {
    if (staleTimer >= 0) {
      context.owner().cancelTimer(staleTimer);
      staleTimer = -1;
    }
  }
}
