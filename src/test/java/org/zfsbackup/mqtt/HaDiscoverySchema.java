package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The rules of Home Assistant's MQTT discovery that this agent's payloads rely on, as documented:
 *
 * <ul>
 *   <li>Discovery, topic format, abbreviations, device and origin:
 *       https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
 *   <li>Options per platform: https://www.home-assistant.io/integrations/button.mqtt/,
 *       https://www.home-assistant.io/integrations/sensor.mqtt/,
 *       https://www.home-assistant.io/integrations/binary_sensor.mqtt/,
 *       https://www.home-assistant.io/integrations/event.mqtt/
 *   <li>Device classes, their units and state classes:
 *       https://www.home-assistant.io/integrations/sensor/#device-class,
 *       https://www.home-assistant.io/integrations/binary_sensor/#device-class,
 *       https://www.home-assistant.io/integrations/event/#device-class,
 *       https://developers.home-assistant.io/docs/core/entity/sensor/#available-device-classes (the
 *       state classes allowed per device class are Home Assistant's {@code
 *       DEVICE_CLASS_STATE_CLASSES} in homeassistant/components/sensor/const.py)
 * </ul>
 *
 * Only the device classes this agent could plausibly use are listed with their units; any other
 * device class is refused, which is the safe direction. {@link #problems} returns every rule a
 * payload breaks, so a failing test names them all.
 */
final class HaDiscoverySchema {
  private HaDiscoverySchema() {}

  /** Abbreviations Home Assistant expands in discovery payloads (the ones relevant here). */
  static final Map<String, String> ABBREVIATIONS =
      Map.ofEntries(
          Map.entry("avty", "availability"),
          Map.entry("avty_mode", "availability_mode"),
          Map.entry("cmd_t", "command_topic"),
          Map.entry("dev", "device"),
          Map.entry("dev_cla", "device_class"),
          Map.entry("evt_typ", "event_types"),
          Map.entry("ic", "icon"),
          Map.entry("json_attr_t", "json_attributes_topic"),
          Map.entry("json_attr_tpl", "json_attributes_template"),
          Map.entry("o", "origin"),
          Map.entry("ops", "options"),
          Map.entry("pl_on", "payload_on"),
          Map.entry("pl_off", "payload_off"),
          Map.entry("pl_prs", "payload_press"),
          Map.entry("stat_cla", "state_class"),
          Map.entry("stat_t", "state_topic"),
          Map.entry("uniq_id", "unique_id"),
          Map.entry("unit_of_meas", "unit_of_measurement"),
          Map.entry("val_tpl", "value_template"));

  static final Set<String> COMMON =
      Set.of(
          "name",
          "unique_id",
          "object_id",
          "default_entity_id",
          "device",
          "origin",
          "availability",
          "availability_mode",
          "availability_topic",
          "icon",
          "qos",
          "json_attributes_topic",
          "json_attributes_template",
          "entity_category",
          "enabled_by_default",
          "encoding");

  static final Map<String, Set<String>> PLATFORM_KEYS =
      Map.of(
          "button",
          Set.of("command_topic", "command_template", "payload_press", "retain", "device_class"),
          "sensor",
          Set.of(
              "state_topic",
              "value_template",
              "device_class",
              "state_class",
              "options",
              "unit_of_measurement",
              "expire_after",
              "force_update",
              "suggested_display_precision",
              "last_reset_value_template"),
          "binary_sensor",
          Set.of(
              "state_topic",
              "value_template",
              "device_class",
              "payload_on",
              "payload_off",
              "expire_after",
              "force_update",
              "off_delay"),
          "event",
          Set.of("state_topic", "value_template", "event_types", "device_class"));

  static final Map<String, List<String>> REQUIRED =
      Map.of(
          "button", List.of("command_topic"),
          "sensor", List.of("state_topic"),
          "binary_sensor", List.of("state_topic"),
          "event", List.of("state_topic", "event_types"));

  /** Sensor device class to its allowed units; an empty set = no unit at all. */
  static final Map<String, Set<String>> SENSOR_UNITS =
      Map.of(
          "data_size",
          Set.of(
              "bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB",
              "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"),
          "data_rate",
          Set.of(
              "bit/s", "kbit/s", "Mbit/s", "Gbit/s", "B/s", "kB/s", "MB/s", "GB/s", "KiB/s",
              "MiB/s", "GiB/s"),
          "duration",
          Set.of("d", "h", "min", "s", "ms", "µs"),
          "timestamp",
          Set.of(),
          "enum",
          Set.of());

  /** Sensor device class to the state classes it allows (DEVICE_CLASS_STATE_CLASSES). */
  static final Map<String, Set<String>> SENSOR_STATE_CLASSES =
      Map.of(
          "data_size", Set.of("measurement", "total", "total_increasing"),
          "data_rate", Set.of("measurement"),
          "duration", Set.of("measurement", "total", "total_increasing"),
          "timestamp", Set.of(),
          "enum", Set.of());

  static final Set<String> STATE_CLASSES =
      Set.of("measurement", "measurement_angle", "total", "total_increasing");

  static final Set<String> BINARY_SENSOR_CLASSES =
      Set.of(
          "battery",
          "battery_charging",
          "carbon_monoxide",
          "cold",
          "connectivity",
          "door",
          "garage_door",
          "gas",
          "heat",
          "light",
          "lock",
          "moisture",
          "motion",
          "moving",
          "occupancy",
          "opening",
          "plug",
          "power",
          "presence",
          "problem",
          "running",
          "safety",
          "smoke",
          "sound",
          "tamper",
          "update",
          "vibration",
          "window");

  static final Set<String> EVENT_CLASSES = Set.of("button", "doorbell", "motion");

  /** The payload with abbreviated keys expanded, as Home Assistant reads it. */
  static ObjectNode expand(ObjectNode payload) {
    ObjectNode out = Payloads.JSON.createObjectNode();
    payload
        .fields()
        .forEachRemaining(
            e -> out.set(ABBREVIATIONS.getOrDefault(e.getKey(), e.getKey()), e.getValue()));
    return out;
  }

  /** Every documented rule {@code payload} (for {@code component}) breaks; empty when valid. */
  static List<String> problems(String component, ObjectNode payload) {
    List<String> p = new ArrayList<>();
    if (!PLATFORM_KEYS.containsKey(component)) {
      p.add("unknown platform " + component);
      return p;
    }
    Set<String> seen = new HashSet<>();
    for (Iterator<String> it = payload.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      String full = ABBREVIATIONS.getOrDefault(key, key);
      if (!seen.add(full)) {
        p.add(full + " given twice (abbreviated and in full)");
      }
    }
    ObjectNode n = expand(payload);
    n.fieldNames()
        .forEachRemaining(
            k -> {
              if (!COMMON.contains(k) && !PLATFORM_KEYS.get(component).contains(k)) {
                p.add("undocumented key for " + component + ": " + k);
              }
            });
    for (String k : REQUIRED.get(component)) {
      if (!n.hasNonNull(k)) {
        p.add("missing required " + k);
      }
    }
    // Discovery: a device needs identifiers (or connections), and an entity with a device a
    // unique_id.
    JsonNode device = n.get("device");
    if (device == null || !(device.has("identifiers") || device.has("connections"))) {
      p.add("device without identifiers");
    }
    if (!n.hasNonNull("unique_id")) {
      p.add("missing unique_id (needed for a device and for the UI to manage the entity)");
    }
    if (!n.hasNonNull("name") || n.get("name").asText().isBlank()) {
      p.add("missing name (entity ids derive from it)");
    }
    if (n.has("qos")
        && (!n.get("qos").canConvertToInt()
            || n.get("qos").asInt() < 0
            || n.get("qos").asInt() > 2)) {
      p.add("qos must be 0, 1 or 2");
    }
    availability(n, p);
    switch (component) {
      case "sensor" -> sensor(n, p);
      case "binary_sensor" -> {
        if (n.has("device_class")
            && !BINARY_SENSOR_CLASSES.contains(n.get("device_class").asText())) {
          p.add("binary_sensor device_class not allowed: " + n.get("device_class").asText());
        }
        if (n.path("payload_on").asText("ON").equals(n.path("payload_off").asText("OFF"))) {
          p.add("payload_on equals payload_off");
        }
      }
      case "event" -> {
        if (!n.path("event_types").isArray() || n.path("event_types").isEmpty()) {
          p.add("event_types must be a non-empty list");
        }
        if (n.has("device_class") && !EVENT_CLASSES.contains(n.get("device_class").asText())) {
          p.add("event device_class not allowed: " + n.get("device_class").asText());
        }
      }
      default -> {}
    }
    return p;
  }

  private static void availability(ObjectNode n, List<String> p) {
    if (n.has("availability")) {
      if (n.has("availability_topic")) {
        p.add("availability and availability_topic cannot be combined");
      }
      JsonNode list = n.get("availability");
      if (!list.isArray() || list.isEmpty()) {
        p.add("availability must be a non-empty list");
      } else {
        list.forEach(
            a -> {
              if (!a.hasNonNull("topic") && !a.hasNonNull("t")) {
                p.add("availability entry without topic: " + a);
              }
            });
      }
    }
    if (n.has("availability_mode")
        && !Set.of("all", "any", "latest").contains(n.get("availability_mode").asText())) {
      p.add("availability_mode must be all, any or latest");
    }
  }

  private static void sensor(ObjectNode n, List<String> p) {
    String dc = n.has("device_class") ? n.get("device_class").asText() : null;
    String unit = n.has("unit_of_measurement") ? n.get("unit_of_measurement").asText() : null;
    String sc = n.has("state_class") ? n.get("state_class").asText() : null;
    if (dc != null && !SENSOR_UNITS.containsKey(dc)) {
      p.add("sensor device_class not in the documented list used here: " + dc);
      return;
    }
    if (dc != null && unit != null && !SENSOR_UNITS.get(dc).contains(unit)) {
      p.add("unit " + unit + " not allowed for device_class " + dc + " " + SENSOR_UNITS.get(dc));
    }
    if (dc != null && SENSOR_UNITS.get(dc).isEmpty() == false && unit == null) {
      p.add("device_class " + dc + " needs a unit of " + SENSOR_UNITS.get(dc));
    }
    if (sc != null && !STATE_CLASSES.contains(sc)) {
      p.add("unknown state_class " + sc);
    }
    if (dc != null && sc != null && !SENSOR_STATE_CLASSES.get(dc).contains(sc)) {
      p.add("state_class " + sc + " not allowed for device_class " + dc);
    }
    if ("enum".equals(dc) != n.has("options")) {
      p.add("options go with device_class enum, and enum needs options");
    }
    if ("enum".equals(dc) && unit != null) {
      p.add("an enum sensor has no unit");
    }
  }

  /**
   * The entity id Home Assistant gives a discovered entity with a device and a name (no object_id):
   * {@code <component>.<slug of "<device name> <entity name>">}, slugified as Home Assistant's
   * {@code slugify} does for ASCII names (lower case, every run of other characters one {@code _}).
   */
  static String entityId(String component, ObjectNode payload) {
    ObjectNode n = expand(payload);
    String full = n.path("device").path("name").asText() + " " + n.path("name").asText();
    String slug =
        full.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_").replaceAll("^_+|_+$", "");
    return component + "." + slug;
  }
}
