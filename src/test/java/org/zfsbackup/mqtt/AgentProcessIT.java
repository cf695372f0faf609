package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.MosquittoBroker;
import org.zfsbackup.testing.MqttProbe;
import org.zfsbackup.testing.MqttProbe.Message;

/**
 * The agent in its own JVM, stopped the way systemd stops it (SIGTERM: the shutdown hook publishes
 * {@code offline} and disconnects cleanly) or killed (SIGKILL: the broker publishes the will).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AgentProcessIT {
  static final Duration WAIT = Duration.ofSeconds(20);
  static final String CLIENT = "agent-process-it";
  static final Topics T = new Topics("servers/host-backups");

  @TempDir Path dir;
  MosquittoBroker broker;
  Process agent;
  final List<MqttProbe> probes = new ArrayList<>();

  @BeforeEach
  void startBroker() {
    broker = MosquittoBroker.start();
  }

  @AfterEach
  void stopAll() throws Exception {
    if (agent != null && agent.isAlive()) {
      agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    probes.forEach(MqttProbe::close);
    broker.close();
  }

  @Test
  void sigterm_idle_publishesOfflineAndDisconnectsCleanly() throws Exception {
    MqttProbe probe = probe();
    startAgent(false);
    probe.await(T.availability(), "online", WAIT);
    agent.destroy();
    assertTrue(agent.waitFor(30, TimeUnit.SECONDS), "the agent stopped");
    probe.await(T.availability(), "offline", WAIT);
    assertTrue(broker.loggedCleanDisconnect(CLIENT), "clean DISCONNECT:\n" + broker.logText());
    assertTrue(Files.readString(dir.resolve("agent.log")).contains("stopped"));
  }

  @Test
  void sigterm_midCycle_interruptsPublishesResultThenOffline() throws Exception {
    MqttProbe probe = probe();
    startAgent(true);
    probe.await(T.availability(), "online", WAIT);
    probe.publish(T.command(), "run", false);
    probe.await(
        T.progress(),
        m -> AgentBrokerScenarios.json(m).get("status").asText().equals("streaming"),
        WAIT);
    agent.destroy();
    assertTrue(agent.waitFor(30, TimeUnit.SECONDS), "the agent stopped");
    Message result = probe.await(T.result(), m -> true, WAIT);
    assertEquals("interrupted", AgentBrokerScenarios.json(result).get("outcome").asText());
    Message offline = probe.await(T.availability(), "offline", WAIT);
    assertTrue(probe.messages().indexOf(result) < probe.messages().indexOf(offline));
    assertTrue(broker.loggedCleanDisconnect(CLIENT), broker.logText());
  }

  @Test
  void sigkill_brokerPublishesTheRetainedWill() throws Exception {
    MqttProbe probe = probe();
    startAgent(false);
    probe.await(T.availability(), "online", WAIT);
    agent.destroyForcibly();
    assertTrue(agent.waitFor(30, TimeUnit.SECONDS));
    probe.await(T.availability(), "offline", WAIT);
    assertFalse(broker.loggedCleanDisconnect(CLIENT), "a killed agent cannot disconnect cleanly");
    MqttProbe later = probe();
    assertTrue(later.await(T.availability(), "offline", WAIT).retained(), "the will is retained");
  }

  void startAgent(boolean block) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> argv =
        new ArrayList<>(
            List.of(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                AgentProcessMain.class.getName(),
                broker.url(),
                CLIENT,
                T.base(),
                dir.resolve("state.json").toString()));
    if (block) {
      argv.add("block");
    }
    agent =
        new ProcessBuilder(argv)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("agent.log").toFile())
            .start();
  }

  MqttProbe probe() {
    MqttProbe p = MqttProbe.connect(broker.url()).subscribe(T.base() + "/+");
    probes.add(p);
    return p;
  }
}
