package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.cycle.CycleControl.StopReason;
import org.zfsbackup.mqtt.AgentLauncher.RunningAgent;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.MqttProbe;
import org.zfsbackup.testing.MqttProbe.Message;
import org.zfsbackup.testing.Prerequisites;

/**
 * What the agent does over a real broker, run against each broker by a subclass. The engine is a
 * {@link FakeCycleRunner} (the real one needs ZFS; the lead's end-to-end test covers it); the
 * broker, Paho, Vert.x, the state file and the power command are real. Each test has its own topic
 * and client id, so a broker shared by a test class carries nothing from one test to the next.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
abstract class AgentBrokerScenarios {
  static final Duration WAIT = Duration.ofSeconds(15);
  private static final AtomicInteger COUNTER = new AtomicInteger();

  @TempDir Path dir;
  String clientId;
  Topics topics;
  final FakeCycleRunner engine = new FakeCycleRunner();

  /** The machine's clock pair: a power command that exits 0 sends it to sleep for an hour. */
  final FakeClocks clocks = new FakeClocks();

  final List<RunningAgent> agents = new ArrayList<>();
  final List<MqttProbe> probes = new ArrayList<>();
  final List<PowerRuns> powers = new ArrayList<>();

  /** The broker under test, e.g. {@code tcp://127.0.0.1:18830}. */
  abstract String brokerUrl();

  @BeforeEach
  void names() {
    clientId =
        "agent-" + getClass().getSimpleName().toLowerCase() + "-" + COUNTER.incrementAndGet();
    topics = new Topics("servers/" + clientId);
  }

  @AfterEach
  void stopEverything() {
    powers.forEach(PowerRuns::close);
    engine.release();
    agents.forEach(RunningAgent::stop);
    probes.forEach(MqttProbe::close);
  }

  // ------------------------------------------------------------------ scenarios

  // Catches: a dry run's result replacing the broker's retained result, which a client that
  // subscribes later (Home Assistant after a restart) would get: its Last result, Last success and
  // Problem would then show the dry run. Needs a real broker: the retained semantics are its own.
  @Test
  void dryRun_resultIsSeenLiveButTheBrokerKeepsTheRealOne() {
    startAgent(List.of("true"));
    MqttProbe live = probe();
    live.await(topics.availability(), "online", WAIT);
    command("run");
    Message real = live.await(topics.result(), m -> true, WAIT);
    int mark = live.mark();
    command("{\"command\": \"run\", \"run_id\": \"dry-1\", \"dry_run\": true}");
    Message dry = live.awaitAfter(mark, topics.result(), m -> true, WAIT);
    assertTrue(json(dry).get("dry_run").asBoolean());
    assertEquals("dry-1", json(dry).get("run_id").asText());
    live.awaitAfter(mark, topics.state(), m -> json(m).get("state").asText().equals("idle"), WAIT);
    MqttProbe late = probe();
    Message retained = late.await(topics.result(), m -> true, WAIT);
    assertTrue(retained.retained());
    assertEquals(json(real).get("cycle_id"), json(retained).get("cycle_id"));
    assertFalse(json(retained).get("dry_run").asBoolean());
  }

  @Test
  void start_freshBroker_publishesRetainedOnlineIdleAndDiscovery() {
    startAgent(List.of("true"));
    awaitRepublished();
    // A client that subscribes later (Home Assistant after a restart) gets it all retained.
    MqttProbe late = probe();
    assertTrue(late.await(topics.availability(), "online", WAIT).retained());
    Message state =
        late.await(topics.state(), m -> json(m).get("state").asText().equals("idle"), WAIT);
    assertTrue(state.retained());
    String prefix = "homeassistant/button/" + Discovery.nodeId(clientId) + "/run/config";
    Message run = late.await(prefix, m -> true, WAIT);
    assertTrue(run.retained());
    assertEquals("run", json(run).get("payload_press").asText());
    assertEquals(topics.command(), json(run).get("command_topic").asText());
    awaitCount(late, "homeassistant/", AgentTest.ENTITIES);
  }

  @Test
  void run_plainText_publishesStartedProgressResultAndEventThenIdle() {
    startAgent(List.of("true"));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    command("run");
    Message result = probe.await(topics.result(), m -> true, WAIT);
    JsonNode r = json(result);
    assertEquals("success", r.get("outcome").asText());
    assertEquals(1, r.at("/datasets/sent").asInt());
    assertTrue(r.get("last_success_at").isTextual());
    probe.await(topics.event(), m -> json(m).get("event_type").asText().equals("started"), WAIT);
    probe.await(topics.event(), m -> json(m).get("event_type").asText().equals("success"), WAIT);
    probe.await(topics.progress(), m -> json(m).get("status").asText().equals("done"), WAIT);
    probe.await(topics.state(), m -> json(m).get("state").asText().equals("running"), WAIT);
    awaitState(probe, probe.messages().indexOf(result), "idle");
    // The result stays retained for whoever looks later.
    assertEquals(
        r.get("cycle_id"),
        json(probe().await(topics.result(), m -> m.retained(), WAIT)).get("cycle_id"));
  }

  /**
   * {@code progress}, {@code error} and {@code event} are published not retained; availability,
   * state and result are. Only a subscriber that comes later can tell: the broker clears the retain
   * flag of every message it forwards live (MQTT 3.1.1 section 3.3.1.3), so the flag on what the
   * first probe receives proves nothing. Catches: progress or error published with retain=true
   * (after a restart Home Assistant would show a finished stream's progress or a stale error as
   * new), and state or result no longer retained.
   */
  @Test
  void liveTopics_notRetained_stateTopicsRetained() {
    engine.outcome = org.zfsbackup.cycle.CycleReport.Outcome.FAILED; // tank/b: a "diverged" error
    startAgent(List.of("true"));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    command("run");
    Message result = probe.await(topics.result(), m -> true, WAIT);
    assertEquals("failed", json(result).get("outcome").asText());
    probe.await(topics.error(), m -> json(m).get("kind").asText().equals("diverged"), WAIT);
    probe.await(topics.progress(), m -> json(m).get("status").asText().equals("done"), WAIT);
    probe.await(topics.event(), m -> json(m).get("event_type").asText().equals("failed"), WAIT);
    int mark = probe.mark();
    command("reboot"); // an error the agent itself publishes
    probe.awaitAfter(
        mark,
        topics.error(),
        m -> json(m).get("kind").asText().equals("command_unknown_command"),
        WAIT);
    int asked = probe.mark();
    command("status");
    awaitState(probe, asked, "idle");

    MqttProbe late = probe(); // everything above is over: only retained messages can reach it
    assertTrue(late.await(topics.availability(), "online", WAIT).retained());
    assertTrue(awaitState(late, 0, "idle").retained());
    Message retainedResult = late.await(topics.result(), m -> true, WAIT);
    assertTrue(retainedResult.retained());
    assertEquals(json(result).get("cycle_id"), json(retainedResult).get("cycle_id"));
    awaitCount(late, "homeassistant/", AgentTest.ENTITIES);
    // The broker sends a subscription's retained messages as one batch on subscribing; a live
    // marker published after that batch arrived ends it.
    String marker = topics.base() + "/test-marker";
    commander().publish(marker, "m", false);
    late.await(marker, m -> true, WAIT);
    for (String live : List.of(topics.progress(), topics.error(), topics.event())) {
      assertEquals(
          List.of(),
          late.messages(live).stream().map(Message::text).toList(),
          live + " was retained");
    }
  }

  @Test
  void suspend_midCycleWithMosquittoPub_streamFinishesThenOfflineThenPowerThenOnline()
      throws Exception {
    Path mosquittoPub = Prerequisites.requireProgram("mosquitto_pub");
    URI url = URI.create(brokerUrl());
    String powerTopic = topics.base() + "/test/power";
    engine.blockStreams();
    // The power command reports to the broker, so the broker's order proves what came first.
    startAgent(
        List.of(
            mosquittoPub.toString(),
            "-h",
            url.getHost(),
            "-p",
            String.valueOf(url.getPort()),
            "-q",
            "1",
            "-t",
            powerTopic,
            "-m",
            "ran"));
    MqttProbe probe = probe(powerTopic);
    probe.await(topics.availability(), "online", WAIT);
    command("run");
    assertTrue(engine.awaitStreaming(10));
    int mark = probe.mark();
    // Exactly what the old suspend-backups.sh ran.
    Cmd.ok(
        List.of(
            mosquittoPub.toString(),
            "-h",
            url.getHost(),
            "-p",
            String.valueOf(url.getPort()),
            "-t",
            topics.command(),
            "-m",
            "suspend"),
        10);
    awaitState(probe, mark, "suspending");
    assertEquals(StopReason.SUSPEND, engine.lastControl().stopReason());
    assertFalse(engine.lastControl().forced());
    // Instead of a sleep: a status reply, then a progress update of the stream published after it.
    // The agent still answers and the stream still runs, and an offline published on the suspend
    // would have come before them.
    int asked = probe.mark();
    command("status");
    Message reply = awaitState(probe, asked, "suspending");
    probe.awaitAfter(
        probe.messages().indexOf(reply),
        topics.progress(),
        m -> json(m).get("status").asText().equals("streaming"),
        WAIT);
    assertTrue(
        probe.messages(topics.availability()).stream().noneMatch(m -> m.text().equals("offline")),
        "nothing goes offline while a stream is in flight");
    engine.release();
    Message result = probe.awaitAfter(mark, topics.result(), m -> true, WAIT);
    assertEquals("suspended", json(result).get("outcome").asText());
    assertEquals(1, json(result).at("/datasets/sent").asInt(), "the stream in flight finished");
    assertEquals(1, json(result).at("/datasets/skipped").asInt(), "no new dataset started");
    Message offline =
        probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("offline"), WAIT);
    Message power = probe.awaitAfter(mark, powerTopic, m -> true, WAIT);
    Message online =
        probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("online"), WAIT);
    List<Message> after = probe.since(mark);
    assertTrue(after.indexOf(result) < after.indexOf(offline), "result before offline");
    assertTrue(after.indexOf(offline) < after.indexOf(power), "offline before the power command");
    assertTrue(
        after.indexOf(power) < after.indexOf(online),
        "online only after the power command returned");
    assertEquals(
        1,
        after.stream()
            .filter(m -> m.topic().equals(topics.availability()) && m.text().equals("offline"))
            .count(),
        "one offline: the disconnect was clean, the will was not sent");
    awaitState(probe, after.indexOf(power) + mark, "idle"); // state idle, then online
    assertEquals(
        1, engine.requests.size(), "the suspend command was not executed again after the resume");
  }

  /**
   * Starts the agent with {@code power}'s command, waits for it online, and runs a cycle whose
   * first dataset streams until the engine is released; the probe has seen everything since the
   * start.
   */
  MqttProbe streamingCycle(PowerRuns power) throws Exception {
    engine.blockStreams();
    startAgent(power.command());
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    command("run");
    assertTrue(engine.awaitStreaming(10));
    return probe;
  }

  @Test
  void suspend_forceMidCycle_killsStreamAndRunsPowerCommand() throws Exception {
    PowerRuns power = power(true);
    MqttProbe probe = streamingCycle(power);
    command("{\"command\": \"suspend\", \"force\": true}");
    Message result = probe.await(topics.result(), m -> true, WAIT);
    assertEquals("suspended", json(result).get("outcome").asText());
    assertEquals(1, json(result).at("/datasets/failed").asInt(), "the stream in flight was killed");
    assertTrue(engine.lastControl().forced());
    power.awaitCount(1, WAIT);
    awaitResumedIdle(probe, probe.messages().indexOf(result));
    assertEquals(1, power.count(), "the power command ran once");
  }

  @Test
  void cancel_midCycle_endsCancelledAndStaysOnline() throws Exception {
    PowerRuns power = power(true);
    MqttProbe probe = streamingCycle(power);
    command("cancel");
    awaitState(probe, 0, "cancelling");
    engine.release();
    Message result = probe.await(topics.result(), m -> true, WAIT);
    assertEquals("cancelled", json(result).get("outcome").asText());
    awaitState(probe, probe.messages().indexOf(result), "idle");
    // A status reply orders the stream: a power-down would have come (offline first) before it.
    int asked = probe.mark();
    command("status");
    awaitState(probe, asked, "idle");
    assertEquals(0, power.count(), "a cancel never powers down");
    assertTrue(
        probe.messages(topics.availability()).stream().noneMatch(m -> m.text().equals("offline")));
  }

  @Test
  void runThenSuspend_cycleEnds_runsPowerCommand() throws Exception {
    PowerRuns power = power(true);
    startAgent(power.command());
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    command("{\"command\": \"run\", \"run_id\": \"nightly-42\", \"then\": \"suspend\"}");
    Message result = probe.await(topics.result(), m -> true, WAIT);
    assertEquals("nightly-42", json(result).get("run_id").asText());
    Message offline = probe.await(topics.availability(), "offline", WAIT);
    assertTrue(
        probe.messages().indexOf(result) < probe.messages().indexOf(offline),
        "result before offline");
    power.awaitCount(1, WAIT);
    awaitResumedIdle(probe, probe.messages().indexOf(offline));
    assertEquals(1, power.count(), "the power command ran once");
    assertEquals(1, engine.requests.size(), "the run was not replayed after the resume");
  }

  @Test
  void badPayloads_eachClass_publishErrorAndTheAgentStaysUp() {
    startAgent(List.of("true"));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    byte[] tooLarge = new byte[70 * 1024];
    Arrays.fill(tooLarge, (byte) 'x');
    List<Object[]> cases =
        List.of(
            new Object[] {
              "{\"command\": \"run\", \"ttl_s\": 60, \"issued_at\": \"2020-01-01T00:00:00Z\"}",
              "command_stale"
            },
            new Object[] {
              "{\"command\": \"run\", \"ttl_s\": 60, \"issued_at\": \"last tuesday\"}",
              "command_invalid_value"
            },
            new Object[] {"reboot", "command_unknown_command"},
            new Object[] {"{\"command\": \"run\"", "command_malformed_json"},
            new Object[] {"{\"command\": \"run\", \"dry_run\": \"yes\"}", "command_wrong_type"},
            new Object[] {"{\"command\": \"run\", \"dry-run\": true}", "command_unknown_field"},
            new Object[] {tooLarge, "command_too_large"},
            new Object[] {new byte[] {'r', (byte) 0xC3, (byte) 0x28}, "command_invalid_utf8"},
            new Object[] {
              "{\"command\": \"run\", \"datasets\": [\"src:tank/a; rm -rf /\"]}",
              "command_unconfigured_dataset"
            });
    for (Object[] c : cases) {
      int mark = probe.mark();
      byte[] payload =
          c[0] instanceof byte[] b ? b : ((String) c[0]).getBytes(StandardCharsets.UTF_8);
      commander().publish(topics.command(), payload, false);
      Message error = probe.awaitAfter(mark, topics.error(), m -> true, WAIT);
      assertEquals(c[1], json(error).get("kind").asText(), json(error).get("message").asText());
    }
    int mark = probe.mark();
    command("status");
    awaitState(probe, mark, "idle");
    assertTrue(engine.requests.isEmpty(), "no bad payload ran anything");
    assertEquals(
        "online",
        probe
            .messages(topics.availability())
            .get(probe.messages(topics.availability()).size() - 1)
            .text());
  }

  @Test
  void retainedCommand_seenOnConnect_isRejectedAndClearingItIsNoError() {
    commander().publish(topics.command(), "run", true); // someone used mosquitto_pub -r
    // Subscribed before the agent starts: the error event is not retained, and the agent
    // publishes it as soon as it is online.
    MqttProbe probe = probe();
    startAgent(List.of("true"));
    Message error = probe.await(topics.error(), m -> true, WAIT);
    assertEquals("command_retained", json(error).get("kind").asText());
    int mark = probe.mark();
    commander().publish(topics.command(), new byte[0], true); // mosquitto_pub -r -n clears it
    command("status");
    awaitState(probe, mark, "idle");
    assertEquals(
        1, probe.messages(topics.error()).size(), "clearing the retained command is not an error");
    assertTrue(engine.requests.isEmpty());
  }

  @Test
  void resume_commandPublishedWhileAsleep_isNotReplayed() throws Exception {
    // The machine sleeps until the test wakes it up (it used to be `sleep 2`, which a loaded
    // machine could outlast before the commands below were even sent).
    PowerRuns power = power(false);
    startAgent(power.command());
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    int mark = probe.mark();
    command("suspend");
    probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("offline"), WAIT);
    power.awaitCount(1, WAIT); // asleep: disconnected, the power command has not returned
    command("run"); // the server "sleeps": clean session, so nobody keeps this for the agent
    command("{\"command\": \"run\"}");
    power.open();
    Message online =
        probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("online"), WAIT);
    awaitState(probe, mark, "idle"); // published before online
    int mark2 = probe.mark();
    command("status");
    awaitState(probe, mark2, "idle");
    assertTrue(
        engine.requests.isEmpty(), "a command sent during the sleep ran: " + engine.requests);
    assertEquals(1, power.count(), "the power command ran once");
  }

  @Test
  void powerCommandFails_publishesErrorAndIsBackOnlineIdle() {
    startAgent(List.of("false"));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    int mark = probe.mark();
    command("suspend");
    probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("offline"), WAIT);
    Message error = probe.awaitAfter(mark, topics.error(), m -> true, WAIT);
    assertEquals("power_failed", json(error).get("kind").asText());
    assertEquals(1, json(error).get("exit_code").asInt());
    probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("online"), WAIT);
    int mark2 = probe.mark();
    command("run");
    probe.awaitAfter(mark2, topics.result(), m -> true, WAIT);
  }

  @Test
  void homeAssistantBirth_online_republishesDiscovery() {
    startAgent(List.of("true"));
    MqttProbe probe = probe();
    awaitCount(probe, "homeassistant/", AgentTest.ENTITIES);
    commander().publish("homeassistant/status", "online", false);
    awaitCount(probe, "homeassistant/", 2 * AgentTest.ENTITIES);
  }

  // ------------------------------------------------------------------ power-down as systemd does
  // it

  /**
   * A power command that returns at once, like {@code systemctl suspend}, and a machine that then
   * does not go down: the agent stays offline for {@code power.settle_s}, then comes back, state
   * before online, and reports {@code power_failed}. Catches: online (and Run enabled in Home
   * Assistant) right after the command returned, and a failed suspend nobody hears of.
   */
  @Test
  void suspend_commandReturnsAtOnceAndMachineStaysUp_offlineUntilSettleThenPowerFailed() {
    clocks.goesDown = false;
    PowerRuns power = power(true);
    startAgent(TestConfigs.withPower(config(power.command()), Duration.ofSeconds(2), WAIT));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    int mark = probe.mark();
    command("suspend");
    Message offline =
        probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("offline"), WAIT);
    power.awaitCount(1, WAIT);
    // After the offline: a probe that subscribed as the agent came online may get online twice
    // (retained, then live) before it.
    int down = probe.messages().indexOf(offline);
    Message online =
        probe.awaitAfter(down, topics.availability(), m -> m.text().equals("online"), WAIT);
    Message error = probe.awaitAfter(down, topics.error(), m -> true, WAIT);
    assertEquals("power_failed", json(error).get("kind").asText());
    assertTrue(
        json(error).get("message").asText().startsWith("the machine did not power down within 2 s"),
        json(error).toString());
    long offlineMillis = (online.receivedNanos() - offline.receivedNanos()) / 1_000_000;
    assertTrue(
        offlineMillis >= 2000,
        "back online " + offlineMillis + " ms after offline, before settle_s");
    List<Message> after = probe.since(probe.messages().indexOf(offline));
    Message idle =
        after.stream().filter(m -> m.topic().equals(topics.state())).findFirst().orElseThrow();
    assertEquals("idle", json(idle).get("state").asText());
    assertTrue(after.indexOf(idle) < after.indexOf(online), "state before online");
    assertEquals(1, power.count());
  }

  /**
   * The command returns, the machine goes to sleep afterwards and wakes up: offline the whole time,
   * then back at once with state and result before online, and no error. The clock pair is the
   * test's ({@link FakeClocks}): this machine cannot be suspended.
   */
  @Test
  void suspend_machineSleepsAfterTheCommandReturned_backOnWakeStateAndResultBeforeOnline() {
    clocks.goesDown = false;
    PowerRuns power = power(true);
    startAgent(TestConfigs.withPower(config(power.command()), Duration.ofSeconds(60), WAIT));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    command("run");
    probe.await(topics.result(), m -> true, WAIT);
    int mark = probe.mark();
    command("suspend");
    probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("offline"), WAIT);
    power.awaitCount(1, WAIT);
    // Twenty looks at the clocks: the machine has not been down, the agent stays away.
    clocks.awaitReads(20, WAIT);
    int asleep = probe.mark();
    assertTrue(
        probe.messages().subList(mark, asleep).stream().noneMatch(m -> m.text().equals("online")),
        "online while the machine had not been down");
    clocks.sleep(Duration.ofHours(8)); // the night, then wake-on-LAN
    Message online =
        probe.awaitAfter(asleep, topics.availability(), m -> m.text().equals("online"), WAIT);
    List<Message> back = probe.messages().subList(asleep, probe.messages().indexOf(online));
    assertTrue(
        back.stream()
            .anyMatch(
                m ->
                    m.topic().equals(topics.state())
                        && json(m).get("state").asText().equals("idle")),
        "state idle before online: " + AgentMosquittoIT.texts(back));
    assertTrue(
        back.stream().anyMatch(m -> m.topic().equals(topics.result())), "result before online");
    awaitResumedIdle(probe, asleep);
    assertTrue(
        probe.messages(topics.error()).isEmpty(),
        "no error: " + AgentMosquittoIT.texts(probe.messages(topics.error())));
    assertEquals(1, power.count());
  }

  /**
   * {@code systemctl poweroff} returns at once and systemd then stops the agent (SIGTERM): it never
   * comes back online. Catches: the availability flapping online, then offline.
   */
  @Test
  void poweroff_stoppedWhileWaitingForTheMachineToGoDown_neverComesBackOnline() {
    clocks.goesDown = false;
    PowerRuns power = power(true);
    RunningAgent agent =
        startAgent(TestConfigs.withPower(config(power.command()), Duration.ofSeconds(60), WAIT));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    int mark = probe.mark();
    command("suspend");
    Message offline =
        probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("offline"), WAIT);
    power.awaitCount(1, WAIT);
    // systemd takes a moment to stop the services (twenty looks at the clocks): the agent must not
    // come back meanwhile
    clocks.awaitReads(20, WAIT);
    agent.stop(); // systemd's SIGTERM, part of the poweroff
    String marker = topics.base() + "/test-marker";
    commander().publish(marker, "m", false);
    probe.awaitAfter(mark, marker, m -> true, WAIT);
    assertEquals(
        List.of(),
        probe.since(probe.messages().indexOf(offline) + 1).stream()
            .filter(m -> m.topic().equals(topics.availability()))
            .map(Message::text)
            .toList(),
        "nothing after offline");
    MqttProbe late = probe();
    assertEquals(
        "offline", late.await(topics.availability(), m -> true, WAIT).text(), "retained offline");
  }

  /**
   * A {@code run} from cron (another process, {@code LockHolder}) holds the cycle lock: the suspend
   * waits, online and {@code suspending}, and powers down once the lock is let go; with a short
   * {@code power.lock_wait_s} it gives up with {@code power_blocked} instead. Catches: a power-down
   * that cuts the other run off, and one that waits forever.
   */
  @Test
  void suspend_cronRunHoldsTheCycleLock_waitsThenPowersDown_orGivesUpBlocked() throws Exception {
    PowerRuns power = power(true);
    Path stateFile = dir.resolve("state.json");
    startAgent(
        TestConfigs.withPower(
            config(power.command()), Duration.ofSeconds(60), Duration.ofSeconds(2)));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    try (LockHolderProcess cron =
        new LockHolderProcess(org.zfsbackup.cycle.CycleLock.fileFor(stateFile))) {
      int mark = probe.mark();
      command("suspend");
      awaitState(probe, mark, "suspending");
      Message blocked = probe.awaitAfter(mark, topics.error(), m -> true, WAIT);
      assertEquals("power_blocked", json(blocked).get("kind").asText());
      awaitState(probe, mark, "idle");
      assertEquals(0, power.count(), "no power-down while another process holds the lock");
      assertTrue(cron.alive(), "the other run was not cut off");
      assertTrue(
          probe.messages(topics.availability()).stream()
              .noneMatch(m -> m.text().equals("offline")));
    }
    // Lock free again: the next suspend powers down.
    int mark = probe.mark();
    command("suspend");
    power.awaitCount(1, WAIT);
    awaitResumedIdle(probe, mark);
  }

  @Test
  void suspend_cronRunEndsWhileTheSuspendWaits_powersDownThen() throws Exception {
    PowerRuns power = power(true);
    Path stateFile = dir.resolve("state.json");
    startAgent(TestConfigs.withPower(config(power.command()), Duration.ofSeconds(60), WAIT));
    MqttProbe probe = probe();
    probe.await(topics.availability(), "online", WAIT);
    int mark;
    try (LockHolderProcess cron =
        new LockHolderProcess(org.zfsbackup.cycle.CycleLock.fileFor(stateFile))) {
      mark = probe.mark();
      command("suspend");
      awaitState(probe, mark, "suspending");
      sleep(1000); // twenty looks at the lock
      assertEquals(0, power.count(), "powered down while another process holds the lock");
      assertTrue(
          probe.messages(topics.availability()).stream()
              .noneMatch(m -> m.text().equals("offline")));
    } // the cron run ends
    probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("offline"), WAIT);
    power.awaitCount(1, WAIT);
    awaitResumedIdle(probe, mark);
  }

  /** Another process holding a cycle lock, as a {@code run} from cron does. */
  static final class LockHolderProcess implements AutoCloseable {
    private final Process process;

    LockHolderProcess(Path lockFile) throws Exception {
      Files.createDirectories(lockFile.getParent());
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      process =
          new ProcessBuilder(
                  java,
                  "-cp",
                  System.getProperty("java.class.path"),
                  org.zfsbackup.cycle.LockHolder.class.getName(),
                  lockFile.toString())
              .redirectErrorStream(true)
              .start();
      String line =
          new java.io.BufferedReader(
                  new java.io.InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
      assertEquals("locked", line);
    }

    boolean alive() {
      return process.isAlive();
    }

    @Override
    public void close() throws Exception {
      process.getOutputStream().close(); // LockHolder lets go when its stdin closes
      assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    }
  }

  // ------------------------------------------------------------------ helpers

  /** A power command that counts its runs; {@code open}: it returns at once (else: see open()). */
  PowerRuns power(boolean open) {
    PowerRuns p = new PowerRuns(dir, open);
    powers.add(p);
    return p;
  }

  RunningAgent startAgent(List<String> power) {
    return startAgent(config(power));
  }

  AgentConfig config(List<String> power) {
    return TestConfigs.config(
        brokerUrl(), clientId, topics.base(), dir.resolve("state.json"), power);
  }

  RunningAgent startAgent(AgentConfig config) {
    RunningAgent agent =
        AgentLauncher.start(
            config,
            c -> engine,
            clocks.suspending(new ProcessPowerSwitch()),
            clocks,
            TestConfigs.FAST);
    agents.add(agent);
    return agent;
  }

  /**
   * Waits until the agent has published everything it publishes on (re)connect: availability,
   * state, the last result, then discovery, in that order over one connection. A probe subscribed
   * after this sees all of it retained, none of it live.
   */
  void awaitRepublished() {
    MqttProbe p = probe();
    p.await(topics.availability(), "online", WAIT);
    awaitCount(p, "homeassistant/", AgentTest.ENTITIES);
  }

  /** Subscribed to everything below T and to this agent's discovery topics. */
  MqttProbe probe(String... more) {
    MqttProbe p = MqttProbe.connect(brokerUrl());
    probes.add(p);
    List<String> filters =
        new ArrayList<>(
            List.of(
                topics.base() + "/+",
                "homeassistant/+/" + Discovery.nodeId(clientId) + "/+/config"));
    filters.addAll(List.of(more));
    return p.subscribe(filters.toArray(String[]::new));
  }

  private MqttProbe commander;

  MqttProbe commander() {
    if (commander == null || !commander.connected()) {
      commander = MqttProbe.connect(brokerUrl());
      probes.add(commander);
    }
    return commander;
  }

  void command(String payload) {
    commander().publish(topics.command(), payload, false);
  }

  /**
   * After a power-down: the agent came back ({@code online}, then {@code idle}) after {@code mark},
   * and a {@code status} reply came after that, so whatever the agent did on waking up (a second
   * power-down would publish {@code offline} first) has reached the probe.
   */
  void awaitResumedIdle(MqttProbe probe, int mark) {
    Message online =
        probe.awaitAfter(mark, topics.availability(), m -> m.text().equals("online"), WAIT);
    // The state comes before online (docs/mqtt.md): the last one after mark.
    awaitState(probe, mark, "idle");
    int asked = probe.mark();
    command("status");
    awaitState(probe, asked, "idle");
    List<Message> since = probe.since(probe.messages().indexOf(online));
    assertTrue(
        since.stream()
            .noneMatch(m -> m.topic().equals(topics.availability()) && m.text().equals("offline")),
        "powered down again after the resume");
  }

  Message awaitState(MqttProbe probe, int mark, String state) {
    return probe.awaitAfter(
        mark, topics.state(), m -> json(m).get("state").asText().equals(state), WAIT);
  }

  static void awaitCount(MqttProbe probe, String topicPrefix, int count) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (probe.messages().stream().filter(m -> m.topic().startsWith(topicPrefix)).count()
        < count) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("fewer than " + count + " messages on " + topicPrefix + "*");
      }
      sleep(20);
    }
  }

  static void awaitFile(Path file) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!Files.exists(file)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(file + " never appeared");
      }
      sleep(20);
    }
  }

  static JsonNode json(Message m) {
    try {
      return Payloads.JSON.readTree(m.payload());
    } catch (Exception e) {
      throw new AssertionError("not JSON on " + m.topic() + ": " + m.text(), e);
    }
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
