package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.zfsbackup.mqtt.AgentLauncher.RunningAgent;
import org.zfsbackup.testing.MosquittoBroker;
import org.zfsbackup.testing.MqttProbe;
import org.zfsbackup.testing.MqttProbe.Message;

/** The agent against a real Mosquitto process, one per test, including kills and restarts. */
class AgentMosquittoIT extends AgentBrokerScenarios {
  MosquittoBroker broker;

  @BeforeEach
  void startBroker() {
    broker = MosquittoBroker.start();
  }

  @AfterEach
  void stopBroker() {
    if (broker != null) {
      broker.close();
    }
  }

  @Override
  String brokerUrl() {
    return broker.url();
  }

  @Test
  void brokerKilledMidCycle_agentReconnectsAndRepublishesEverythingRetained() throws Exception {
    startAgent(List.of("true"));
    MqttProbe before = probe();
    before.await(topics.availability(), "online", WAIT);
    command("run");
    Message first = before.await(topics.result(), m -> true, WAIT);
    awaitState(before, before.messages().indexOf(first), "idle");
    engine.blockStreams();
    command("run");
    assertTrue(engine.awaitStreaming(10));

    broker.kill(); // SIGKILL: no persistence, every retained message is lost
    broker.restart();

    awaitRepublished(); // the agent is back
    MqttProbe after = probe(); // as Home Assistant reconnecting to the restarted broker
    assertTrue(after.await(topics.availability(), "online", WAIT).retained());
    Message state = after.await(topics.state(), m -> json(m).get("state").asText().equals("running"), WAIT);
    assertTrue(state.retained());
    assertEquals(engine.requests.get(1).cycleId(), json(state).get("cycle_id").asText());
    Message result = after.await(topics.result(), m -> true, WAIT);
    assertTrue(result.retained());
    assertEquals(json(first).get("cycle_id"), json(result).get("cycle_id"), "the last result is back");
    awaitCount(after, "homeassistant/", 9);

    int mark = after.mark();
    engine.release();
    Message second = after.awaitAfter(mark, topics.result(), m -> true, WAIT);
    assertEquals("success", json(second).get("outcome").asText());
    assertEquals(2, engine.requests.size(), "the reconnect did not start another cycle");
  }

  @Test
  void brokerDownAtStart_agentRetriesUntilItIsUp() throws Exception {
    broker.stop(); // right after wake-on-LAN, the broker is not there yet (Paho #825)
    startAgent(List.of("true"));
    Thread.sleep(1500); // several failed attempts
    broker.restart();
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    command("run");
    probe.await(topics.result(), m -> true, WAIT);
  }

  @Test
  void lastSuccess_survivesAgentRestartAndBrokerLoss() {
    RunningAgent first = startAgent(List.of("true"));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    command("run");
    String lastSuccess = json(probe.await(topics.result(), m -> true, WAIT)).get("last_success_at").asText();
    first.stop();
    probe.await(topics.availability(), "offline", WAIT);
    assertTrue(broker.loggedCleanDisconnect(clientId), "SIGTERM-style stop disconnects cleanly:\n" + broker.logText());

    broker.restart(); // the broker lost the retained result too
    startAgent(List.of("true"));
    awaitRepublished();
    MqttProbe fresh = probe();
    Message result = fresh.await(topics.result(), m -> true, WAIT);
    assertTrue(result.retained());
    assertEquals(lastSuccess, json(result).get("last_success_at").asText());

    engine.outcome = org.zfsbackup.cycle.CycleReport.Outcome.FAILED;
    int mark = fresh.mark();
    command("run");
    Message failed = fresh.awaitAfter(mark, topics.result(), m -> true, WAIT);
    assertEquals("failed", json(failed).get("outcome").asText());
    assertEquals(lastSuccess, json(failed).get("last_success_at").asText());
  }

  @Test
  void stop_whileIdle_publishesOfflineAndDisconnectsCleanly() {
    RunningAgent agent = startAgent(List.of("true"));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    agent.stop();
    Message offline = probe.await(topics.availability(), "offline", Duration.ofSeconds(5));
    assertTrue(probe.messages().indexOf(offline) >= 0);
    assertTrue(broker.loggedCleanDisconnect(clientId), broker.logText());
  }
}
