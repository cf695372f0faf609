package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.StepStatus;

class DiscoveryTest {
  static final Topics T = new Topics("servers/host-backups");
  final Discovery discovery =
      new Discovery("homeassistant", "host-backups-agent", T, "1.2.3", Duration.ofHours(36));
  final Map<String, ObjectNode> messages = discovery.messages();

  ObjectNode entity(String component, String objectId) {
    ObjectNode n =
        messages.get("homeassistant/" + component + "/host-backups-agent/" + objectId + "/config");
    assertTrue(n != null, component + "/" + objectId + " missing; have " + messages.keySet());
    return n;
  }

  static final List<String> ENTITIES =
      List.of(
          "button/run",
          "button/suspend",
          "button/run_then_suspend",
          "button/cancel",
          "sensor/state",
          "sensor/progress",
          "sensor/current_dataset",
          "sensor/last_success",
          "sensor/last_result",
          "binary_sensor/problem",
          "sensor/last_bytes",
          "sensor/last_duration",
          "sensor/datasets_failed",
          "sensor/last_error",
          "binary_sensor/running",
          "sensor/cycle_progress",
          "sensor/data_rate",
          "event/backup_finished");

  @Test
  void messages_oneDevice_withEveryEntityOfTheContractAndIssue11() {
    assertEquals(
        ENTITIES.stream()
            .map(e -> "homeassistant/" + e.replace("/", "/host-backups-agent/") + "/config")
            .collect(Collectors.toSet()),
        messages.keySet());
    Set<JsonNode> devices =
        messages.values().stream().map(n -> n.get("device")).collect(Collectors.toSet());
    assertEquals(1, devices.size(), "one device for all entities");
    assertEquals(
        "host-backups-agent", devices.iterator().next().get("identifiers").get(0).asText());
  }

  // Catches: a key Home Assistant does not document for the platform, a missing required key, a
  // device class or unit it refuses (the entity would not be created, or log errors).
  @Test
  void messages_everyPayload_passesHomeAssistantsDocumentedSchema() {
    messages.forEach(
        (topic, n) ->
            assertEquals(List.of(), HaDiscoverySchema.problems(topic.split("/")[1], n), topic));
  }

  // The schema helper itself can fail: each rule it encodes refuses a payload that breaks it.
  @Test
  void schema_brokenPayloads_areRefusedByTheRuleTheyBreak() {
    ObjectNode size = entity("sensor", "last_bytes").deepCopy();
    size.put("unit_of_measurement", "bytes");
    assertProblem("sensor", size, "unit bytes not allowed for device_class data_size");
    ObjectNode rate = entity("sensor", "data_rate").deepCopy();
    rate.put("state_class", "total");
    assertProblem("sensor", rate, "state_class total not allowed for device_class data_rate");
    ObjectNode result = entity("sensor", "last_result").deepCopy();
    result.remove("options");
    assertProblem("sensor", result, "options go with device_class enum");
    ObjectNode button = entity("button", "cancel").deepCopy();
    button.remove("command_topic");
    assertProblem("button", button, "missing required command_topic");
    ObjectNode abbreviated = entity("sensor", "state").deepCopy();
    abbreviated.put("stat_t", "x");
    assertProblem("sensor", abbreviated, "state_topic given twice");
    ObjectNode unknown = entity("binary_sensor", "running").deepCopy();
    unknown.put("device_class", "busy");
    assertProblem("binary_sensor", unknown, "binary_sensor device_class not allowed: busy");
    ObjectNode typo = entity("event", "backup_finished").deepCopy();
    typo.put("event_type", "x");
    assertProblem("event", typo, "undocumented key for event: event_type");
    // Abbreviations are expanded before the rules apply.
    ObjectNode shortKeys = Payloads.JSON.createObjectNode();
    entity("sensor", "last_duration")
        .fields()
        .forEachRemaining(
            e ->
                shortKeys.set(
                    HaDiscoverySchema.ABBREVIATIONS.entrySet().stream()
                        .filter(a -> a.getValue().equals(e.getKey()))
                        .map(java.util.Map.Entry::getKey)
                        .findFirst()
                        .orElse(e.getKey()),
                    e.getValue()));
    assertTrue(shortKeys.has("stat_t") && shortKeys.has("unit_of_meas"));
    assertEquals(List.of(), HaDiscoverySchema.problems("sensor", shortKeys));
  }

