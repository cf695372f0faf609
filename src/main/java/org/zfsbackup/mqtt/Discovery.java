package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.zfsbackup.cycle.CycleReport.Outcome;

/**
 * Home Assistant MQTT discovery: one device with its entities, each published retained on {@code
 * <prefix>/<component>/<node_id>/<object_id>/config} (single-component discovery, which every HA
 * version with MQTT discovery understands). {@code node_id} is the MQTT client id reduced to {@code
 * [a-zA-Z0-9_-]}; {@code unique_id} is {@code <node_id>_<object_id>}: stable across restarts and
 * distinct per agent.
 *
 * <p>Availability: buttons, State, Running and the Backup finished event follow {@code
 * T/availability}. Progress, Current dataset, Cycle progress and Transfer rate are available only
 * while a cycle is active (also from {@code T/state}), so they do not show a stale dataset when
 * idle. The entities of {@code T/result} (Last success, Last result, Problem, Last backup size,
 * Last backup duration, Datasets failed) and Last error have no availability at all: they stay
 * readable while the agent is offline or the server sleeps, which is when you want to read them.
 *
 * <p>Dry runs: their result is published with {@code "dry_run": true} and not retained; the
 * templates of the {@code T/result} entities keep the entity's state for such a payload (an empty
 * output, which Home Assistant ignores, or {@code this.state}), so a dry run changes none of them.
 */
final class Discovery {
  /** {@code T/event}'s {@code event_type}: a cycle's start, then each outcome it can end with. */
  static final List<String> EVENT_TYPES =
      Stream.concat(Stream.of("started"), Stream.of(Outcome.values()).map(Outcome::wire)).toList();

  private final String prefix;
  private final String nodeId;
  private final Topics topics;
  private final String version;
  private final Duration staleAfter;

  /**
   * @param staleAfter Problem turns on when the last success is older than this
   */
  Discovery(String prefix, String clientId, Topics topics, String version, Duration staleAfter) {
    this.prefix = prefix;
    this.nodeId = nodeId(clientId);
    this.topics = topics;
    this.version = version;
    this.staleAfter = staleAfter;
  }

  Duration staleAfter() {
    return staleAfter;
  }

