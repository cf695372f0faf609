package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.zfsbackup.command.AgentCommand;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;

/** The agent's log lines, as docs/mqtt.md ("Logs") shows them. */
class AgentLogTest {
  static final Instant T0 = Instant.parse("2026-11-27T02:00:00Z");

  static CycleEvent.Progress progress(StepStatus status, String from, String to, String message) {
    return new CycleEvent.Progress(
        "c1",
        Phase.PULL,
        "host-storage",
        "tank/data",
        "backup/tank/data",
        from,
        to,
        status,
        1048576,
        2097152L,
        1000,
        50.04,
        message);
  }

  @Test
  void command_describesWhatWasAsked() {
    assertEquals(
        "run run_id=nightly-42, then suspend",
        AgentLog.command(new AgentCommand.Run("nightly-42", true, false, Set.of())));
    assertEquals(
        "run (dry run) datasets=a:tank/x,b:tank/y",
        AgentLog.command(new AgentCommand.Run(null, false, true, Set.of("b:tank/y", "a:tank/x"))));
    assertEquals("run", AgentLog.command(new AgentCommand.Run(null, false, false, Set.of())));
    assertEquals("suspend (force)", AgentLog.command(new AgentCommand.Suspend(true)));
    assertEquals("suspend", AgentLog.command(new AgentCommand.Suspend(false)));
    assertEquals("cancel (force)", AgentLog.command(new AgentCommand.Cancel(true)));
    assertEquals("cancel", AgentLog.command(new AgentCommand.Cancel(false)));
    assertEquals("status", AgentLog.command(new AgentCommand.Status()));
  }

  @Test
  void progress_namesThePhaseTheDatasetTheSnapshotsAndTheBytesWhenDone() {
    assertEquals(
        "cycle c1: pull host-storage:tank/data done @a..@c, 1048576 bytes",
        AgentLog.progress("c1", progress(StepStatus.DONE, "a", "c", null)));
    assertEquals(
        "cycle c1: pull host-storage:tank/data started full @c",
        AgentLog.progress("c1", progress(StepStatus.STARTED, null, "c", null)));
    assertEquals(
        "cycle c1: pull host-storage:tank/data skipped: not started: stop requested",
        AgentLog.progress(
            "c1", progress(StepStatus.SKIPPED, null, null, "not started: stop requested")));
  }

  /** Catches: {@code started full @c: full @c}, the step's own description said twice. */
  @Test
  void progress_leavesOutAMessageThatOnlyRepeatsTheStep() {
    assertEquals(
        "cycle c1: pull host-storage:tank/data started full @c",
        AgentLog.progress("c1", progress(StepStatus.STARTED, null, "c", "full @c")));
    assertEquals(
        "cycle c1: pull host-storage:tank/data done @a..@c, 1048576 bytes",
        AgentLog.progress("c1", progress(StepStatus.DONE, "a", "c", "incremental @a..@c")));
    assertEquals(
        "cycle c1: pull host-storage:tank/data done @c..@c, 1048576 bytes: up to date",
        AgentLog.progress("c1", progress(StepStatus.DONE, "c", "c", "up to date")));
  }

  @Test
  void streaming_givesBytesAndPercent() {
    assertEquals(
        "cycle c1: host-storage:tank/data 1048576 bytes (50.0%)",
        AgentLog.streaming("c1", progress(StepStatus.STREAMING, "a", "c", null)).replace(',', '.'));
  }

  @Test
  void error_namesTheDatasetWhenThereIsOne() {
    assertEquals(
        "cycle c1: diverged on src:tank/b: target has snapshots after @s1",
        AgentLog.error(
            "c1",
            new CycleEvent.Error(
                "c1",
                ErrorKind.DIVERGED,
                Phase.PULL,
                "src",
                "tank/b",
                "target has snapshots after @s1",
                1,
                "x")));
    assertEquals(
        "cycle c1: internal: boom",
        AgentLog.error(
            "c1",
            new CycleEvent.Error("c1", ErrorKind.INTERNAL, null, null, null, "boom", null, null)));
  }

  @Test
  void finished_countsEveryStatus() {
    CycleReport report =
        new CycleReport(
            "c1",
            null,
            Outcome.PARTIAL,
            T0,
            T0.plusSeconds(75),
            List.of(
                new DatasetResult(Phase.PULL, "s", "a", "t/a", Status.SENT, 8192, "", null, null),
                new DatasetResult(
                    Phase.PULL, "s", "b", "t/b", Status.UP_TO_DATE, 0, "", null, null),
                new DatasetResult(Phase.PUSH, "s", "c", "t/c", Status.FAILED, 0, "", "x", null)),
            List.of());
    assertEquals(
        "cycle c1 finished: partial (1 sent, 1 up to date, 0 skipped, 1 failed; 8192 bytes) in 75"
            + " s",
        AgentLog.finished("c1", false, report));
    assertEquals(
        "cycle c1 finished: partial (dry run) (1 to send, 1 up to date, 0 skipped, 1 failed; 8192"
            + " bytes) in 75 s",
        AgentLog.finished("c1", true, report));
  }

  @Test
  void streams_saysWhatHappensToTheStreamsInFlight() {
    assertEquals("killing the streams in flight", AgentLog.streams(true));
    assertEquals(
        "starting no new dataset, letting the streams in flight finish", AgentLog.streams(false));
  }
}