  static void assertProblem(String component, ObjectNode n, String expected) {
    List<String> problems = HaDiscoverySchema.problems(component, n);
    assertTrue(
        problems.stream().anyMatch(p -> p.startsWith(expected)), expected + " not in " + problems);
  }

  @Test
  void messages_uniqueIds_areStableAndDistinct() {
    Set<String> ids =
        messages.values().stream()
            .map(n -> n.get("unique_id").asText())
            .collect(Collectors.toSet());
    assertEquals(messages.size(), ids.size());
    assertEquals(
        ids,
        new Discovery("homeassistant", "host-backups-agent", T, "9.9", Duration.ofHours(36))
            .messages().values().stream()
                .map(n -> n.get("unique_id").asText())
                .collect(Collectors.toSet()),
        "unique ids do not depend on the version");
    assertEquals("host-backups-agent_run", entity("button", "run").get("unique_id").asText());
  }

  @Test
  void buttons_pressPublishesThePlainCommandOnT() {
    assertEquals("servers/host-backups", entity("button", "run").get("command_topic").asText());
    assertEquals("run", entity("button", "run").get("payload_press").asText());
    assertEquals("servers/host-backups", entity("button", "suspend").get("command_topic").asText());
    assertEquals("suspend", entity("button", "suspend").get("payload_press").asText());
  }

  @Test
  void lastSuccessAndResult_haveNoAvailability_soTheyStayReadableOffline() {
    assertNull(entity("sensor", "last_success").get("availability"));
    assertNull(entity("sensor", "last_result").get("availability"));
    assertNull(entity("binary_sensor", "problem").get("availability"));
    assertEquals("timestamp", entity("sensor", "last_success").get("device_class").asText());
    assertEquals(
        "servers/host-backups/result",
        entity("sensor", "last_success").get("state_topic").asText());
  }

  @Test
  void stateAndButtons_followAgentAvailability() {
    for (ObjectNode n :
        List.of(
            entity("button", "run"),
            entity("sensor", "state"),
            entity("event", "backup_finished"))) {
      assertEquals(
          "servers/host-backups/availability", n.get("availability").get(0).get("topic").asText());
    }
  }

  @Test
  void progress_availableOnlyWhileACycleIsActive() {
    ObjectNode n = entity("sensor", "progress");
    assertEquals("all", n.get("availability_mode").asText());
    assertEquals("servers/host-backups/state", n.get("availability").get(1).get("topic").asText());
    assertEquals("%", n.get("unit_of_measurement").asText());
    assertFalse(n.has("options"), "options cannot be combined with a unit");
  }

  @Test
  void enumSensors_listEveryValueTheAgentPublishes() {
    Set<String> states = new HashSet<>();
    entity("sensor", "state").get("options").forEach(o -> states.add(o.asText()));
    for (AgentState s : AgentState.values()) {
      assertTrue(states.contains(s.wire()), s.wire());
    }
    Set<String> outcomes = new HashSet<>();
    entity("sensor", "last_result").get("options").forEach(o -> outcomes.add(o.asText()));
    for (org.zfsbackup.cycle.CycleReport.Outcome o :
        org.zfsbackup.cycle.CycleReport.Outcome.values()) {
      assertTrue(outcomes.contains(o.wire()), o.wire());
    }
  }

  @Test
  void event_typesAsInTheContract() {
    ObjectNode n = entity("event", "backup_finished");
    assertEquals("servers/host-backups/event", n.get("state_topic").asText());
    List<String> types = new java.util.ArrayList<>();
    n.get("event_types").forEach(t -> types.add(t.asText()));
    assertEquals(
        List.of("started", "success", "partial", "failed", "cancelled", "suspended", "interrupted"),
        types);
  }

  @Test
  void nodeId_clientIdWithOddCharacters_isSanitised() {
    assertEquals("host_backups_agent_1", Discovery.nodeId("host.backups agent/1"));
    assertEquals("homeassistant/status", discovery.statusTopic());
  }

  // ------------------------------------------------------------------ issue 11 entities

