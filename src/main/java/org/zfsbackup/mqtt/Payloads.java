package org.zfsbackup.mqtt;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.ErrorKind;

/**
 * The JSON the agent publishes, field for field as in contract §4. Every listed field is always
 * present ({@code null} when it does not apply), so dashboards and templates never miss a key.
 * Timestamps are ISO-8601 UTC, to the second.
 */
final class Payloads {
  static final ObjectMapper JSON = new ObjectMapper();

  private Payloads() {}

  /** {@code T/state}. */
  static ObjectNode state(
      AgentState state, String cycleId, String runId, Phase phase, Instant since) {
    ObjectNode n = JSON.createObjectNode();
    n.put("state", state.wire());
    n.put("cycle_id", cycleId);
    n.put("run_id", runId);
    n.put("phase", phase == null ? null : phase.wire());
    n.put("since", time(since));
    return n;
  }

  /** {@code T/progress}. */
  static ObjectNode progress(CycleEvent.Progress p) {
    ObjectNode n = JSON.createObjectNode();
    n.put("cycle_id", p.cycleId());
    n.put("phase", p.phase() == null ? null : p.phase().wire());
    n.put("source", p.source());
    n.put("dataset", p.dataset());
    n.put("target", p.target());
    n.put("from", p.from());
    n.put("to", p.to());
    n.put("status", p.status().wire());
    n.put("bytes", p.bytes());
    n.put("total_bytes", p.totalBytes());
    n.put("bytes_per_second", p.bytesPerSecond());
    n.put("percent", p.percent() == null ? null : Math.round(p.percent() * 10) / 10.0);
    if (p.pruned() == null) {
      n.putNull("pruned");
    } else {
      p.pruned().forEach(n.putArray("pruned")::add);
    }
    return n;
  }

  /** {@code T/error}. */
  static ObjectNode error(
      String cycleId,
      String kind,
      Phase phase,
      String source,
      String dataset,
      String message,
      Integer exitCode,
      String stderr) {
    ObjectNode n = JSON.createObjectNode();
    n.put("cycle_id", cycleId);
    n.put("kind", kind);
    n.put("phase", phase == null ? null : phase.wire());
    n.put("source", source);
    n.put("dataset", dataset);
    n.put("message", message);
    n.put("exit_code", exitCode);
    n.put("stderr", stderr);
    return n;
  }

  /** {@code T/error} for an engine error. */
  static ObjectNode error(CycleEvent.Error e) {
    return error(
        e.cycleId(),
        e.kind().wire(),
        e.phase(),
        e.source(),
        e.dataset(),
        e.message(),
        e.exitCode(),
        e.stderr());
  }

  /** {@code T/error} for something the agent itself refused or failed at. */
  static ObjectNode agentError(String cycleId, String kind, String message) {
    return error(cycleId, kind, null, null, null, message, null, null);
  }

  /**
   * {@code T/result}, with four extensions of the contract's fields: {@code dry_run}, true for a
   * dry run's result, which Home Assistant's result entities ignore; {@code limited}, true for a
   * run limited with {@code datasets}, whose success says nothing of the other datasets; {@code
   * last_full_outcome}, the outcome of the last cycle over every configured dataset that ran to its
   * end ({@code success}, {@code partial} or {@code failed}; this one included; null before the
   * first), which a limited run or a stopped cycle does not change. With it Home Assistant's
   * Problem is known from the retained result alone. And {@code failed_interrupted}: of {@code
   * datasets.failed}, those killed by a forced stop or a signal ({@code interrupted}), which the
   * user asked for: no problem of the backup.
   */
  static ObjectNode result(
      CycleReport report,
      Instant lastSuccessAt,
      boolean dryRun,
      boolean limited,
      String lastFullOutcome) {
    ObjectNode n = JSON.createObjectNode();
    n.put("cycle_id", report.cycleId());
    n.put("run_id", report.runId());
    n.put("outcome", report.outcome().wire());
    n.put("started_at", time(report.startedAt()));
    n.put("finished_at", time(report.finishedAt()));
    n.put("duration_ms", report.duration().toMillis());
    ObjectNode datasets = n.putObject("datasets");
    datasets.put("total", report.datasets().size());
    datasets.put("sent", report.count(Status.SENT));
    datasets.put("up_to_date", report.count(Status.UP_TO_DATE));
    datasets.put("skipped", report.count(Status.SKIPPED));
    datasets.put("failed", report.count(Status.FAILED));
    n.put("bytes", report.bytes());
    n.put("pruned", report.prunedCount());
    n.put("last_success_at", time(lastSuccessAt));
    n.put("dry_run", dryRun);
    n.put("limited", limited);
    n.put("last_full_outcome", lastFullOutcome);
    n.put(
        "failed_interrupted",
        report.datasets().stream()
            .filter(d -> d.status() == Status.FAILED && d.kind() == ErrorKind.INTERRUPTED)
            .count());
    return n;
  }

  /** {@code T/event}, shaped for a Home Assistant {@code event} entity. */
  static ObjectNode event(String eventType, String cycleId, String runId) {
    ObjectNode n = JSON.createObjectNode();
    n.put("event_type", eventType);
    n.put("cycle_id", cycleId);
    n.put("run_id", runId);
    return n;
  }

  static String time(Instant t) {
    return t == null ? null : t.truncatedTo(ChronoUnit.SECONDS).toString();
  }

  static String text(JsonNode node) {
    try {
      return JSON.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}
