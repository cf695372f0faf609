package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The automations users copy: every YAML block of docs/home-assistant.md and
 * config/home-assistant-automation.example.yaml is valid YAML, uses only entity ids the agent's
 * discovery creates (derived as Home Assistant derives them, {@link HaDiscoverySchema#entityId}),
 * and does what issue 11 asks (wait for the agent before publishing, no notification on a return
 * from unavailable, a "too old" template that works when nothing ever succeeded).
 */
class AutomationDocsTest {
  static final Path DOC = Path.of("docs/home-assistant.md");
  static final Path EXAMPLE = Path.of("config/home-assistant-automation.example.yaml");
  static final Pattern ENTITY_ID =
      Pattern.compile("\\b(button|sensor|binary_sensor|event)\\.zfs_backups_[a-z0-9_]+");
  static final Pattern YAML_BLOCK = Pattern.compile("```yaml\\n(.*?)```", Pattern.DOTALL);

  final Discovery discovery =
      new Discovery(
          "homeassistant",
          "host-backups-agent",
          new Topics("servers/host-backups"),
          "1",
          Duration.ofHours(36));

  Set<String> discoveredIds() {
    return discovery.messages().entrySet().stream()
        .map(e -> HaDiscoverySchema.entityId(e.getKey().split("/")[1], e.getValue()))
        .collect(Collectors.toCollection(TreeSet::new));
  }

  static List<String> docBlocks() throws IOException {
    List<String> blocks = new ArrayList<>();
    Matcher m = YAML_BLOCK.matcher(Files.readString(DOC));
    while (m.find()) {
      blocks.add(m.group(1));
    }
    return blocks;
  }

  /** Every automation (a map with an alias) of a parsed YAML document. */
  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> automations(Object yaml) {
    List<Map<String, Object>> out = new ArrayList<>();
    if (yaml instanceof Map<?, ?> map) {
      if (map.containsKey("alias") && map.containsKey("triggers")) {
        out.add((Map<String, Object>) map);
      }
      map.values().forEach(v -> out.addAll(automations(v)));
    } else if (yaml instanceof List<?> list) {
      list.forEach(v -> out.addAll(automations(v)));
    }
    return out;
  }

  static Map<String, Object> automation(List<Map<String, Object>> all, String alias) {
    return all.stream()
        .filter(a -> a.get("alias").toString().startsWith(alias))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no automation " + alias));
  }

  List<Map<String, Object>> docAutomations() throws IOException {
    List<Map<String, Object>> all = new ArrayList<>();
    for (String block : docBlocks()) {
      all.addAll(automations(new Yaml().load(block)));
    }
    return all;
  }

  // Catches: an entity id that no longer exists (a renamed entity, a typo, a changed device name):
  // the automation would silently never trigger.
  @Test
  void docsAndExample_everyEntityId_existsInDiscovery() throws IOException {
    Set<String> ids = discoveredIds();
    assertTrue(ids.contains("sensor.zfs_backups_host_backups_agent_last_success"), ids.toString());
    List<String> texts = new ArrayList<>(docBlocks());
    texts.add(Files.readString(EXAMPLE));
    Set<String> used = new TreeSet<>();
    for (String text : texts) {
      Matcher m = ENTITY_ID.matcher(text);
      while (m.find()) {
        used.add(m.group());
      }
    }
    // The doc's prose names ids too (its Entities section).
    Matcher prose = ENTITY_ID.matcher(Files.readString(DOC));
    while (prose.find()) {
      used.add(prose.group());
    }
    assertTrue(used.size() >= 6, "the automations use the agent's entities: " + used);
    Set<String> missing = new TreeSet<>(used);
    missing.removeAll(ids);
    assertEquals(Set.of(), missing, "entity ids not created by discovery; it creates " + ids);
  }

  @Test
  void docsAndExample_areValidYaml() throws IOException {
    List<String> blocks = docBlocks();
    assertTrue(blocks.size() >= 4, "YAML blocks in " + DOC + ": " + blocks.size());
    for (String block : blocks) {
      new Yaml().load(block); // throws on invalid YAML
    }
    Object example = new Yaml().load(Files.readString(EXAMPLE));
    assertEquals(2, automations(example).size(), "the nightly run, and the power-down that failed");
    assertEquals(3, docAutomations().size(), "Nightly backup, Backup problem, Backup too old");
  }

  // Catches: publishing (or pressing) before the agent is online — the broker drops what is
  // published while the agent sleeps — or a wait that is skipped when the entity is not
  // "unavailable" (e.g. unknown).
  @Test
  @SuppressWarnings("unchecked")
  void nightly_waitsUnconditionallyForTheAgentBeforeSendingTheCommand() throws IOException {
    List<Map<String, Object>> nightlies =
        List.of(
            automation(
                automations(new Yaml().load(Files.readString(EXAMPLE))), "ZFS backup: nightly"),
            automation(docAutomations(), "Nightly backup"));
    for (Map<String, Object> nightly : nightlies) {
      List<Map<String, Object>> actions = (List<Map<String, Object>>) nightly.get("actions");
      int wait = -1;
      int send = -1;
      for (int i = 0; i < actions.size(); i++) {
        Map<String, Object> a = actions.get(i);
        if (wait < 0 && a.containsKey("wait_template")) {
          wait = i;
          assertEquals(false, a.get("continue_on_timeout"), "give up when the agent does not come");
          String ready =
              HaTemplates.render(
                  a.get("wait_template").toString(),
                  "",
                  "",
                  null,
                  Map.of("sensor.zfs_backups_host_backups_agent_state", "idle"));
          String asleep =
              HaTemplates.render(
                  a.get("wait_template").toString(),
                  "",
                  "",
                  null,
                  Map.of("sensor.zfs_backups_host_backups_agent_state", "unavailable"));
          assertEquals("True", ready);
          assertEquals("False", asleep);
        }
        Object action = a.get("action");
        if (send < 0 && ("mqtt.publish".equals(action) || "button.press".equals(action))) {
          send = i;
        }
      }
      assertTrue(
          wait >= 0 && send > wait, nightly.get("alias") + ": wait " + wait + ", send " + send);
    }
  }

  // Catches: a notification each time Home Assistant or its MQTT integration restarts (Problem
  // comes back from unavailable/unknown to on).
  @Test
  @SuppressWarnings("unchecked")
  void backupProblem_ignoresReturnsFromUnavailableAndUnknown() throws IOException {
    Map<String, Object> a = automation(docAutomations(), "Backup problem");
    Map<String, Object> trigger = ((List<Map<String, Object>>) a.get("triggers")).get(0);
    assertEquals("binary_sensor.zfs_backups_host_backups_agent_problem", trigger.get("entity_id"));
    assertEquals("on", trigger.get("to"));
    assertEquals(List.of("unavailable", "unknown"), trigger.get("not_from"));
  }

  // Catches: a template that errors (as_datetime('unknown')) or stays false when no backup ever
  // succeeded, or fires for a recent success.
  @Test
  @SuppressWarnings("unchecked")
  void backupTooOld_worksWhenNothingEverSucceeded() throws IOException {
    Map<String, Object> a = automation(docAutomations(), "Backup too old");
    String template =
        ((List<Map<String, Object>>) a.get("triggers")).get(0).get("value_template").toString();
    String id = "sensor.zfs_backups_host_backups_agent_last_success";
    String now = "2026-11-27T12:00:00Z";
    assertEquals("True", HaTemplates.render(template, "", "", now, Map.of(id, "unknown")).strip());
    assertEquals(
        "False", HaTemplates.render(template, "", "", now, Map.of(id, "unavailable")).strip());
    assertEquals(
        "False",
        HaTemplates.render(template, "", "", now, Map.of(id, "2026-11-27T02:00:00+00:00")).strip());
    assertEquals(
        "True",
        HaTemplates.render(template, "", "", now, Map.of(id, "2026-11-24T02:00:00+00:00")).strip());
    String message =
        ((Map<String, Object>) ((List<Map<String, Object>>) a.get("actions")).get(0).get("data"))
            .get("message")
            .toString();
    assertEquals(
        "No successful backup ever.",
        HaTemplates.render(message, "", "", now, Map.of(id, "unknown")).strip());
  }

  // Catches: a wait in the example that never ends (a template that does not match what the agent
  // publishes), or one that takes the start of a cycle for its end.
  @Test
  @SuppressWarnings("unchecked")
  void nightlyExample_waitsMatchTheAgentsPayloads() throws IOException {
    List<Map<String, Object>> all = automations(new Yaml().load(Files.readString(EXAMPLE)));
    Map<String, Object> nightly = automation(all, "ZFS backup: nightly");
    List<Map<String, Object>> waits =
        ((List<Map<String, Object>>) nightly.get("actions"))
            .stream()
                .filter(a -> a.containsKey("wait_for_trigger"))
                .map(a -> ((List<Map<String, Object>>) a.get("wait_for_trigger")).get(0))
                .toList();
    assertEquals(1, waits.size(), "the end event");
    Map<String, Object> power =
        ((List<Map<String, Object>>)
                automation(all, "ZFS backup: the backup server did not power down").get("triggers"))
            .get(0);
    String ended = Payloads.text(Payloads.event("partial", "c1", "nightly-1"));
    String started = Payloads.text(Payloads.event("started", "c1", "nightly-1"));
    Map<String, Object> end = waits.get(0);
    assertEquals("servers/host-backups/event", end.get("topic"));
    assertEquals(end.get("payload"), render(end, ended));
    assertNotEquals(end.get("payload"), render(end, started));
    assertEquals("servers/host-backups/error", power.get("topic"));
    for (String kind : List.of("power_failed", "power_blocked")) {
      String error =
          Payloads.text(Payloads.error(null, kind, null, null, null, "exited with 1", 1, "no"));
      assertEquals(power.get("payload"), render(power, error), kind);
    }
    String refused =
        Payloads.text(Payloads.agentError("c1", "command_refused", "a cycle is running"));
    assertNotEquals(power.get("payload"), render(power, refused));
  }

  private static String render(Map<String, Object> trigger, String payload) {
    return HaTemplates.render(trigger.get("value_template").toString(), payload, "", null).strip();
  }

  // Catches: a removal loop that forgets a discovery topic (the entity would stay in HA).
  @Test
  void removal_loopListsEveryDiscoveryTopic() throws IOException {
    String doc = Files.readString(DOC);
    String loop =
        doc.substring(doc.indexOf("for t in "), doc.indexOf("; do", doc.indexOf("for t in ")));
    Set<String> listed =
        new TreeSet<>(
            List.of(loop.substring("for t in ".length()).replace("\\", " ").trim().split("\\s+")));
    Set<String> topics =
        discovery.messages().keySet().stream()
            .map(t -> t.substring("homeassistant/".length(), t.length() - "/config".length()))
            .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(topics, listed);
  }
}
