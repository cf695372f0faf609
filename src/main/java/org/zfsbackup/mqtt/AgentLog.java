package org.zfsbackup.mqtt;

import java.util.TreeSet;
import org.zfsbackup.command.AgentCommand;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.StepStatus;

/**
 * The text of the agent's log lines about commands, progress, errors and results (docs/mqtt.md,
 * "Logs"): one line per thing that happened, readable without the JSON. Pure.
 */
final class AgentLog {
  private AgentLog() {}

  /** {@code run run_id=nightly-42 (dry run)}, {@code suspend (force)}, {@code status}, ... */
  static String command(AgentCommand command) {
    if (command instanceof AgentCommand.Run run) {
      return "run" + runDetails(run);
    }
    if (command instanceof AgentCommand.Suspend s && s.force()) {
      return "suspend (force)";
    }
    if (command instanceof AgentCommand.Cancel c && c.force()) {
      return "cancel (force)";
    }
    return command.name();
  }

  /**
   * What a {@code run} asked for beyond a plain run: {@code " run_id=x (dry run), then suspend"}.
   */
  static String runDetails(AgentCommand.Run run) {
    StringBuilder b = new StringBuilder();
    if (run.runId() != null) {
      b.append(" run_id=").append(run.runId());
    }
    if (run.dryRun()) {
      b.append(" (dry run)");
    }
    if (!run.datasets().isEmpty()) {
      b.append(" datasets=").append(String.join(",", new TreeSet<>(run.datasets())));
    }
    if (run.thenSuspend()) {
      b.append(", then suspend");
    }
    return b.toString();
  }

  /** How a stop treats the streams in flight. */
  static String streams(boolean force) {
    return force
        ? "killing the streams in flight"
        : "starting no new dataset, letting the streams in flight finish";
  }

  /**
   * A dataset step's start or end: {@code cycle C: pull src:tank/a done @a..@c, 1048576 bytes}. For
   * a {@code streaming} update see {@link #streaming}.
   */
  static String progress(String cycleId, CycleEvent.Progress p) {
    String send =
        p.to() == null
            ? ""
            : p.from() == null ? " full @" + p.to() : " @" + p.from() + "..@" + p.to();
    return "cycle "
        + cycleId
        + ": "
        + (p.phase() == null ? "" : p.phase().wire())
        + " "
        + p.source()
        + ":"
        + p.dataset()
        + " "
        + p.status().wire()
        + send
        + (p.status() == StepStatus.DONE ? ", " + p.bytes() + " bytes" : "")
        + (p.message() == null || repeats(p.message(), send) ? "" : ": " + p.message());
  }

  /** A step's message that only names its snapshots again ({@code incremental @a..@c}). */
  private static boolean repeats(String message, String send) {
    return !send.isEmpty() && (" " + message).endsWith(send);
  }

  /**
   * A {@code streaming} update (logged at debug): {@code cycle C: src:tank/a 4096 bytes (0.4%)}.
   */
  static String streaming(String cycleId, CycleEvent.Progress p) {
    return "cycle "
        + cycleId
        + ": "
        + p.source()
        + ":"
        + p.dataset()
        + " "
        + p.bytes()
        + " bytes"
        + (p.percent() == null ? "" : String.format(" (%.1f%%)", p.percent()));
  }

  /** An engine error: {@code cycle C: send_failed on src:tank/a: ...}. */
  static String error(String cycleId, CycleEvent.Error e) {
    return "cycle "
        + cycleId
        + ": "
        + e.kind().wire()
        + (e.dataset() == null ? "" : " on " + e.source() + ":" + e.dataset())
        + ": "
        + e.message();
  }

  /** {@code cycle C finished: success (2 sent, 0 up to date, ...; 8192 bytes) in 3 s}. */
  static String finished(String cycleId, boolean dryRun, CycleReport report) {
    return "cycle "
        + cycleId
        + " finished: "
        + report.outcome().wire()
        + (dryRun ? " (dry run)" : "")
        + " ("
        + report.count(CycleReport.Status.SENT)
        + (dryRun ? " to send, " : " sent, ")
        + report.count(CycleReport.Status.UP_TO_DATE)
        + " up to date, "
        + report.count(CycleReport.Status.SKIPPED)
        + " skipped, "
        + report.count(CycleReport.Status.FAILED)
        + " failed; "
        + report.bytes()
        + " bytes) in "
        + report.duration().toSeconds()
        + " s";
  }
}