  /** The device's name in Home Assistant; entity ids derive from it and each entity's name. */
  String deviceName() {
    return "ZFS backups " + nodeId;
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
    out.put(
        topic("button", "run_then_suspend"),
        button(
            "Back up and suspend",
            "run_then_suspend",
            "{\"command\":\"run\",\"then\":\"suspend\"}",
            "mdi:backup-restore"));
    out.put(topic("button", "cancel"), button("Cancel", "cancel", "mdi:cancel"));

    ObjectNode state = entity("State", "state");
    state.put("state_topic", topics.state());
    state.put("value_template", "{{ value_json.state }}");
    state.put("device_class", "enum");
    options(state, Stream.of(AgentState.values()).map(AgentState::wire));
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

    // From T/cycle_progress, which a cycle's start resets (dataset null: unknown), so the last
    // cycle's dataset is not shown again until the new cycle's first step. A state is at most 255
    // characters (a longer one is unknown): a long name keeps its end, the dataset's own.
    ObjectNode dataset = entity("Current dataset", "current_dataset");
    dataset.put("state_topic", topics.cycleProgress());
    dataset.put(
        "value_template",
        "{% set d = value_json.source ~ ':' ~ value_json.dataset %}"
            + "{{ ('…' ~ d[-254:] if d | length > 255 else d) if value_json.dataset else 'None' }}");
    dataset.put("icon", "mdi:database-sync");
    cycleAvailability(dataset);
    out.put(topic("sensor", "current_dataset"), dataset);

    ObjectNode lastSuccess = entity("Last success", "last_success");
    lastSuccess.put("state_topic", topics.result());
    // With no success yet: "None", which Home Assistant takes as unknown (an empty string is
    // parsed as a timestamp and logged as invalid at every result). A dry run's payload carries
    // the same last_success_at, so it changes nothing.
    lastSuccess.put(
        "value_template",
        "{{ value_json.last_success_at if value_json.last_success_at else 'None' }}");
    lastSuccess.put("device_class", "timestamp");
    lastSuccess.put("icon", "mdi:calendar-check");
    out.put(topic("sensor", "last_success"), lastSuccess);

    ObjectNode lastResult = entity("Last result", "last_result");
    lastResult.put("state_topic", topics.result());
    // An enum sensor takes no empty state: for a dry run it keeps its own.
    lastResult.put(
        "value_template", "{{ this.state if value_json.dry_run else value_json.outcome }}");
    lastResult.put("device_class", "enum");
    options(lastResult, Stream.of(Outcome.values()).map(Outcome::wire));
    lastResult.put("json_attributes_topic", topics.result());
    lastResult.put("json_attributes_template", notDryRun("value_json | tojson"));
    lastResult.put("icon", "mdi:clipboard-check-outline");
    out.put(topic("sensor", "last_result"), lastResult);

    ObjectNode problem = entity("Problem", "problem");
    problem.put("state_topic", topics.result());
    problem.put("value_template", problemTemplate(staleAfter.toSeconds()));
    problem.put("payload_on", "ON");
    problem.put("payload_off", "OFF");
    problem.put("device_class", "problem");
    out.put(topic("binary_sensor", "problem"), problem);

    ObjectNode size = entity("Last backup size", "last_bytes");
    size.put("state_topic", topics.result());
    size.put("value_template", notDryRun("value_json.bytes"));
    size.put("device_class", "data_size");
    size.put("unit_of_measurement", "B");
    size.put("state_class", "measurement");
    out.put(topic("sensor", "last_bytes"), size);

    ObjectNode duration = entity("Last backup duration", "last_duration");
    duration.put("state_topic", topics.result());
    duration.put("value_template", notDryRun("(value_json.duration_ms / 1000) | round(1)"));
    duration.put("device_class", "duration");
    duration.put("unit_of_measurement", "s");
    duration.put("state_class", "measurement");
    out.put(topic("sensor", "last_duration"), duration);

    ObjectNode failed = entity("Datasets failed", "datasets_failed");
    failed.put("state_topic", topics.result());
    failed.put("value_template", notDryRun("value_json.datasets.failed"));
    failed.put("state_class", "measurement");
    failed.put("icon", "mdi:database-alert");
    out.put(topic("sensor", "datasets_failed"), failed);

    ObjectNode lastError = entity("Last error", "last_error");
    lastError.put("state_topic", topics.error());
    // A state is at most 255 characters; the whole error is in the attributes. A process's own
    // words come first ("out of space"): a stream's message starts with names and its argv. A
    // warning's message starts with what it is about (release_failed: …): that stays. A dataset's
    // name keeps its last 100 characters, leaving room for why.
    lastError.put(
        "value_template",
        "{% set why = (value_json.stderr or '').split() | join(' ') %}"
            + "{% set what = value_json.message.split(':')[0] ~ ': '"
            + " if value_json.kind == 'warning' else '' %}"
            + "{% set d = value_json.dataset or '' %}"
            + "{% set d = '…' ~ d[-99:] if d | length > 100 else d %}"
            + "{{ ((value_json.kind ~ ': ' ~ what ~ (d ~ ': ' if d else '') ~ why) if why"
            + " else (value_json.kind ~ ': ' ~ value_json.message))[:255] }}");
    lastError.put("json_attributes_topic", topics.error());
    lastError.put("icon", "mdi:alert-circle-outline");
    out.put(topic("sensor", "last_error"), lastError);

    ObjectNode running = entity("Running", "running");
    running.put("state_topic", topics.state());
    running.put("value_template", "{{ 'ON' if value_json.cycle_id else 'OFF' }}");
    running.put("payload_on", "ON");
    running.put("payload_off", "OFF");
    running.put("device_class", "running");
    agentAvailability(running);
    out.put(topic("binary_sensor", "running"), running);

    ObjectNode cycle = entity("Cycle progress", "cycle_progress");
    cycle.put("state_topic", topics.cycleProgress());
    cycle.put("value_template", "{{ value_json.percent }}");
    cycle.put("unit_of_measurement", "%");
    cycle.put("state_class", "measurement");
    cycle.put("json_attributes_topic", topics.cycleProgress());
    cycle.put("icon", "mdi:progress-clock");
    cycleAvailability(cycle);
    out.put(topic("sensor", "cycle_progress"), cycle);

    ObjectNode rate = entity("Transfer rate", "data_rate");
    rate.put("state_topic", topics.progress());
    rate.put(
        "value_template",
        "{{ value_json.bytes_per_second if value_json.status == 'streaming' else 0 }}");
    rate.put("device_class", "data_rate");
    rate.put("unit_of_measurement", "B/s");
    rate.put("state_class", "measurement");
    cycleAvailability(rate);
    out.put(topic("sensor", "data_rate"), rate);

    ObjectNode finished = entity("Backup finished", "backup_finished");
    finished.put("state_topic", topics.event());
    ArrayNode types = finished.putArray("event_types");
    EVENT_TYPES.forEach(types::add);
    finished.put("icon", "mdi:backup-restore");
    agentAvailability(finished);
    out.put(topic("event", "backup_finished"), finished);

    return out;
  }

  /**
   * A button that publishes the plain-text {@code command} on T; pressable while the agent is
   * online.
   */
  private ObjectNode button(String name, String command, String icon) {
    return button(name, command, command, icon);
  }

  private ObjectNode button(String name, String objectId, String payload, String icon) {
    ObjectNode b = entity(name, objectId);
    b.put("command_topic", topics.command());
    b.put("payload_press", payload);
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
    device.put("name", deviceName());
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

  /**
   * {@code expr} for a real cycle's result; for a dry run's, an empty output, which Home Assistant
   * ignores (the entity keeps its state).
   */
  static String notDryRun(String expr) {
    return "{{ '' if value_json.dry_run else " + expr + " }}";
  }

  /**
   * ON when a dataset failed in this cycle (whatever its outcome: a cancelled, suspended or
   * interrupted cycle, a limited run; not a dataset killed by a forced stop or a signal, {@code
   * failed_interrupted}), when it or the last cycle over every configured dataset ({@code
   * last_full_outcome}) failed or was partial, when nothing ever succeeded, or when the last
   * success is older than {@code staleSeconds}; else OFF. Nothing (no change) for a dry run.
   * Everything it needs is in the payload, so a Home Assistant that restarts gets the same state
   * from the retained result. Evaluated when a result arrives: the agent republishes the retained
   * result when the last success turns stale.
   */
  static String problemTemplate(long staleSeconds) {
    return "{% if value_json.dry_run %}"
        + "{% elif value_json.datasets.failed > (value_json.failed_interrupted or 0)"
        + " or value_json.outcome in ['failed', 'partial']"
        + " or value_json.last_full_outcome in ['failed', 'partial']"
        + " or not value_json.last_success_at"
        + " or (now() - as_datetime(value_json.last_success_at)).total_seconds() > "
        + staleSeconds
        + " %}ON{% else %}OFF{% endif %}";
  }

  private static void options(ObjectNode n, Stream<String> values) {
    ArrayNode list = n.putArray("options");
    values.forEach(list::add);
  }
}
