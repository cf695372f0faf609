package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.ErrorKind;

/** The published JSON against contract §4, field for field (names and order). */
class PayloadsTest {
  static final Instant T0 = Instant.parse("2026-11-27T02:00:00.456Z");

  @Test
  void state_running_hasContractFields() {
    ObjectNode n = Payloads.state(AgentState.RUNNING, "c1", "nightly-42", Phase.PULL, T0);
    assertEquals(List.of("state", "cycle_id", "run_id", "phase", "since"), fields(n));
    assertEquals("running", n.get("state").asText());
    assertEquals("pull", n.get("phase").asText());
    assertEquals("2026-11-27T02:00:00Z", n.get("since").asText());
  }

  @Test
  void state_idle_hasNullPhaseAndCycle() {
    ObjectNode n = Payloads.state(AgentState.IDLE, null, null, null, T0);
    assertTrue(n.get("phase").isNull());
    assertTrue(n.get("cycle_id").isNull());
    assertTrue(n.get("run_id").isNull());
  }

  @Test
  void progress_streaming_hasContractFields() {
    ObjectNode n =
        Payloads.progress(
            new CycleEvent.Progress(
                "c1",
                Phase.PUSH,
                "host-storage",
                "tank/data",
                "offsite/host-storage/tank/data",
                "a",
                "c",
                StepStatus.STREAMING,
                1000,
                4000L,
                500,
                25.04,
                "ignored"));
    assertEquals(
        List.of(
            "cycle_id",
            "phase",
            "source",
            "dataset",
            "target",
            "from",
            "to",
            "status",
            "bytes",
            "total_bytes",
            "bytes_per_second",
            "percent",
            "pruned"),
        fields(n));
    assertTrue(n.get("pruned").isNull());
    assertEquals("push", n.get("phase").asText());
    assertEquals("streaming", n.get("status").asText());
    assertEquals(4000, n.get("total_bytes").asLong());
    assertEquals(25.0, n.get("percent").asDouble());
  }

  @Test
  void progress_unknownTotal_hasNullTotalAndPercent() {
    ObjectNode n =
        Payloads.progress(
            new CycleEvent.Progress(
                "c1",
                Phase.PULL,
                "s",
                "d",
                "t",
                null,
                "c",
                StepStatus.STARTED,
                0,
                null,
                0,
                null,
                null));
    assertTrue(n.get("total_bytes").isNull());
    assertTrue(n.get("percent").isNull());
    assertTrue(n.get("from").isNull());
  }

  @Test
  void error_engineError_hasContractFields() {
    ObjectNode n =
        Payloads.error(
            new CycleEvent.Error(
                "c1",
                ErrorKind.DIVERGED,
                Phase.PULL,
                "s",
                "tank/data",
                "target has @x after @b",
                1,
                "err"));
    assertEquals(
        List.of("cycle_id", "kind", "phase", "source", "dataset", "message", "exit_code", "stderr"),
        fields(n));
    assertEquals("diverged", n.get("kind").asText());
    assertEquals(1, n.get("exit_code").asInt());
  }

  @Test
  void agentError_rejection_hasSameFieldsWithNulls() {
    ObjectNode n = Payloads.agentError(null, "command_stale", "expired");
    assertEquals(
        List.of("cycle_id", "kind", "phase", "source", "dataset", "message", "exit_code", "stderr"),
        fields(n));
    assertTrue(n.get("exit_code").isNull());
  }

