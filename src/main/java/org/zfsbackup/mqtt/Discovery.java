package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Home Assistant MQTT discovery: one device with its entities, each published retained on
 * {@code <prefix>/<component>/<node_id>/<object_id>/config} (single-component discovery, which every
 * HA version with MQTT discovery understands). {@code node_id} is the MQTT client id reduced to
 * {@code [a-zA-Z0-9_-]}; {@code unique_id} is {@code <node_id>_<object_id>}: stable across restarts
 * and distinct per agent.
 *
 * <p>Availability: buttons, State and the Backup finished event follow {@code T/availability}.
 * Progress and Current dataset are available only while a cycle is active (also from
 * {@code T/state}), so they do not show a stale dataset when idle. Last success, Last result and
 * Problem have no availability at all: they come from the retained {@code T/result} and stay readable
 * while the agent is offline or the server sleeps, which is when you want to read them.
 */
final class Discovery {
  static final List<String> EVENT_TYPES =
      List.of("started", "success", "partial", "failed", "cancelled", "suspended", "interrupted");

  private final String prefix;
  private final String nodeId;
  private final Topics topics;
  private final String version;

  Discovery(String prefix, String clientId, Topics topics, String version) {
    this.prefix = prefix;
    this.nodeId = nodeId(clientId);
    this.topics = topics;
    this.version = version;
  }

  static String nodeId(String clientId) {
    String id = clientId.replaceAll("[^a-zA-Z0-9_-]", "_");
    return id.isEmpty() ? "zfs_backup_agent" : id;
  }

  /** Where Home Assistant announces itself ({@code online} after it starts): republish then. */
  String statusTopic() {
    return prefix + "/status";
  }

  /** Discovery topic to config payload, in a stable order. */
  Map<String, ObjectNode> messages() {
    Map<String, ObjectNode> out = new LinkedHashMap<>();

    out.put(topic("button", "run"), button("Run backup", "run", "mdi:backup-restore"));
    out.put(topic("button", "suspend"), button("Suspend", "suspend", "mdi:power-sleep"));

    ObjectNode state = entity("State", "state");
    state.put("state_topic", topics.state());
    state.put("value_template", "{{ value_json.state }}");
    state.put("device_class", "enum");
    options(state, "idle", "running", "cancelling", "suspending");
    state.put("json_attributes_topic", topics.state());
    state.put("icon", "mdi:state-machine");
    agentAvailability(state);
    out.put(topic("sensor", "state"), state);

    ObjectNode progress = entity("Progress", "progress");
    progress.put("state_topic", topics.progress());
    progress.put("value_template", "{{ value_json.percent }}");
    progress.put("unit_of_measurement", "%");
    progress.put("json_attributes_topic", topics.progress());
    progress.put("icon", "mdi:progress-upload");
    cycleAvailability(progress);
    out.put(topic("sensor", "progress"), progress);

    ObjectNode dataset = entity("Current dataset", "current_dataset");
    dataset.put("state_topic", topics.progress());
    dataset.put("value_template", "{{ value_json.source }}:{{ value_json.dataset }}");
    dataset.put("icon", "mdi:database-sync");
    cycleAvailability(dataset);
    out.put(topic("sensor", "current_dataset"), dataset);

    ObjectNode lastSuccess = entity("Last success", "last_success");
    lastSuccess.put("state_topic", topics.result());
    // JSON null renders as "None", which HA turns into "unknown" (never backed up yet).
    lastSuccess.put("value_template", "{{ value_json.last_success_at }}");
    lastSuccess.put("device_class", "timestamp");
    out.put(topic("sensor", "last_success"), lastSuccess);

    ObjectNode lastResult = entity("Last result", "last_result");
    lastResult.put("state_topic", topics.result());
    lastResult.put("value_template", "{{ value_json.outcome }}");
    lastResult.put("device_class", "enum");
    options(lastResult, "success", "partial", "failed", "cancelled", "suspended", "interrupted");
    lastResult.put("json_attributes_topic", topics.result());
    lastResult.put("icon", "mdi:clipboard-check-outline");
    out.put(topic("sensor", "last_result"), lastResult);

    ObjectNode problem = entity("Problem", "problem");
    problem.put("state_topic", topics.result());
    problem.put(
        "value_template", "{{ 'ON' if value_json.outcome in ['failed', 'partial'] else 'OFF' }}");
    problem.put("payload_on", "ON");
    problem.put("payload_off", "OFF");
    problem.put("device_class", "problem");
    out.put(topic("binary_sensor", "problem"), problem);

    ObjectNode finished = entity("Backup finished", "backup_finished");
    finished.put("state_topic", topics.event());
    ArrayNode types = finished.putArray("event_types");
    EVENT_TYPES.forEach(types::add);
    finished.put("icon", "mdi:backup-restore");
    agentAvailability(finished);
    out.put(topic("event", "backup_finished"), finished);

    return out;
  }

  /** A button that publishes the plain-text {@code command} on T; pressable while the agent is online. */
  private ObjectNode button(String name, String command, String icon) {
    ObjectNode b = entity(name, command);
    b.put("command_topic", topics.command());
    b.put("payload_press", command);
    b.put("qos", 1);
    b.put("icon", icon);
    agentAvailability(b);
    return b;
  }

  private String topic(String component, String objectId) {
    return prefix + "/" + component + "/" + nodeId + "/" + objectId + "/config";
  }

  private ObjectNode entity(String name, String objectId) {
    ObjectNode n = Payloads.JSON.createObjectNode();
    n.put("name", name);
    n.put("unique_id", nodeId + "_" + objectId);
    ObjectNode device = n.putObject("device");
    device.putArray("identifiers").add(nodeId);
    device.put("name", "ZFS backups " + nodeId);
    device.put("manufacturer", "zfs-backup-agent");
    device.put("model", "zfs-backup-agent");
    device.put("sw_version", version);
    ObjectNode origin = n.putObject("origin");
    origin.put("name", "zfs-backup-agent");
    origin.put("sw_version", version);
    return n;
  }

  private void agentAvailability(ObjectNode n) {
    ArrayNode list = n.putArray("availability");
    list.addObject().put("topic", topics.availability());
  }

  private void cycleAvailability(ObjectNode n) {
    ArrayNode list = n.putArray("availability");
    list.addObject().put("topic", topics.availability());
    list.addObject()
        .put("topic", topics.state())
        .put("value_template", "{{ 'offline' if value_json.state == 'idle' else 'online' }}");
    n.put("availability_mode", "all");
  }

  private static void options(ObjectNode n, String... values) {
    ArrayNode list = n.putArray("options");
    for (String v : values) {
      list.add(v);
    }
  }
}
