package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class DiscoveryTest {
  static final Topics T = new Topics("servers/host-backups");
  final Discovery discovery = new Discovery("homeassistant", "host-backups-agent", T, "1.2.3");
  final Map<String, ObjectNode> messages = discovery.messages();

  /** Options documented for each MQTT platform on home-assistant.io (the subset this agent uses). */
  static final Set<String> COMMON =
      Set.of("name", "unique_id", "device", "origin", "availability", "availability_mode", "icon", "qos",
          "json_attributes_topic", "value_template", "state_topic");
  static final Map<String, Set<String>> DOCUMENTED =
      Map.of(
          "button", Set.of("command_topic", "payload_press"),
          "sensor", Set.of("device_class", "options", "unit_of_measurement"),
          "binary_sensor", Set.of("device_class", "payload_on", "payload_off"),
          "event", Set.of("event_types", "device_class"));

  ObjectNode entity(String component, String objectId) {
    ObjectNode n = messages.get("homeassistant/" + component + "/host-backups-agent/" + objectId + "/config");
    assertTrue(n != null, component + "/" + objectId + " missing; have " + messages.keySet());
    return n;
  }

  @Test
  void messages_oneDevice_withEveryEntityOfTheContract() {
    assertEquals(
        Set.of(
            "homeassistant/button/host-backups-agent/run/config",
            "homeassistant/button/host-backups-agent/suspend/config",
            "homeassistant/sensor/host-backups-agent/state/config",
            "homeassistant/sensor/host-backups-agent/progress/config",
            "homeassistant/sensor/host-backups-agent/current_dataset/config",
            "homeassistant/sensor/host-backups-agent/last_success/config",
            "homeassistant/sensor/host-backups-agent/last_result/config",
            "homeassistant/binary_sensor/host-backups-agent/problem/config",
            "homeassistant/event/host-backups-agent/backup_finished/config"),
        messages.keySet());
    Set<JsonNode> devices = messages.values().stream().map(n -> n.get("device")).collect(Collectors.toSet());
    assertEquals(1, devices.size(), "one device for all entities");
    assertEquals("host-backups-agent", devices.iterator().next().get("identifiers").get(0).asText());
  }

  @Test
  void messages_everyKey_isDocumentedForItsPlatform() {
    messages.forEach(
        (topic, n) -> {
          String component = topic.split("/")[1];
          Set<String> allowed = new HashSet<>(COMMON);
          allowed.addAll(DOCUMENTED.get(component));
          n.fieldNames().forEachRemaining(k -> assertTrue(allowed.contains(k), topic + ": undocumented key " + k));
        });
  }

  @Test
  void messages_uniqueIds_areStableAndDistinct() {
    Set<String> ids = messages.values().stream().map(n -> n.get("unique_id").asText()).collect(Collectors.toSet());
    assertEquals(messages.size(), ids.size());
    assertEquals(ids, new Discovery("homeassistant", "host-backups-agent", T, "9.9").messages().values().stream()
        .map(n -> n.get("unique_id").asText()).collect(Collectors.toSet()), "unique ids do not depend on the version");
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
    assertEquals("servers/host-backups/result", entity("sensor", "last_success").get("state_topic").asText());
  }

  @Test
  void stateAndButtons_followAgentAvailability() {
    for (ObjectNode n : List.of(entity("button", "run"), entity("sensor", "state"), entity("event", "backup_finished"))) {
      assertEquals("servers/host-backups/availability", n.get("availability").get(0).get("topic").asText());
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
    for (org.zfsbackup.cycle.CycleReport.Outcome o : org.zfsbackup.cycle.CycleReport.Outcome.values()) {
      assertTrue(outcomes.contains(o.wire()), o.wire());
    }
  }

  @Test
  void event_typesAsInTheContract() {
    ObjectNode n = entity("event", "backup_finished");
    assertEquals("servers/host-backups/event", n.get("state_topic").asText());
    List<String> types = new java.util.ArrayList<>();
    n.get("event_types").forEach(t -> types.add(t.asText()));
    assertEquals(List.of("started", "success", "partial", "failed", "cancelled", "suspended", "interrupted"), types);
  }

  @Test
  void nodeId_clientIdWithOddCharacters_isSanitised() {
    assertEquals("host_backups_agent_1", Discovery.nodeId("host.backups agent/1"));
    assertEquals("homeassistant/status", discovery.statusTopic());
  }
}