  @Test
  void result_partial_hasContractFieldsAndCounts() {
    List<DatasetResult> ds = new ArrayList<>();
    ds.add(new DatasetResult(Phase.PULL, "s", "a", "t/a", Status.SENT, 100, "full @a", null, null));
    ds.add(
        new DatasetResult(Phase.PULL, "s", "b", "t/b", Status.SENT, 50, "incremental", null, null));
    ds.add(new DatasetResult(Phase.PULL, "s", "c", "t/c", Status.UP_TO_DATE, 0, "", null, null));
    ds.add(
        new DatasetResult(
            Phase.PULL, "s", "d", "t/d", Status.SKIPPED, 0, "", "no snapshots", null));
    ds.add(
        new DatasetResult(
            Phase.PUSH, "s", "e", "t/e", Status.FAILED, 0, "", "diverged", ErrorKind.DIVERGED));
    CycleReport report =
        new CycleReport("c1", "r1", Outcome.PARTIAL, T0, T0.plusSeconds(90), ds, List.of());
    ObjectNode n =
        Payloads.result(report, Instant.parse("2026-11-26T02:00:00Z"), false, false, "partial");
    assertEquals(
        List.of(
            "cycle_id",
            "run_id",
            "outcome",
            "started_at",
            "finished_at",
            "duration_ms",
            "datasets",
            "bytes",
            "pruned",
            "last_success_at",
            "dry_run",
            "limited",
            "last_full_outcome",
            "failed_interrupted"),
        fields(n));
    assertEquals(0, n.get("pruned").asLong());
    // dry_run (an extension): false for a real cycle, true for a dry run's result.
    assertFalse(n.get("dry_run").asBoolean());
    assertTrue(Payloads.result(report, null, true, false, null).get("dry_run").asBoolean());
    // limited (an extension): true for a run limited with datasets.
    assertFalse(n.get("limited").asBoolean());
    assertTrue(Payloads.result(report, null, false, true, null).get("limited").asBoolean());
    // failed_interrupted (an extension): of the failed, those a forced stop or a signal killed.
    assertEquals(0, n.get("failed_interrupted").asInt());
    List<DatasetResult> killed = new ArrayList<>(ds);
    killed.add(
        new DatasetResult(
            Phase.PUSH, "s", "f", "t/f", Status.FAILED, 9, "", "killed", ErrorKind.INTERRUPTED));
    CycleReport stopped = new CycleReport("c2", null, Outcome.CANCELLED, T0, T0, killed, List.of());
    ObjectNode s = Payloads.result(stopped, null, false, false, "success");
    assertEquals(2, s.get("datasets").get("failed").asInt());
    assertEquals(1, s.get("failed_interrupted").asInt());
    // last_full_outcome (an extension): carried as given (CycleReporting decides it); null before
    // the first full cycle.
    assertEquals("partial", n.get("last_full_outcome").asText());
    assertTrue(Payloads.result(report, null, false, true, null).get("last_full_outcome").isNull());
    assertEquals(
        List.of("total", "sent", "up_to_date", "skipped", "failed"), fields(n.get("datasets")));
    assertEquals("partial", n.get("outcome").asText());
    assertEquals(90_000, n.get("duration_ms").asLong());
    assertEquals(5, n.at("/datasets/total").asInt());
    assertEquals(2, n.at("/datasets/sent").asInt());
    assertEquals(1, n.at("/datasets/up_to_date").asInt());
    assertEquals(1, n.at("/datasets/skipped").asInt());
    assertEquals(1, n.at("/datasets/failed").asInt());
    assertEquals(150, n.get("bytes").asLong());
    assertEquals("2026-11-26T02:00:00Z", n.get("last_success_at").asText());
  }

  /** Catches pruned snapshots missing from the progress and the result (issue 10). */
  @Test
  void pruned_progressListsNames_resultCountsSnapshots() {
    ObjectNode p =
        Payloads.progress(
            new CycleEvent.Progress(
                "c1",
                Phase.PULL,
                "s",
                "tank/a",
                "bak/s/tank/a",
                null,
                null,
                StepStatus.PRUNED,
                0,
                null,
                0,
                null,
                "destroyed 2",
                List.of("x", "y")));
    assertEquals("pruned", p.get("status").asText());
    assertEquals("[\"x\",\"y\"]", p.get("pruned").toString());
    CycleReport report =
        new CycleReport(
            "c1",
            null,
            Outcome.SUCCESS,
            T0,
            T0,
            List.of(),
            List.of(),
            List.of(
                new CycleReport.Pruned(
                    Phase.PULL, "s", "tank/a", "bak/s/tank/a", List.of("x", "y")),
                new CycleReport.Pruned(
                    Phase.PUSH, "local", "bak/s/tank/a", "off/s/tank/a", List.of("x"))));
    assertEquals(3, Payloads.result(report, null, false, false, null).get("pruned").asLong());
  }

  @Test
  void result_neverSucceeded_hasNullLastSuccess() {
    CycleReport report = new CycleReport("c1", null, Outcome.FAILED, T0, T0, List.of(), List.of());
    ObjectNode n = Payloads.result(report, null, false, false, null);
    assertTrue(n.get("last_success_at").isNull());
    assertTrue(n.get("run_id").isNull());
  }

  @Test
  void event_started_isShapedForHomeAssistant() {
    ObjectNode n = Payloads.event("started", "c1", "r1");
    assertEquals(List.of("event_type", "cycle_id", "run_id"), fields(n));
    assertTrue(Discovery.EVENT_TYPES.contains(n.get("event_type").asText()));
  }

  @Test
  void eventTypes_coverEveryOutcome() {
    for (Outcome o : Outcome.values()) {
      assertTrue(Discovery.EVENT_TYPES.contains(o.wire()), o.wire());
    }
  }

  static List<String> fields(JsonNode n) {
    List<String> out = new ArrayList<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
