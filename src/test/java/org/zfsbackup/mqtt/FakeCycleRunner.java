package org.zfsbackup.mqtt;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.zfsbackup.cycle.CycleControl;
import org.zfsbackup.cycle.CycleControl.StopReason;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.cycle.CycleRequest;
import org.zfsbackup.cycle.CycleRunner;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.event.EventSink;

/**
 * Stands in for the replication engine in the agent's tests: the agent's job is to drive a {@link
 * CycleRunner} and publish what it reports, which the real engine (tested on its own, and end to
 * end by the lead) cannot make happen on cue. It behaves like the engine's contract: two datasets;
 * the first one streams (a progress event every 100 ms) until {@link #release()} or a forced stop
 * kills it; the second one is not started when a stop was requested meanwhile.
 */
final class FakeCycleRunner implements CycleRunner {
  static final String SOURCE = "src";

  final List<CycleRequest> requests = new CopyOnWriteArrayList<>();
  final List<CycleControl> controls = new CopyOnWriteArrayList<>();
  final AtomicInteger running = new AtomicInteger();
  final AtomicInteger maxRunning = new AtomicInteger();

  /** Every {@code streaming} progress event emitted so far, by every cycle. */
  final AtomicInteger streamed = new AtomicInteger();

  private volatile CountDownLatch release = new CountDownLatch(0);
  private volatile CountDownLatch streaming = new CountDownLatch(1);

  /** Outcome when no stop was requested. {@code PARTIAL}/{@code FAILED} fail the second dataset. */
  volatile Outcome outcome = Outcome.SUCCESS;

  /**
   * A stopped cycle reports only the datasets it reached, as the real engine leaves out a phase it
   * never began: fewer steps than a full cycle.
   */
  volatile boolean stopOmitsTheRest;

  /** The stderr of the second dataset's error when the outcome fails it. */
  volatile String failedStderr = "cannot receive";

  /** Thrown from {@link #run} when set: an engine bug. */
  volatile RuntimeException crash;

  /** From now on the first dataset streams until {@link #release()} (or a forced stop). */
  FakeCycleRunner blockStreams() {
    release = new CountDownLatch(1);
    streaming = new CountDownLatch(1);
    return this;
  }

  void release() {
    release.countDown();
  }

  /** Waits until the first dataset of the current cycle is streaming. */
  boolean awaitStreaming(long seconds) throws InterruptedException {
    return streaming.await(seconds, TimeUnit.SECONDS);
  }

  CycleControl lastControl() {
    return controls.get(controls.size() - 1);
  }

  @Override
  public CycleReport run(CycleRequest request, EventSink sink, CycleControl control) {
    requests.add(request);
    controls.add(control);
    maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
    try {
      if (crash != null) {
        throw crash;
      }
      String id = request.cycleId();
      Instant start = Instant.now();
      sink.accept(new CycleEvent.CycleStarted(id, request.runId(), start));
      sink.accept(new CycleEvent.PhaseStarted(id, Phase.PULL));
      List<DatasetResult> results = new ArrayList<>();

      sink.accept(progress(id, "tank/a", null, StepStatus.STARTED, 0));
      long bytes = 0;
      CountDownLatch gate = release;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!await(gate, 100)) {
        if (control.forced()) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("fake stream never released (test bug)");
        }
        bytes += 4096;
        sink.accept(progress(id, "tank/a", null, StepStatus.STREAMING, bytes));
        streamed.incrementAndGet();
        streaming.countDown();
      }
      streaming.countDown();
      boolean killed = control.forced() && gate.getCount() > 0;
      bytes += 4096;
      sink.accept(
          progress(id, "tank/a", null, killed ? StepStatus.FAILED : StepStatus.DONE, bytes));
      if (killed) {
        sink.accept(
            new CycleEvent.Error(
                id,
                ErrorKind.INTERRUPTED,
                Phase.PULL,
                SOURCE,
                "tank/a",
                "stream killed by a forced stop",
                null,
                null));
      }
      results.add(
          new DatasetResult(
              Phase.PULL,
              SOURCE,
              "tank/a",
              "backup/src/tank/a",
              killed ? Status.FAILED : Status.SENT,
              bytes,
              "full @s1",
              killed ? "killed" : null,
              null));

      if (control.stopRequested() && stopOmitsTheRest) {
        // tank/b left out
      } else if (control.stopRequested()) {
        sink.accept(progress(id, "tank/b", "not started: stop requested", StepStatus.SKIPPED, 0));
        results.add(
            new DatasetResult(
                Phase.PULL,
                SOURCE,
                "tank/b",
                "backup/src/tank/b",
                Status.SKIPPED,
                0,
                "",
                "stop requested",
                null));
      } else if (outcome == Outcome.PARTIAL || outcome == Outcome.FAILED) {
        sink.accept(progress(id, "tank/b", null, StepStatus.STARTED, 0));
        sink.accept(
            new CycleEvent.Error(
                id,
                ErrorKind.DIVERGED,
                Phase.PULL,
                SOURCE,
                "tank/b",
                "target has snapshots after @s1",
                1,
                failedStderr));
        sink.accept(progress(id, "tank/b", null, StepStatus.FAILED, 0));
        results.add(
            new DatasetResult(
                Phase.PULL,
                SOURCE,
                "tank/b",
                "backup/src/tank/b",
                Status.FAILED,
                0,
                "",
                "diverged",
                null));
      } else {
        sink.accept(progress(id, "tank/b", null, StepStatus.STARTED, 0));
        sink.accept(progress(id, "tank/b", null, StepStatus.DONE, 0));
        results.add(
            new DatasetResult(
                Phase.PULL,
                SOURCE,
                "tank/b",
                "backup/src/tank/b",
                Status.UP_TO_DATE,
                0,
                "",
                null,
                null));
      }
      Outcome o =
          control.stopReason() == StopReason.SUSPEND
              ? Outcome.SUSPENDED
              : control.stopReason() == StopReason.CANCEL
                  ? Outcome.CANCELLED
                  : control.stopReason() == StopReason.INTERRUPT ? Outcome.INTERRUPTED : outcome;
      CycleReport report =
          new CycleReport(id, request.runId(), o, start, Instant.now(), results, List.of());
      return report;
    } finally {
      running.decrementAndGet();
    }
  }

  private static boolean await(CountDownLatch latch, long millis) {
    try {
      return latch.await(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return true;
    }
  }

  private static CycleEvent.Progress progress(
      String id, String dataset, String message, StepStatus status, long bytes) {
    return new CycleEvent.Progress(
        id,
        Phase.PULL,
        SOURCE,
        dataset,
        "backup/src/" + dataset,
        null,
        "s1",
        status,
        bytes,
        1_000_000L,
        40_960,
        bytes / 10_000.0,
        message);
  }
}