  @Test
  void buttons_backUpAndSuspendAndCancel_publishCommandsTheAgentParses() {
    JsonNode both = entity("button", "run_then_suspend");
    assertEquals("Back up and suspend", both.get("name").asText());
    assertEquals("servers/host-backups", both.get("command_topic").asText());
    var parsed =
        new org.zfsbackup.command.CommandParser(Set.of())
            .parse(
                both.get("payload_press")
                    .asText()
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8),
                false,
                java.time.Instant.now());
    assertTrue(
        parsed instanceof org.zfsbackup.command.ParseResult.Accepted a
            && a.command() instanceof org.zfsbackup.command.AgentCommand.Run r
            && r.thenSuspend(),
        parsed.toString());
    assertEquals("cancel", entity("button", "cancel").get("payload_press").asText());
    assertEquals(
        "servers/host-backups/availability",
        entity("button", "cancel").get("availability").get(0).get("topic").asText());
  }

  @Test
  void numericSensors_haveDeviceClassesAndUnits() {
    assertEquals("data_size", entity("sensor", "last_bytes").get("device_class").asText());
    assertEquals("B", entity("sensor", "last_bytes").get("unit_of_measurement").asText());
    assertEquals("duration", entity("sensor", "last_duration").get("device_class").asText());
    assertEquals("s", entity("sensor", "last_duration").get("unit_of_measurement").asText());
    assertEquals("data_rate", entity("sensor", "data_rate").get("device_class").asText());
    assertEquals("B/s", entity("sensor", "data_rate").get("unit_of_measurement").asText());
    assertEquals("measurement", entity("sensor", "datasets_failed").get("state_class").asText());
    assertEquals("running", entity("binary_sensor", "running").get("device_class").asText());
    assertEquals(
        "servers/host-backups/cycle_progress",
        entity("sensor", "cycle_progress").get("state_topic").asText());
    assertEquals("all", entity("sensor", "cycle_progress").get("availability_mode").asText());
    assertNull(
        entity("sensor", "last_error").get("availability"), "readable while the agent is offline");
  }

  static final String NOW = "2026-11-27T12:00:00Z";
  static final String SUCCESS =
      "{\"outcome\": \"success\", \"bytes\": 1048576, \"duration_ms\": 61500, \"datasets\": {\"failed\": 0},"
          + " \"last_success_at\": \"2026-11-27T02:00:00Z\", \"dry_run\": false}";
  static final String DRY_FAILED =
      "{\"outcome\": \"failed\", \"bytes\": 0, \"duration_ms\": 100, \"datasets\": {\"failed\": 1},"
          + " \"last_success_at\": \"2026-11-27T02:00:00Z\", \"dry_run\": true}";
  static final String NEVER =
      "{\"outcome\": \"cancelled\", \"bytes\": 0, \"duration_ms\": 100, \"datasets\": {\"failed\": 0},"
          + " \"last_success_at\": null, \"dry_run\": false}";

  String render(String component, String objectId, String payload, String thisState) {
    return HaTemplates.render(
        entity(component, objectId).get("value_template").asText(), payload, thisState, NOW);
  }

  // Catches: a timestamp template that renders "" or "null" when nothing ever succeeded (Home
  // Assistant parses those as a timestamp and logs an invalid state; "None" is unknown).
  @Test
  void lastSuccess_neverSucceeded_rendersNoneSoTheSensorIsUnknown() {
    assertEquals("None", render("sensor", "last_success", NEVER, "unknown"));
    assertEquals("2026-11-27T02:00:00Z", render("sensor", "last_success", SUCCESS, "unknown"));
  }

  // Catches: a dry run changing Last result, Problem, or the numeric result sensors.
  @Test
  void resultEntities_dryRun_keepTheirState() {
    assertEquals("success", render("sensor", "last_result", DRY_FAILED, "success"));
    assertEquals(
        "failed", render("sensor", "last_result", NEVER.replace("cancelled", "failed"), "success"));
    assertEquals(
        "",
        render("binary_sensor", "problem", DRY_FAILED, "off"),
        "empty: Home Assistant ignores it");
    for (String numeric : List.of("last_bytes", "last_duration", "datasets_failed")) {
      assertEquals("", render("sensor", numeric, DRY_FAILED, "5"), numeric);
    }
    assertEquals("1048576", render("sensor", "last_bytes", SUCCESS, "unknown"));
    assertEquals("61.5", render("sensor", "last_duration", SUCCESS, "unknown"));
    assertEquals("0", render("sensor", "datasets_failed", SUCCESS, "unknown"));
  }

  // Catches: Problem not turning on by age (36 h by default, configurable), or when nothing ever
  // succeeded, or turning on for a recent success.
  @Test
  void problem_onForFailuresForNoSuccessAndForAStaleSuccess() {
    assertEquals("OFF", render("binary_sensor", "problem", SUCCESS, "off"));
    assertEquals(
        "ON",
        render("binary_sensor", "problem", SUCCESS.replace("\"success\"", "\"partial\""), "off"));
    assertEquals("ON", render("binary_sensor", "problem", NEVER, "off"));
    String template = entity("binary_sensor", "problem").get("value_template").asText();
    // Last success 2026-11-27T02:00Z: 35 h later still fine, 37 h later stale.
    assertEquals("OFF", HaTemplates.render(template, SUCCESS, "off", "2026-11-28T13:00:00Z"));
    assertEquals("ON", HaTemplates.render(template, SUCCESS, "off", "2026-11-28T15:00:00Z"));
    String sixHours =
        new Discovery("homeassistant", "host-backups-agent", T, "1", Duration.ofHours(6))
            .messages()
            .get("homeassistant/binary_sensor/host-backups-agent/problem/config")
            .get("value_template")
            .asText();
    assertEquals("ON", HaTemplates.render(sixHours, SUCCESS, "off", "2026-11-27T08:30:00Z"));
  }

  // Catches: a run limited with `datasets` turning Problem off while a dataset it did not touch
  // still fails (the last full cycle was partial), also after Home Assistant restarted (nothing
  // to keep then: the retained result alone decides); a limited run that fails not turning it on.
  @Test
  void problem_limitedRun_followsTheLastFullCycleUnlessItFailsOrTheSuccessIsStale() {
    String limited = SUCCESS.replace("\"dry_run\": false", "\"dry_run\": false, \"limited\": true");
    String afterPartial =
        limited.replace(
            "\"limited\": true", "\"limited\": true, \"last_full_outcome\": \"partial\"");
    String afterSuccess =
        limited.replace(
            "\"limited\": true", "\"limited\": true, \"last_full_outcome\": \"success\"");
    assertEquals("ON", render("binary_sensor", "problem", afterPartial, "unknown"));
    assertEquals("OFF", render("binary_sensor", "problem", afterSuccess, "unknown"));
    assertEquals(
        "ON",
        render(
            "binary_sensor",
            "problem",
            afterSuccess.replace("\"success\",", "\"failed\","),
            "off"));
    String template = entity("binary_sensor", "problem").get("value_template").asText();
    assertEquals("ON", HaTemplates.render(template, afterSuccess, "off", "2026-11-28T15:00:00Z"));
  }

  // Catches: a cancelled, suspended or interrupted cycle turning Problem off while datasets failed
  // in it, or while the last full cycle was partial; and on for a dataset the user's forced stop
  // killed.
  @Test
  void problem_stoppedCycle_onWhenADatasetFailedOrTheLastFullCycleDid() {
    for (String stopped : List.of("cancelled", "suspended", "interrupted")) {
      String clean =
          SUCCESS
              .replace("\"success\",", "\"" + stopped + "\",")
              .replace(
                  "\"dry_run\": false", "\"dry_run\": false, \"last_full_outcome\": \"success\"");
      assertEquals("OFF", render("binary_sensor", "problem", clean, "off"), stopped);
      String failedOne = clean.replace("\"failed\": 0", "\"failed\": 1");
      assertEquals("ON", render("binary_sensor", "problem", failedOne, "off"), stopped);
      // A dataset killed by a forced stop or a signal is what the user asked for: no problem.
      String killedOne =
          failedOne.replace("\"dry_run\": false", "\"dry_run\": false, \"failed_interrupted\": 1");
      assertEquals("OFF", render("binary_sensor", "problem", killedOne, "on"), stopped);
      String killedAndFailed = killedOne.replace("\"failed\": 1", "\"failed\": 2");
      assertEquals("ON", render("binary_sensor", "problem", killedAndFailed, "off"), stopped);
      String afterPartial =
          clean.replace("\"last_full_outcome\": \"success\"", "\"last_full_outcome\": \"partial\"");
      assertEquals("ON", render("binary_sensor", "problem", afterPartial, "off"), stopped);
    }
  }

  // Catches: Current dataset showing the last cycle's dataset when a new cycle starts (the
  // cycle's first T/cycle_progress has no dataset yet).
  @Test
  void currentDataset_fromCycleProgress_unknownAtTheStart() {
    assertEquals(
        T.cycleProgress(), entity("sensor", "current_dataset").get("state_topic").asText());
    CycleProgress start = new CycleProgress("c1", 2);
    assertEquals(
        "None", render("sensor", "current_dataset", Payloads.text(start.payload()), "src:old"));
    start.update(CycleProgressTest.p(CycleEvent.Phase.PULL, "tank/a", StepStatus.STARTED, 0.0));
    assertEquals(
        "src:tank/a", render("sensor", "current_dataset", Payloads.text(start.payload()), "None"));
    // Catches: a name of 256 characters or more (a push's local: and a long dataset) shown as
    // unknown, since Home Assistant refuses a longer state.
    String longName = "tank/" + "d".repeat(200) + "/end-" + "e".repeat(60);
    start.update(CycleProgressTest.p(CycleEvent.Phase.PULL, longName, StepStatus.STARTED, 0.0));
    String shown = render("sensor", "current_dataset", Payloads.text(start.payload()), "None");
    assertEquals(255, shown.length(), shown);
    assertTrue(shown.startsWith("…") && shown.endsWith("/end-" + "e".repeat(60)), shown);
  }

  @Test
  void lastErrorRunningAndRate_renderWhatTheAgentPublishes() {
    String error =
        Payloads.text(
            Payloads.agentError("c1", "command_refused", "run refused: " + "x".repeat(400)));
    String lastError = render("sensor", "last_error", error, "unknown");
    assertTrue(lastError.startsWith("command_refused: run refused: "), lastError);
    assertEquals(255, lastError.length(), "a state is at most 255 characters");
    // A stream's message starts with names and the argv: the process's own words come first.
    String dataset = "backuppool/encryptedbackups/host-storage/tank/data";
    String argv = "'ssh -o BatchMode=yes -o ControlMaster=auto -o ControlPath=/tmp/zba-1/1 -- zfs";
    String full =
        Payloads.text(
            Payloads.error(
                "c1",
                "receive_failed",
                CycleEvent.Phase.PUSH,
                "local",
                dataset,
                dataset
                    + " -> offsite/x: incremental @autosnap_2026-11-26_00:00:00_daily.."
                    + "@autosnap_2026-11-27_00:00:00_daily receive failed: "
                    + argv.repeat(3),
                1,
                "cannot receive incremental stream: destination offsite/x has been modified\n"
                    + "since most recent snapshot\n"));
    assertEquals(
        "receive_failed: "
            + dataset
            + ": cannot receive incremental stream: destination"
            + " offsite/x has been modified since most recent snapshot",
        render("sensor", "last_error", full, "unknown"));
    // Catches: a long dataset name using up the 255 characters, so that why was cut off.
    String longDataset = "tank/" + "c".repeat(230);
    String longOne =
        Payloads.text(
            Payloads.error(
                "c1",
                "receive_failed",
                CycleEvent.Phase.PULL,
                "h",
                longDataset,
                longDataset + " -> x: full @s1 receive failed",
                1,
                "cannot receive: invalid name\n"));
    assertEquals(
        "receive_failed: …" + "c".repeat(99) + ": cannot receive: invalid name",
        render("sensor", "last_error", longOne, "unknown"));
    // A warning's message starts with what it is about: that is kept before the process's words.
    String warning =
        Payloads.text(
            Payloads.error(
                "c1",
                "warning",
                CycleEvent.Phase.PULL,
                "h",
                "tank/m",
                "release_failed: could not release the hold on tank/m@s1: 'ssh … zfs release'",
                255,
                "Connection to 127.0.0.1 closed by remote host.\n"));
    assertEquals(
        "warning: release_failed: tank/m: Connection to 127.0.0.1 closed by remote host.",
        render("sensor", "last_error", warning, "unknown"));
    assertEquals(
        "ON",
        render(
            "binary_sensor",
            "running",
            Payloads.text(
                Payloads.state(AgentState.RUNNING, "c1", null, null, java.time.Instant.now())),
            "off"));
    assertEquals(
        "OFF",
        render(
            "binary_sensor",
            "running",
            Payloads.text(
                Payloads.state(AgentState.IDLE, null, null, null, java.time.Instant.now())),
            "on"));
    assertEquals(
        "4096",
        render(
            "sensor", "data_rate", "{\"status\": \"streaming\", \"bytes_per_second\": 4096}", "0"));
    assertEquals(
        "0",
        render("sensor", "data_rate", "{\"status\": \"done\", \"bytes_per_second\": 4096}", "0"));
  }
}
