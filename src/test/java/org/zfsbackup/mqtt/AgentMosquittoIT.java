package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.zfsbackup.mqtt.AgentLauncher.RunningAgent;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.MosquittoBroker;
import org.zfsbackup.testing.MqttProbe;
import org.zfsbackup.testing.MqttProbe.Message;
import org.zfsbackup.testing.Prerequisites;

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
    Message state =
        after.await(topics.state(), m -> json(m).get("state").asText().equals("running"), WAIT);
    assertTrue(state.retained());
    assertEquals(engine.requests.get(1).cycleId(), json(state).get("cycle_id").asText());
    Message result = after.await(topics.result(), m -> true, WAIT);
    assertTrue(result.retained());
    assertEquals(
        json(first).get("cycle_id"), json(result).get("cycle_id"), "the last result is back");
    awaitCount(after, "homeassistant/", AgentTest.ENTITIES);

    int mark = after.mark();
    engine.release();
    Message second = after.awaitAfter(mark, topics.result(), m -> true, WAIT);
    assertEquals("success", json(second).get("outcome").asText());
    assertEquals(2, engine.requests.size(), "the reconnect did not start another cycle");
  }

  /**
   * A broker whose max_packet_size is under the discovery's largest message closes each connection
   * right after it is made. The agent backs off (0.2, 0.4, 0.8 s with the test's timings), says
   * which publish the cut left unacknowledged and why that cuts a connection. Catches Paho's
   * automatic reconnect, which started again from its first delay after every connect: a reconnect
   * every second, for ever, with "online" in the log each time (sweep 10).
   */
  @Test
  void brokerCutsEveryConnection_overItsMaxPacketSize_backsOffNamingTheLargestPublish()
      throws Exception {
    broker.close();
    broker = MosquittoBroker.builder().line("max_packet_size 512").start();
    try (org.zfsbackup.testing.LogCapture logged =
        org.zfsbackup.testing.LogCapture.of(PahoConnection.class)) {
      startAgent(List.of("true"));
      List<String> delays = List.of("0.2 s", "0.4 s", "0.8 s");
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (logged.messages().stream().noneMatch(m -> m.contains("reconnecting in 0.8 s"))) {
        assertTrue(System.nanoTime() < deadline, "no growing backoff: " + logged.messages());
        Thread.sleep(20);
      }
      List<String> cuts =
          logged.messages().stream()
              .map(m -> m.replace(',', '.'))
              .filter(m -> m.startsWith("lost the connection"))
              .toList();
      for (int i = 0; i < delays.size(); i++) {
        assertTrue(cuts.get(i).contains("reconnecting in " + delays.get(i)), cuts.toString());
        assertTrue(
            cuts.get(i).matches(".*the largest [0-9]+ bytes on homeassistant/.*max_packet_size.*"),
            cuts.get(i));
      }
    }
  }

  /**
   * After a lost connection each failed reconnect is logged with its reason and attempt, as the
   * first connect's are, and the agent comes back once the broker does. Catches Paho's automatic
   * reconnect, whose failed attempts said nothing: a password changed on the broker showed as one
   * "reconnecting automatically" line, for ever (sweep 10).
   */
  @Test
  void brokerGone_eachFailedReconnectLoggedWithItsReason_thenBackOnline() throws Exception {
    startAgent(List.of("true"));
    MqttProbe before = probe();
    before.await(topics.availability(), "online", WAIT);
    try (org.zfsbackup.testing.LogCapture logged =
        org.zfsbackup.testing.LogCapture.of(PahoConnection.class)) {
      broker.kill();
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (logged.messages().stream().noneMatch(m -> m.contains("failed (attempt 2)"))) {
        assertTrue(
            System.nanoTime() < deadline, "no failed reconnect logged: " + logged.messages());
        Thread.sleep(20);
      }
      String failed =
          logged.messages().stream()
              .filter(m -> m.contains("failed (attempt 2)"))
              .findFirst()
              .get();
      assertTrue(
          failed.matches("MQTT connect to .* failed \\(attempt 2\\): .+; retrying in .*"), failed);
    }
    broker.restart();
    probe().await(topics.availability(), "online", WAIT);
  }

  /**
   * An error over the broker's max_packet_size: its publish cuts the connection, it is kept for the
   * next connect, where it cuts the connection again; at the third cut it is dropped, said at ERROR
   * naming its topic and size, and the agent then stays online and answers commands. Catches it
   * kept and sent again at every connect, for ever: the agent offline nearly all the time (sweep
   * 10).
   */
  @Test
  void errorOverTheBrokersMaxPacketSize_droppedAfterThreeCuts_thenOnline() throws Exception {
    broker.close();
    broker = MosquittoBroker.builder().line("max_packet_size 2048").start();
    engine.outcome = org.zfsbackup.cycle.CycleReport.Outcome.PARTIAL;
    engine.failedStderr = "x".repeat(3000);
    try (org.zfsbackup.testing.LogCapture logged =
        org.zfsbackup.testing.LogCapture.of(Agent.class)) {
      startAgent(List.of("true"));
      MqttProbe probe = probe();
      probe.await(topics.availability(), "online", WAIT);
      command("run");
      long deadline = System.nanoTime() + WAIT.toNanos();
      String droppedError = "dropped a message for " + topics.error() + " (";
      while (logged.messages().stream().noneMatch(m -> m.startsWith(droppedError))) {
        assertTrue(System.nanoTime() < deadline, "never dropped: " + logged.messages());
        Thread.sleep(20);
      }
      List<String> dropped =
          logged.messages().stream().filter(m -> m.startsWith("dropped a message for")).toList();
      assertEquals(1, dropped.size(), "only the largest, the error, is dropped: " + dropped);
      assertTrue(
          dropped.get(0).startsWith(droppedError) && dropped.get(0).contains("each of the 3 times"),
          dropped.get(0));
      int mark = probe.mark();
      command("status");
      probe.awaitAfter(mark, topics.state(), m -> true, WAIT); // online, and answering
    }
  }

  @Test
  void brokerDownAtStart_agentRetriesUntilItIsUp() throws Exception {
    broker.stop(); // right after wake-on-LAN, the broker is not there yet (Paho #825)
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    root.addAppender(logs);
    try {
      startAgent(List.of("true"));
      // Several failed attempts (counted, not guessed with a sleep): the first connect is retried.
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (!logged(logs, "failed (attempt 3)")) {
        assertTrue(System.nanoTime() < deadline, "no third failed attempt within " + WAIT);
        Thread.sleep(20);
      }
    } finally {
      root.detachAppender(logs);
    }
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
    String lastSuccess =
        json(probe.await(topics.result(), m -> true, WAIT)).get("last_success_at").asText();
    first.stop();
    probe.await(topics.availability(), "offline", WAIT);
    assertTrue(
        broker.loggedCleanDisconnect(clientId),
        "SIGTERM-style stop disconnects cleanly:\n" + broker.logText());

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
    Message online = probe.await(topics.availability(), "online", WAIT);
    agent.stop();
    Message offline = probe.await(topics.availability(), "offline", Duration.ofSeconds(5));
    assertTrue(broker.awaitCleanDisconnect(clientId, WAIT), broker.logText());
    // The broker has handled the agent's last packet; a marker published now orders the stream:
    // a will (an unclean end) or a late "online" would have reached the probe before it.
    int mark = probe.mark();
    commander().publish(topics.base() + "/test-marker", "m", false);
    probe.awaitAfter(mark, topics.base() + "/test-marker", m -> true, WAIT);
    List<Message> availability = probe.messages(topics.availability());
    assertTrue(
        probe.messages().indexOf(online) < probe.messages().indexOf(offline),
        "offline after online");
    assertEquals(
        offline,
        availability.get(availability.size() - 1),
        "offline is the last word: " + texts(availability));
    assertEquals(
        1,
        availability.stream().filter(m -> m.text().equals("offline")).count(),
        "one offline: published by the agent, not a will as well: " + texts(availability));
  }

  /** The agent streams a run's first dataset when a plain suspend comes: it is suspending. */
  void suspendMidStream(PowerRuns power) throws Exception {
    MqttProbe probe = streamingCycle(power);
    int mark = probe.mark();
    command("suspend");
    awaitState(probe, mark, "suspending");
  }

  /**
   * The power command runs exactly once for one suspend, although the broker goes away twice around
   * it: killed while the agent is suspending (a stream in flight; the agent reconnects and
   * republishes {@code suspending}) and killed again while the power command runs (the agent comes
   * back to a fresh broker on resume). Catches: a reconnect that re-runs a pending power-down (or
   * replays the suspend command), a power-down that starts before the stream in flight ended, and a
   * resume that powers down again.
   */
  @Test
  void suspend_brokerRestartedWhileSuspendingAndWhileAsleep_powerCommandRunsOnce()
      throws Exception {
    PowerRuns power = power(false);
    suspendMidStream(power);

    broker.kill(); // the connection drops while the agent waits for the stream to finish
    broker.restart();
    MqttProbe back = probe();
    back.await(topics.availability(), "online", WAIT);
    awaitState(back, 0, "suspending");
    assertEquals(0, power.count(), "no power-down while the stream is in flight");

    engine.release(); // the stream ends: result, offline, then the power command (blocked)
    back.await(topics.result(), m -> json(m).get("outcome").asText().equals("suspended"), WAIT);
    back.await(topics.availability(), "offline", WAIT);
    power.awaitCount(1, WAIT);

    broker.kill(); // the broker goes away while the machine "sleeps"
    broker.restart();
    MqttProbe woken = probe();
    power.open(); // wake up
    woken.await(topics.availability(), "online", WAIT);
    awaitState(woken, 0, "idle");
    // A status reply comes after everything the agent did on reconnecting: a second power-down
    // would have shown as offline (and a second line) before it.
    int mark2 = woken.mark();
    command("status");
    awaitState(woken, mark2, "idle");
    assertEquals(1, power.count(), "the power command ran once");
    assertTrue(
        woken.messages(topics.availability()).stream().noneMatch(m -> m.text().equals("offline")),
        texts(woken.messages()).toString());
    assertEquals(1, engine.requests.size(), "nothing replayed a run");
  }

  /**
   * The broker crashes while the agent is suspending and stays down while the cycle ends and the
   * power command runs (nobody can publish {@code offline}, and a crashed broker sends no will); it
   * comes back while the machine "sleeps", and Paho's automatic reconnect gets through. Catches:
   * that connection closed cleanly without a word, leaving the new broker with no {@code offline}
   * (a Home Assistant automation waiting for {@code online} would find the old broker's state gone,
   * and one with persistence would keep {@code online}); the reconnect running the power command
   * again.
   */
  @Test
  void suspend_brokerBackWhileAsleep_offlineIsRetainedAgain_powerCommandRunsOnce()
      throws Exception {
    PowerRuns power = power(false);
    suspendMidStream(power);

    broker.kill(); // and it stays down while the cycle ends and the power command runs
    engine.release();
    power.awaitCount(1, WAIT);
    broker.restart(); // back, empty, while the machine "sleeps"
    MqttProbe asleep = probe();
    asleep.await(topics.availability(), "offline", WAIT);
    assertTrue(
        broker.awaitCleanDisconnect(clientId, WAIT), "then it disconnected: " + broker.logText());
    assertEquals(
        List.of("offline"),
        asleep.messages(topics.availability()).stream().map(m -> m.text()).toList());

    power.open(); // wake up
    asleep.await(topics.availability(), "online", WAIT);
    assertEquals(1, power.count(), "the power command ran once");
  }

  /**
   * The broker restarts as the cycle of a suspend ends (a Mosquitto update at night): the
   * power-down waits for it and publishes the cycle's result before going offline. Catches a
   * machine that went down with the result unpublished: a restarted broker without persistence had
   * none, and Home Assistant showed the previous night's all day.
   */
  @Test
  void suspend_brokerRestartsAsTheCycleEnds_resultPublishedBeforeThePowerCommand()
      throws Exception {
    PowerRuns power = power(false);
    suspendMidStream(power);

    broker.kill(); // SIGKILL: the retained messages are gone with it
    engine.release(); // the cycle ends while the broker is away
    Thread.sleep(1500);
    assertEquals(0, power.count(), "no power-down while the broker is away");
    broker.restart();
    MqttProbe back = probe();
    Message result =
        back.await(topics.result(), m -> json(m).get("outcome").asText().equals("suspended"), WAIT);
    power.awaitCount(1, WAIT);
    assertTrue(
        back.messages().indexOf(result)
            < back.messages().indexOf(back.await(topics.availability(), "offline", WAIT)),
        "the result before offline: " + texts(back.messages()));
    // What Home Assistant finds while the machine sleeps: tonight's result, retained.
    Message kept = probe().await(topics.result(), m -> true, WAIT);
    assertTrue(kept.retained());
    assertEquals("suspended", json(kept).get("outcome").asText());
  }

  /**
   * The broker refuses the agent's subscription to T (SUBACK 0x80, here by Mosquitto's
   * dynamic-security plugin; its {@code acl_file} never refuses a subscription). Catches: a refused
   * subscription counted as success — the agent would publish {@code online} and every command
   * would silently disappear. The agent stays offline, logs and publishes the refusal, retries, and
   * comes online once the ACL is fixed.
   */
  @Test
  void subscriptionRefusedByTheBroker_notOnlineReportedAndRetriedUntilGranted() throws Exception {
    broker.close();
    broker =
        MosquittoBroker.builder()
            .dynamicSecurity(
                """
                {"defaultACLAccess": {"publishClientSend": true, "publishClientReceive": true,
                   "subscribe": true, "unsubscribe": true},
                 "clients": [],
                 "groups": [{"groupname": "anonymous", "roles": [{"rolename": "no-commands"}]}],
                 "roles": [{"rolename": "no-commands", "acls": [
                   {"acltype": "subscribeLiteral", "topic": "%s", "priority": 0, "allow": false},
                   {"acltype": "publishClientSend", "topic": "$CONTROL/dynamic-security/#",
                    "priority": 0, "allow": true}]}],
                 "anonymousGroup": "anonymous"}
                """
                    .formatted(topics.command()))
            .start();
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    root.addAppender(logs);
    try {
      MqttProbe probe = probe();
      startAgent(List.of("true"));
      Message error = probe.await(topics.error(), m -> true, WAIT);
      assertEquals("subscription_refused", json(error).get("kind").asText());
      assertTrue(json(error).get("message").asText().contains(topics.command()), error.text());
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (count(logs, "the broker refused the subscription to " + topics.command()) < 2) {
        assertTrue(System.nanoTime() < deadline, "no retry of the refused subscription");
        Thread.sleep(20);
      }
      assertTrue(
          probe.messages(topics.availability()).stream().noneMatch(m -> m.text().equals("online")),
          "online with a refused subscription");
      assertEquals(1, probe.messages(topics.error()).size(), "reported once per connection");

      // The operator fixes the ACL: the next retry is granted.
      Cmd.ok(
          List.of(
              Prerequisites.requireProgram("mosquitto_pub").toString(),
              "-p",
              String.valueOf(broker.port()),
              "-t",
              "$CONTROL/dynamic-security/v1",
              "-m",
              "{\"commands\": [{\"command\": \"removeRoleACL\", \"rolename\": \"no-commands\","
                  + " \"acltype\": \"subscribeLiteral\", \"topic\": \""
                  + topics.command()
                  + "\"}]}"),
          10);
      // The plugin disconnects the clients of a changed role (the agent reconnects on its own).
      MqttProbe fresh = probe();
      fresh.await(topics.availability(), "online", Duration.ofSeconds(30));
      int mark = fresh.mark();
      command("run");
      fresh.awaitAfter(mark, topics.result(), m -> true, WAIT);
      assertEquals(1, engine.requests.size());
    } finally {
      root.detachAppender(logs);
    }
  }

  static long count(ListAppender<ILoggingEvent> logs, String text) {
    synchronized (logs) {
      return logs.list.stream().filter(e -> e.getFormattedMessage().contains(text)).count();
    }
  }

  static boolean logged(ListAppender<ILoggingEvent> logs, String text) {
    synchronized (logs) { // the appender appends under its own lock
      return logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains(text));
    }
  }

  static List<String> texts(List<Message> messages) {
    return messages.stream().map(m -> m.topic() + " " + m.text()).toList();
  }
}
