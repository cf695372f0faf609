package org.zfsbackup.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.FakeZfs;
import org.zfsbackup.testing.MosquittoBroker;
import org.zfsbackup.testing.MqttProbe;
import org.zfsbackup.testing.MqttProbe.Message;
import org.zfsbackup.testing.Prerequisites;

/**
 * Contract: {@code T/progress} at least every 5 s while a stream runs. End to end: the built jar
 * with its production timings, a real Mosquitto, a real {@code send | pv | receive} pipeline. Only
 * {@code zfs} is the fake of {@code src/test/resources/fake/fake-zfs} (it sends 1.5 MB of zeros),
 * and {@code commands.pv} carries {@code -L 100k}, so the stream takes about 15 s.
 *
 * <p>Catches: streaming updates not published (only {@code started} and {@code done}: one gap of
 * the whole stream), a throttle interval over 5 s, and an engine that reports bytes less often. The
 * stream must last at least 10 s, so a stream too quick to tell fails instead of passing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AgentProgressEndToEndIT {
  static final String T = "servers/e2e-progress";
  static final long BYTES = 1_500_000;
  static final Duration MAX_GAP = Duration.ofSeconds(5);
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  MosquittoBroker broker;
  Process agent;
  final List<MqttProbe> probes = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    if (agent != null) {
      agent.destroy();
      if (!agent.waitFor(30, TimeUnit.SECONDS)) {
        agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      System.out.println("agent log:\n" + Files.readString(dir.resolve("agent.log")));
    }
    probes.forEach(MqttProbe::close);
    if (broker != null) {
      broker.close();
    }
  }

  @Test
  void slowStream_progressAtLeastEveryFiveSeconds() throws Exception {
    Prerequisites.requireProgram("pv");
    Prerequisites.requireProgram("bash");
    Path config = dir.resolve("agent.yaml");
    ProcessBuilder agentCommand = BuiltJar.command("agent", "--config", config.toString());
    Path scenario = Files.createDirectories(dir.resolve("zfs"));
    FakeZfs.list(scenario, "src/data", FakeZfs.ds("src/data", 10, "a"));
    FakeZfs.list(scenario, "bak", FakeZfs.ds("bak", 1));
    Files.writeString(scenario.resolve("bytes"), String.valueOf(BYTES));
    broker = MosquittoBroker.start();
    Files.writeString(
        config,
        String.join(
            "\n",
            "mqtt:",
            "  url: " + broker.url(),
            "  client_id: e2e-progress-agent",
            "  topic: " + T,
            "  home_assistant:",
            "    enabled: false",
            "commands:",
            "  zfs: [bash, " + FakeZfs.path() + ", " + scenario + "]",
            "  pv: [pv, -L, 100k]   # about 15 s for the stream",
            "pull:",
            "  target: bak",
            "  receive_options: []",
            "  sources:",
            "    - name: h",
            "      datasets: [src/data]",
            "power:",
            "  command: []",
            "state_file: " + dir.resolve("state.json"),
            ""));
    MqttProbe probe = MqttProbe.connect(broker.url()).subscribe(T + "/+");
    probes.add(probe);
    agent =
        agentCommand
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("agent.log").toFile())
            .start();
    probe.await(T + "/availability", "online", Duration.ofSeconds(60));

    probe.publish(T, "run", false);
    Message result = probe.await(T + "/result", m -> true, Duration.ofSeconds(90));
    assertEquals("success", json(result).get("outcome").asText(), result.text());

    List<Message> steps =
        probe.messages(T + "/progress").stream()
            .filter(m -> json(m).get("dataset").asText().equals("src/data"))
            .toList();
    List<String> statuses = steps.stream().map(m -> json(m).get("status").asText()).toList();
    assertEquals("started", statuses.get(0), statuses.toString());
    assertEquals("done", statuses.get(statuses.size() - 1), statuses.toString());
    assertEquals(
        BYTES,
        json(steps.get(steps.size() - 1)).get("bytes").asLong(),
        "the whole stream went through");
    long streamMillis =
        millis(steps.get(steps.size() - 1).receivedNanos() - steps.get(0).receivedNanos());
    assertTrue(
        streamMillis >= 10_000,
        "the stream took " + streamMillis + " ms: too quick to prove anything");
    long maxGap = 0;
    for (int i = 1; i < steps.size(); i++) {
      maxGap =
          Math.max(maxGap, millis(steps.get(i).receivedNanos() - steps.get(i - 1).receivedNanos()));
    }
    System.out.println(
        "progress: "
            + steps.size()
            + " messages over "
            + streamMillis
            + " ms, max gap "
            + maxGap
            + " ms");
    assertTrue(
        maxGap <= MAX_GAP.toMillis(),
        "a gap of "
            + maxGap
            + " ms between progress messages in a "
            + streamMillis
            + " ms stream: "
            + statuses);
  }

  static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  static JsonNode json(Message m) {
    try {
      return JSON.readTree(m.payload());
    } catch (IOException e) {
      throw new AssertionError("not JSON on " + m.topic() + ": " + m.text(), e);
    }
  }
}
