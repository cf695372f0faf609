package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.core.Context;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.command.CommandParser;
import org.zfsbackup.cycle.CycleControl.StopReason;
import org.zfsbackup.cycle.CycleLock;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.testing.LogCapture;

/**
 * The state machine with a fake engine, a fake broker connection and a fake power switch: every
 * command in every state (the table in docs/mqtt.md), and the order of what is published.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class AgentTest {
  static final Topics T = new Topics("servers/host-backups");
  static final List<String> POWER = List.of("systemctl", "suspend");
  static Vertx vertx;
  static WorkerExecutor workers;

  /** Discovery messages per (re)publish: one per entity. */
  static final int ENTITIES =
      new Discovery("homeassistant", "agent-1", T, "test", Duration.ofHours(36)).messages().size();

  @TempDir Path dir;
  final List<String> timeline = Collections.synchronizedList(new ArrayList<>());

  /** Whatever was thrown on the agent's context (a transition the table refuses, say). */
  final List<Throwable> thrown = Collections.synchronizedList(new ArrayList<>());

  Context context;
  FakeMqtt mqtt;
  FakeCycleRunner engine;
  FakePower power;
  Agent agent;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
    workers = vertx.createSharedWorkerExecutor("agent-test-worker", 4, 1, TimeUnit.DAYS);
  }

  @AfterAll
  static void stopVertx() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void startAgent() {
    vertx.exceptionHandler(thrown::add);
    context = vertx.getOrCreateContext();
    mqtt = new FakeMqtt(context, T, timeline);
    engine = new FakeCycleRunner();
    power = new FakePower(timeline);
    agent = newAgent(StateStore.Saved.NONE);
    // connected() publishes availability, state, then discovery: the last one means it is done.
    await(() -> "idle".equals(state()) && discoveryCount() == ENTITIES, "agent online and idle");
  }

  @AfterEach
  void stopAgent() throws Exception {
    engine.release();
    power.wake();
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> agent.shutdown().onComplete(done));
    done.future().await(10, TimeUnit.SECONDS);
    assertEquals(List.of(), List.copyOf(thrown), "thrown on the agent's context");
  }

  /** Cycles run on the real engine, which finds the cycle lock held and does nothing. */
  volatile boolean lockedOut;

  /** {@code power.settle_s} and {@code power.lock_wait_s} of the agents {@link #newAgent} makes. */
  Duration settle = Duration.ofSeconds(1);

  Duration lockWait = Duration.ofSeconds(10);

  /** How long a power-down waits for an unreachable broker ({@link PowerDown.Settings}). */
  Duration brokerWait = Duration.ofSeconds(10);

  /** The state store of the agents {@link #newAgent} makes. */
  java.util.function.Function<Path, StateStore> stores = StateStore::new;

  Agent newAgent(StateStore.Saved saved) {
    return newAgent(
        saved, new Discovery("homeassistant", "agent-1", T, "test", Duration.ofHours(36)));
  }

  Agent newAgent(StateStore.Saved saved, Discovery discovery) {
    return newAgent(saved, discovery, Clock.systemUTC());
  }

  Agent newAgent(StateStore.Saved saved, Discovery discovery, Clock clock) {
    Agent a =
        new Agent(
            context,
            workers,
            mqtt,
            (request, sink, control) ->
                (lockedOut ? realEngine() : engine).run(request, sink, control),
            power,
            power.clocks,
            new CommandParser(Set.of("src:tank/a", "src:tank/b")),
            stores.apply(dir.resolve("state.json")),
            clock,
            new Agent.Settings(
                T,
                new PowerDown.Settings(
                    POWER, settle, lockWait, Duration.ofMillis(50), lockFile(), brokerWait),
                Optional.of(discovery),
                Duration.ofMillis(300),
                Duration.ofSeconds(5)));
    context.runOnContext(v -> a.start(saved));
    return a;
  }

  // ------------------------------------------------------------------ IDLE

  @Test
  void handle_runWhenIdle_runsOneCycleAndPublishesInContractOrder() {
    send("run");
    await(() -> timeline.contains("result success"), "result");
    await(() -> "idle".equals(state()), "idle again");
    assertEquals(1, engine.requests.size());
    assertSubsequence(
        List.of(
            "state running",
            "event started",
            "state running",
            "progress started",
            "progress done",
            "result success",
            "event success",
            "state idle"));
    JsonNode result = mqtt.last(T.result());
    assertNotNull(result.get("last_success_at").textValue());
    assertEquals(result.get("cycle_id"), mqtt.json(T.event()).get(0).get("cycle_id"));
    assertTrue(mqtt.on(T.result()).get(0).retained());
    assertFalse(mqtt.on(T.event()).get(0).retained());
    assertFalse(timeline.contains("power"));
  }

  @Test
  void handle_runWithOptions_passesThemToTheEngine() {
    send(
        "{\"command\": \"run\", \"run_id\": \"nightly-42\", \"dry_run\": true, \"datasets\": [\"src:tank/b\"]}");
    await(() -> timeline.contains("result success"), "result");
    assertEquals("nightly-42", engine.requests.get(0).runId());
    assertTrue(engine.requests.get(0).dryRun());
    assertEquals(Set.of("src:tank/b"), engine.requests.get(0).only());
    assertEquals("nightly-42", mqtt.last(T.result()).get("run_id").asText());
    assertEquals(
        "nightly-42",
        mqtt.json(T.state()).stream()
            .filter(s -> s.get("state").asText().equals("running"))
            .findFirst()
            .orElseThrow()
            .get("run_id")
            .asText());
  }

  @Test
  void handle_suspendWhenIdle_goesOfflineDisconnectsThenRunsPowerAndComesBackIdle() {
    send("suspend");
    awaitBackOnline("back online");
    assertSubsequence(
        List.of(
            "state suspending",
            "availability offline",
            "disconnect",
            "power",
            "connect",
            "state idle",
            "availability online"));
    assertEquals(List.of(POWER), power.calls);
    assertTrue(engine.requests.isEmpty());
  }

  @Test
  void handle_cancelWhenIdle_changesNothingAndReportsNoError() {
    int states = mqtt.on(T.state()).size();
    send("cancel");
    await(() -> mqtt.on(T.state()).size() > states, "state republished");
    assertEquals("idle", state());
    assertTrue(mqtt.on(T.error()).isEmpty());
    assertTrue(engine.requests.isEmpty());
  }

  @Test
  void handle_statusWhenIdle_republishesState() {
    int states = mqtt.on(T.state()).size();
    send("status");
    await(() -> mqtt.on(T.state()).size() == states + 1, "state republished");
    assertEquals("idle", state());
  }

  // ------------------------------------------------------------------ RUNNING

  @Test
  void handle_runWhileRunning_isRefusedAndNeverStartsASecondCycle() throws Exception {
    startBlockedCycle();
    send("run");
    send("{\"command\": \"run\"}");
    send("RUN");
    await(() -> errors("command_refused") == 3, "three refusals");
    engine.release();
    await(() -> "idle".equals(state()), "idle");
    assertEquals(1, engine.requests.size());
    assertEquals(1, engine.maxRunning.get());
    assertTrue(mqtt.last(T.error()).get("message").asText().contains("running"));
  }

  @Test
  void handle_suspendWhileRunning_letsTheStreamFinishStartsNothingNewThenPowersDown()
      throws Exception {
    startBlockedCycle();
    send("suspend");
    await(() -> "suspending".equals(state()), "suspending");
    assertEquals(StopReason.SUSPEND, engine.lastControl().stopReason());
    assertFalse(engine.lastControl().forced());
    // The stream goes on after the suspend: a progress update published after it (the same context,
    // so any power-down the suspend started would come first).
    awaitAfter("state suspending", "progress streaming");
    assertFalse(timeline.contains("power"), "no power-down while a stream is in flight");
    assertFalse(timeline.contains("availability offline"));
    assertFalse(timeline.contains("disconnect"));
    engine.release();
    awaitBackOnline("resumed");
    JsonNode result = mqtt.json(T.result()).get(0);
    assertEquals("suspended", result.get("outcome").asText());
    assertEquals(1, result.at("/datasets/sent").asInt(), "the stream in flight finished");
    assertEquals(1, result.at("/datasets/skipped").asInt(), "nothing new started");
    assertSubsequence(
        List.of(
            "state suspending",
            "progress done",
            "progress skipped",
            "result suspended",
            "event suspended",
            "state suspending",
            "availability offline",
            "disconnect",
            "power",
            "connect",
            "state idle",
            "availability online"));
    assertEquals(1, count("power"), "the power command ran once, after the result");
    assertEquals(1, count("availability offline"));
  }

  @Test
  void handle_suspendForceWhileRunning_killsTheStreamsInFlightThenPowersDown() throws Exception {
    startBlockedCycle();
    send("{\"command\": \"suspend\", \"force\": true}");
    await(() -> power.calls.size() == 1, "power-down");
    assertTrue(engine.lastControl().forced());
    JsonNode result = mqtt.json(T.result()).get(0);
    assertEquals("suspended", result.get("outcome").asText());
    assertEquals(1, result.at("/datasets/failed").asInt(), "the stream in flight was killed");
  }

  @Test
  void handle_cancelWhileRunning_endsCancelledWithoutPowerDown() throws Exception {
    startBlockedCycle();
    send("cancel");
    await(() -> "cancelling".equals(state()), "cancelling");
    assertEquals(StopReason.CANCEL, engine.lastControl().stopReason());
    assertFalse(engine.lastControl().forced());
    engine.release();
    await(() -> "idle".equals(state()), "idle");
    assertEquals("cancelled", mqtt.last(T.result()).get("outcome").asText());
    assertSubsequence(
        List.of("state cancelling", "result cancelled", "event cancelled", "state idle"));
    assertFalse(timeline.contains("power"));
    assertFalse(timeline.contains("availability offline"));
  }

  @Test
  void handle_cancelForceWhileRunning_killsTheStreamsInFlight() throws Exception {
    startBlockedCycle();
    send("{\"command\": \"cancel\", \"force\": true}");
    await(() -> "idle".equals(state()) && !mqtt.on(T.result()).isEmpty(), "idle");
    assertTrue(engine.lastControl().forced());
    assertEquals(1, mqtt.last(T.result()).at("/datasets/failed").asInt());
  }

  @Test
  void handle_statusWhileRunning_republishesRunningWithTheCycle() throws Exception {
    startBlockedCycle();
    int states = mqtt.on(T.state()).size();
    send("status");
    await(() -> mqtt.on(T.state()).size() == states + 1, "state republished");
    JsonNode s = mqtt.last(T.state());
    assertEquals("running", s.get("state").asText());
    assertEquals(engine.requests.get(0).cycleId(), s.get("cycle_id").asText());
    assertEquals("pull", s.get("phase").asText());
  }

  @Test
  void engineProgress_streamingEvery100ms_isThrottledButStartAndEndAlwaysPublished()
      throws Exception {
    long start = System.nanoTime();
    startBlockedCycle();
    // The fake engine reports every 100 ms; wait for 12 of them (not for a time: under load they
    // come later) and for two published updates.
    await(() -> engine.streamed.get() >= 12 && count("progress streaming") >= 2, "12 updates");
    engine.release();
    await(() -> "idle".equals(state()), "idle");
    long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
    List<String> statuses =
        mqtt.json(T.progress()).stream().map(p -> p.get("status").asText()).toList();
    long streaming = statuses.stream().filter("streaming"::equals).count();
    // At most one per 300 ms of the time the cycle ran, however long that took on this machine.
    long allowed = elapsedMillis / 300 + 1;
    assertTrue(
        streaming >= 2 && streaming <= allowed,
        "one streaming update per 300 ms, got " + streaming + " in " + elapsedMillis + " ms");
    assertTrue(
        streaming < engine.streamed.get(),
        "throttled: " + streaming + " of " + engine.streamed.get());
    assertEquals("started", statuses.get(0));
    assertTrue(statuses.contains("done"));
  }

  // ------------------------------------------------------------------ CANCELLING

  @Test
  void handle_runWhileCancelling_isRefused() throws Exception {
    startBlockedCycle();
    send("cancel");
    await(() -> "cancelling".equals(state()), "cancelling");
    send("run");
    await(() -> errors("command_refused") == 1, "refusal");
    engine.release();
    await(() -> "idle".equals(state()), "idle");
    assertEquals(1, engine.requests.size());
  }

  @Test
  void handle_suspendWhileCancelling_powersDownWhenTheCycleEnds() throws Exception {
    startBlockedCycle();
    send("cancel");
    await(() -> "cancelling".equals(state()), "cancelling");
    send("suspend");
    await(() -> "suspending".equals(state()), "suspending");
    engine.release();
    await(() -> power.calls.size() == 1, "power-down");
    assertEquals(
        "cancelled",
        mqtt.last(T.result()).get("outcome").asText(),
        "the first stop decides the outcome");
    assertSubsequence(
        List.of(
            "result cancelled", "state suspending", "availability offline", "disconnect", "power"));
  }

  @Test
  void handle_cancelAgainWhileCancelling_isANoOpUnlessForced() throws Exception {
    startBlockedCycle();
    send("cancel");
    await(() -> "cancelling".equals(state()), "cancelling");
    int states = mqtt.on(T.state()).size();
    send("cancel");
    await(() -> mqtt.on(T.state()).size() == states + 1, "state republished");
    assertFalse(engine.lastControl().forced());
    assertTrue(mqtt.on(T.error()).isEmpty());
    send("{\"command\": \"cancel\", \"force\": true}");
    await(() -> "idle".equals(state()), "idle after the forced cancel");
    assertTrue(engine.lastControl().forced());
  }

  @Test
  void handle_statusWhileCancelling_republishesCancelling() throws Exception {
    startBlockedCycle();
    send("cancel");
    await(() -> "cancelling".equals(state()), "cancelling");
    int states = mqtt.on(T.state()).size();
    send("status");
    await(() -> mqtt.on(T.state()).size() == states + 1, "state republished");
    assertEquals("cancelling", state());
  }

  // ------------------------------------------------------------------ SUSPENDING

  @Test
  void handle_runWhileSuspending_isRefused() throws Exception {
    startSuspendingCycle();
    send("run");
    await(() -> errors("command_refused") == 1, "refusal");
    engine.release();
    await(() -> power.calls.size() == 1, "power-down");
    assertEquals(1, engine.requests.size());
  }

  @Test
  void handle_suspendAgainWhileSuspending_powersDownOnceAndForcesOnlyWhenAsked() throws Exception {
    startSuspendingCycle();
    int states = mqtt.on(T.state()).size();
    send("suspend");
    await(() -> mqtt.on(T.state()).size() == states + 1, "state republished");
    assertFalse(engine.lastControl().forced());
    send("{\"command\": \"suspend\", \"force\": true}");
    await(() -> power.calls.size() == 1, "power-down");
    assertTrue(engine.lastControl().forced());
    awaitBackOnline("resumed");
    assertEquals(1, power.calls.size());
  }

  @Test
  void handle_cancelWhileSuspending_isRefusedAndTheSuspendGoesOn() throws Exception {
    startSuspendingCycle();
    send("cancel");
    await(() -> errors("command_refused") == 1, "refusal");
    assertEquals(StopReason.SUSPEND, engine.lastControl().stopReason());
    engine.release();
    await(() -> power.calls.size() == 1, "power-down");
  }

  @Test
  void handle_statusWhileSuspending_republishesSuspending() throws Exception {
    startSuspendingCycle();
    int states = mqtt.on(T.state()).size();
    send("status");
    await(() -> mqtt.on(T.state()).size() == states + 1, "state republished");
    assertEquals("suspending", state());
  }

  @Test
  void message_duringAndBeforePowerDown_isNeverActedOnAfterResume() throws Exception {
    power.sleepUntilWoken();
    long before = mqtt.connection();
    send("suspend");
    assertTrue(power.awaitCalled(10));
    deliver("run", before); // arrived while the power command runs
    power.wake();
    awaitBackOnline("resumed");
    deliver("run", before); // queued before the power-down, handled after the resume
    int states = mqtt.on(T.state()).size();
    send("status");
    await(() -> mqtt.on(T.state()).size() == states + 1, "status handled");
    assertTrue(engine.requests.isEmpty(), "no command of the old connection ran");
    send("run");
    await(() -> engine.requests.size() == 1, "a command after the resume runs");
  }

  // Catches: a run or cancel that arrives in the last moments of a power-down (the state still
  // says suspending) dropped with a log line only, where a few ms earlier it is refused on T/error.
  @Test
  void runOrCancel_whilePoweringDown_refusedNotDroppedInSilence() throws Exception {
    power.sleepUntilWoken();
    send("suspend");
    assertTrue(power.awaitCalled(10));
    send("{\"command\": \"run\", \"run_id\": \"late\"}");
    send("cancel");
    send("status");
    power.wake();
    awaitBackOnline("resumed");
    await(() -> errors("command_refused") == 2, "both refused");
    assertTrue(
        mqtt.json(T.error()).stream()
            .anyMatch(
                e ->
                    e.get("message")
                        .asText()
                        .startsWith("run refused: the agent is powering down")),
        mqtt.json(T.error()).toString());
    assertTrue(engine.requests.isEmpty(), "nothing ran");
  }

  // ------------------------------------------------------------------ then: suspend, power,
  // failures

  @Test
  void handle_runThenSuspend_powersDownAfterTheCycle() {
    send("{\"command\": \"run\", \"then\": \"suspend\"}");
    await(() -> power.calls.size() == 1, "power-down");
    assertSubsequence(
        List.of(
            "result success",
            "event success",
            "state suspending",
            "availability offline",
            "disconnect",
            "power"));
  }

  @Test
  void handle_runThenSuspendAndTheCycleFails_powersDownAnyway() {
    engine.outcome = Outcome.FAILED;
    send("{\"command\": \"run\", \"then\": \"suspend\"}");
    await(() -> power.calls.size() == 1, "power-down");
    assertSubsequence(
        List.of("error diverged", "result failed", "event failed", "state suspending", "power"));
  }

  // Catches: a power command that throws (could not start) leaving the agent powering down, or not
  // reported.
  @Test
  void powerDown_commandCannotStart_reportsErrorAfterReconnectAndIsIdle() {
    power.startFails = new IllegalStateException("no such command");
    send("suspend");
    // online comes after the kept error: wait for it too
    await(
        () -> errors("power_failed") == 1 && count("availability online") == 2,
        "power error, then online");
    JsonNode error = mqtt.last(T.error());
    assertEquals(
        "the power command could not run: java.lang.IllegalStateException: no such command",
        error.get("message").asText());
    assertEquals("idle", state());
    assertSubsequence(
        List.of("power", "connect", "state idle", "error power_failed", "availability online"));
  }

  @Test
  void powerDown_commandFails_reportsErrorAfterReconnectAndIsIdle() {
    power.exitCode = 1;
    send("suspend");
    // online comes after the kept error: wait for it too
    await(
        () -> errors("power_failed") == 1 && count("availability online") == 2,
        "power error, then online");
    JsonNode error = mqtt.last(T.error());
    assertEquals(1, error.get("exit_code").asInt());
    assertTrue(error.get("stderr").asText().contains("Access denied"));
    assertEquals("idle", state());
    assertSubsequence(
        List.of("power", "connect", "state idle", "error power_failed", "availability online"));
  }

  @Test
  void cycle_engineThrows_reportsInternalErrorAndFailedResultAndStaysUp() {
    engine.crash = new IllegalStateException("engine bug");
    send("run");
    await(() -> "idle".equals(state()) && timeline.contains("result failed"), "failed result");
    assertTrue(
        mqtt.json(T.error()).stream()
            .anyMatch(e -> e.get("message").asText().contains("engine bug")));
    engine.crash = null;
    send("run");
    await(() -> timeline.contains("result success"), "next run works");
  }

  @Test
  void message_rejectedCommand_publishesErrorAndRunsNothing() {
    deliver("run", mqtt.connection(), true);
    send("{\"command\": \"run\", \"datasets\": [\"src:tank/nope\"]}");
    send("reboot");
    await(() -> mqtt.on(T.error()).size() == 3, "three errors");
    assertEquals(
        List.of("command_retained", "command_unconfigured_dataset", "command_unknown_command"),
        mqtt.json(T.error()).stream().map(e -> e.get("kind").asText()).toList());
    assertTrue(engine.requests.isEmpty());
    assertEquals("idle", state());
  }

  // ------------------------------------------------------------------ power-down as systemd does
  // it

  /**
   * {@code systemctl suspend} returns at once and the machine may then not go down at all. Catches:
   * reconnecting (online, idle, Run enabled) as soon as the command returned, and a failed suspend
   * never reported.
   */
  @Test
  void powerDown_commandReturnsAtOnceAndMachineStaysUp_staysOfflineThenReportsPowerFailed()
      throws Exception {
    power.clocks.goesDown = false;
    send("suspend");
    await(
        () -> errors("power_failed") == 1 && count("availability online") == 2,
        "power_failed, then online");
    long offlineFor = mqtt.connectedAt - power.returnedAt;
    assertTrue(
        offlineFor >= settle.toNanos(),
        "reconnected "
            + offlineFor / 1_000_000
            + " ms after the command returned, before settle_s");
    JsonNode error = mqtt.last(T.error());
    assertTrue(
        error.get("message").asText().startsWith("the machine did not power down within 1 s"),
        error.toString());
    assertTrue(error.get("exit_code").isNull());
    assertEquals("idle", state());
    assertSubsequence(
        List.of(
            "availability offline",
            "disconnect",
            "power",
            "connect",
            "state idle",
            "error power_failed",
            "availability online"));
    assertEquals(2, count("connect"), "one reconnect");
  }

  /**
   * The command returns, the machine sleeps later and wakes up: the agent stays offline until the
   * boot-time clock runs ahead, then reconnects at once with state and result before online.
   * Catches: a reconnect before the sleep, a resume not noticed (it would wait for settle_s and
   * report power_failed), and online published before the state.
   */
  @Test
  void powerDown_commandReturnsThenMachineSleepsAndWakes_reconnectsWithStateAndResultBeforeOnline()
      throws Exception {
    restartAgent(() -> settle = Duration.ofSeconds(30));
    send("run");
    await(() -> timeline.contains("result success") && "idle".equals(state()), "a result");
    power.clocks.goesDown = false;
    send("suspend");
    await(() -> power.returnedAt != 0, "the power command returned");
    power.clocks.awaitReads(10, Duration.ofSeconds(10)); // ten looks at the clocks
    assertEquals(1, mqtt.connection(), "reconnected while the machine had not been down");
    assertFalse(mqtt.connected());
    int mark = timeline.size();
    power.clocks.sleep(Duration.ofMinutes(10)); // suspended, then woken by wake-on-LAN
    awaitBackOnline("resumed");
    await(() -> discoveryCount() == 2 * ENTITIES, "republished");
    List<String> after = List.copyOf(timeline).subList(mark, timeline.size());
    assertEquals(
        List.of("connect", "state idle", "result success", "availability online"),
        after.subList(0, 4));
    assertEquals(0, errors("power_failed"));
  }

  /**
   * {@code systemctl poweroff} returns at once; systemd then stops the agent (SIGTERM) while it
   * waits for the machine to go down. Catches: a watch that outlives the shutdown and reconnects or
   * reports power_failed when settle_s ends.
   */
  @Test
  void powerDown_poweroffStopsTheAgentWhileItWaits_neverReconnectsNorReports() throws Exception {
    restartAgent(() -> settle = Duration.ofSeconds(1));
    power.clocks.goesDown = false;
    send("suspend");
    await(() -> power.returnedAt != 0, "the power command returned");
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> agent.shutdown().onComplete(done));
    done.future().await(10, TimeUnit.SECONDS);
    Thread.sleep(1500); // past settle_s
    assertEquals(1, count("connect"), "reconnected after the shutdown");
    assertFalse(timeline.stream().anyMatch(t -> t.endsWith("power_failed")), timeline.toString());
    assertEquals(1, count("availability offline"), "offline once, by the power-down");
  }

  /**
   * A cron {@code run} holds the cycle lock: the suspend waits (online, suspending, nothing of that
   * run published), then powers down when the lock is free. Catches: a power-down that cuts the
   * other run off, and one that never comes once the lock is free.
   */
  @Test
  void suspend_whileAnotherProcessHoldsTheCycleLock_waitsForItThenPowersDown() throws Exception {
    CycleLock held = ((CycleLock.Acquired) CycleLock.tryAcquire(lockFile())).lock();
    try {
      send("suspend");
      await(() -> "suspending".equals(state()), "suspending");
      assertTrue(mqtt.last(T.state()).get("cycle_id").isNull());
      send("run");
      send("cancel");
      await(() -> errors("command_refused") == 2, "run and cancel refused while waiting");
      Thread.sleep(500); // ten looks at the lock
      assertFalse(timeline.contains("availability offline"), "went offline while the lock is held");
      assertTrue(power.calls.isEmpty());
      assertTrue(engine.requests.isEmpty());
    } finally {
      held.close(); // the cron run ended
    }
    await(() -> power.calls.size() == 1, "power-down after the lock was let go");
    assertSubsequence(List.of("state suspending", "availability offline", "disconnect", "power"));
    awaitBackOnline("resumed");
    // Let go after the resume: a cron run can start again.
    CycleLock.Attempt again = CycleLock.tryAcquire(lockFile());
    assertTrue(again instanceof CycleLock.Acquired, again.toString());
    ((CycleLock.Acquired) again).lock().close();
  }

  /**
   * The cycle lock cannot be taken at all (its file cannot be opened): the power-down goes on, and
   * says so on the error topic, not only in the log. Catches a power-down that a cron `run`
   * starting meanwhile could overlap, with nothing said where the operator looks (audit8, read).
   */
  @Test
  void suspend_lockUnavailable_powersDownSayingSo() throws Exception {
    Files.createDirectories(lockFile()); // a directory where the lock file should be
    send("suspend");
    await(() -> power.calls.size() == 1, "power-down");
    await(() -> errors("warning") == 1, "a warning");
    String message = mqtt.last(T.error()).get("message").asText();
    assertTrue(
        message.startsWith("cannot take the cycle lock " + lockFile())
            && message.endsWith("powering down without it"),
        message);
  }

  /**
   * The lock is still held when power.lock_wait_s ends: power_blocked, idle, still online, the
   * other run untouched. Catches: waiting forever, and powering down anyway.
   */
  @Test
  void suspend_lockHeldLongerThanTheWait_reportsPowerBlockedAndStaysOn() throws Exception {
    restartAgent(() -> lockWait = Duration.ofSeconds(1));
    CycleLock held = ((CycleLock.Acquired) CycleLock.tryAcquire(lockFile())).lock();
    try {
      send("suspend");
      await(() -> errors("power_blocked") == 1, "power_blocked");
      await(() -> "idle".equals(state()), "idle");
      assertTrue(mqtt.last(T.error()).get("message").asText().contains(lockFile().toString()));
      assertTrue(power.calls.isEmpty());
      assertFalse(timeline.contains("availability offline"));
      assertTrue(mqtt.connected());
    } finally {
      held.close();
    }
    send("suspend"); // nothing is stuck: the next suspend powers down
    await(() -> power.calls.size() == 1, "power-down");
  }

  /**
   * A {@code run} that the engine refuses with cycle_locked (a cron run holds the lock). Catches:
   * the refused run replacing the retained result, which Home Assistant's Last result and Problem
   * would then show as a failed backup.
   */
  @Test
  void run_refusedWithCycleLocked_leavesTheRetainedResultAlone() throws Exception {
    send("run");
    await(() -> timeline.contains("result success") && "idle".equals(state()), "a result");
    JsonNode before = mqtt.last(T.result());
    CycleLock held = ((CycleLock.Acquired) CycleLock.tryAcquire(lockFile())).lock();
    try {
      lockedOut = true;
      send("run");
      await(() -> timeline.contains("event failed"), "the refused run ended");
    } finally {
      held.close();
    }
    assertEquals(1, errors("cycle_locked"));
    assertEquals(1, mqtt.on(T.result()).size(), "no result for the refused run");
    await(() -> "idle".equals(state()), "idle");
    mqtt.dropAndReconnect();
    await(() -> mqtt.on(T.result()).size() == 2, "result republished");
    assertEquals(before, mqtt.last(T.result()), "the retained result is the earlier one");
    await(() -> new StateStore(dir.resolve("state.json")).load().lastResult().isPresent(), "saved");
    assertEquals(
        before, new StateStore(dir.resolve("state.json")).load().lastResult().orElseThrow());
  }

  // ------------------------------------------------------------------ results, reconnects

  // Catches: a run limited with `datasets` counting as a success of the whole backup, which would
  // turn Problem off and silence "Backup too old" while another dataset still fails.
  @Test
  void result_lastSuccessAt_isKeptByFailuresDryRunsAndLimitedRunsAndSaved() throws Exception {
    send("run");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "first result");
    String success = mqtt.last(T.result()).get("last_success_at").asText();
    engine.outcome = Outcome.PARTIAL;
    send("run");
    await(() -> mqtt.on(T.result()).size() == 2 && "idle".equals(state()), "second result");
    engine.outcome = Outcome.SUCCESS;
    // A later second, so a wrong update would show (the payload's times are to the second).
    Instant successAt = Instant.parse(success);
    await(() -> Instant.now().getEpochSecond() > successAt.getEpochSecond(), "a later second");
    send("{\"command\": \"run\", \"dry_run\": true}");
    await(() -> mqtt.on(T.result()).size() == 3 && "idle".equals(state()), "third result");
    send("{\"command\": \"run\", \"datasets\": [\"src:tank/b\"]}");
    await(() -> mqtt.on(T.result()).size() == 4 && "idle".equals(state()), "fourth result");
    assertEquals("success", mqtt.last(T.result()).get("outcome").asText());
    for (JsonNode r : mqtt.json(T.result())) {
      assertEquals(success, r.get("last_success_at").asText());
    }
    // last_full_outcome: set by the full cycles only; the dry run and the limited run carry the
    // partial one on, so Home Assistant's Problem stays on from the retained result alone.
    assertEquals(
        List.of("success", "partial", "partial", "partial"),
        mqtt.json(T.result()).stream().map(r -> r.get("last_full_outcome").asText()).toList());
    // The dry run's result is not what is kept: the saved one is the last real (limited) cycle.
    JsonNode limited = mqtt.json(T.result()).get(3);
    await(() -> Files.exists(dir.resolve("state.json")), "state file");
    await(
        () ->
            new StateStore(dir.resolve("state.json"))
                .load()
                .lastResult()
                .map(r -> r.get("cycle_id").equals(limited.get("cycle_id")))
                .orElse(false),
        "saved last real");
    assertEquals(
        success,
        new StateStore(dir.resolve("state.json")).load().lastSuccessAt().orElseThrow().toString());

    // A stopped cycle does not change it either, and a restart restores it.
    engine.outcome = Outcome.CANCELLED;
    send("run");
    await(() -> mqtt.on(T.result()).size() == 5 && "idle".equals(state()), "fifth result");
    assertEquals("partial", mqtt.last(T.result()).get("last_full_outcome").asText());
    StateStore store = new StateStore(dir.resolve("state.json"));
    await(
        () ->
            store
                .load()
                .lastResult()
                .map(r -> r.get("outcome").asText().equals("cancelled"))
                .orElse(false),
        "saved");
    restartAgent(() -> {}, store.load());
    engine.outcome = Outcome.SUCCESS;
    send("{\"command\": \"run\", \"datasets\": [\"src:tank/b\"]}");
    // The restored result (republished on connect), then the limited run's.
    await(() -> mqtt.on(T.result()).size() == 2 && "idle".equals(state()), "after the restart");
    assertEquals(
        List.of("partial", "partial"),
        mqtt.json(T.result()).stream().map(r -> r.get("last_full_outcome").asText()).toList());
  }

  // Catches: a cycle cut off by SIGKILL, the OOM killer or a power loss leaving no trace: the
  // started event was never ended, and the restarted agent republished the night before's result
  // as if nothing had happened (Problem off, Last result a success).
  @Test
  void cycleTheAgentDidNotLiveToEnd_reportedOnceAtTheNextStart() throws Exception {
    send("run");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "a first result");
    StateStore store = new StateStore(dir.resolve("state.json"));
    await(() -> store.load().lastResult().isPresent(), "saved");
    assertTrue(store.load().running().isEmpty(), "no cycle in progress once it ended");
    String lastSuccess = mqtt.last(T.result()).get("last_success_at").asText();

    engine.blockStreams();
    send("{\"command\": \"run\", \"run_id\": \"oom-night\"}");
    await(() -> store.load().running().isPresent(), "the cycle in progress saved");
    StateStore.Saved cutOff = store.load(); // what a kill -9 now would leave
    String cycleId = cutOff.running().get().cycleId();
    assertEquals("oom-night", cutOff.running().get().runId());

    // What a kill -9 leaves: the file as it was while the cycle ran (the graceful shutdown of the
    // test's agent ended the cycle and saved over it).
    restartAgent(
        () -> {
          try {
            store.save(
                cutOff.lastSuccessAt().orElseThrow(),
                cutOff.lastResult().orElseThrow(),
                cutOff.running().orElseThrow());
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        },
        cutOff);
    await(() -> errors("cycle_lost") == 1 && !mqtt.on(T.event()).isEmpty(), "reported");
    JsonNode result = mqtt.last(T.result());
    assertEquals(cycleId, result.get("cycle_id").asText());
    assertEquals("oom-night", result.get("run_id").asText());
    assertEquals("failed", result.get("outcome").asText());
    assertEquals(lastSuccess, result.get("last_success_at").asText(), "kept");
    assertEquals("success", result.get("last_full_outcome").asText(), "kept");
    JsonNode event = mqtt.json(T.event()).get(0);
    assertEquals("failed", event.get("event_type").asText());
    assertEquals(cycleId, event.get("cycle_id").asText());
    JsonNode error =
        mqtt.json(T.error()).stream()
            .filter(e -> e.get("kind").asText().equals("cycle_lost"))
            .findFirst()
            .orElseThrow();
    assertEquals(cycleId, error.get("cycle_id").asText());
    assertTrue(error.get("message").asText().contains("did not report its end"), error.toString());
    // Said once: the file no longer has it, and holds the failed result.
    await(
        () ->
            store.load().running().isEmpty()
                && store
                    .load()
                    .lastResult()
                    .map(
                        r ->
                            r.get("cycle_id").asText().equals(cycleId)
                                && r.get("outcome").asText().equals("failed"))
                    .orElse(false),
        "saved without the cycle in progress");
    restartAgent(() -> {}, store.load());
    assertEquals(0, errors("cycle_lost"), "not reported again");
  }

  // Catches: the result and end event published before the state file says the cycle ended: a
  // kill -9 in between (the crash soak hit it 8 times in 10) got the cycle reported twice, once
  // ended and once as cycle_lost at the next start, with last_success_at set back.
  @Test
  void cycleEnd_publishedOnlyOnceTheStateFileIsSaved() throws Exception {
    CountDownLatch saving = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    stores =
        beforeEachSave(
            running -> {
              if (running == null) { // the end's save
                saving.countDown();
                try {
                  release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            });
    restartAgent(() -> {});
    send("run");
    assertTrue(saving.await(10, TimeUnit.SECONDS), "the end's save started");
    Promise<Void> roundTrip = Promise.promise();
    context.runOnContext(v -> roundTrip.complete()); // whatever the end published, it has now
    roundTrip.future().await(10, TimeUnit.SECONDS);
    assertEquals(List.of(), mqtt.on(T.result()), "no result before the save");
    assertEquals(List.of(), mqtt.on(T.event()).stream().skip(1).toList(), "only the start event");
    assertEquals("running", state());
    release.countDown();
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "result, then idle");
    assertTrue(new StateStore(dir.resolve("state.json")).load().running().isEmpty());
  }

  // Catches: a state file that cannot be written failing with a log line only: last_success_at is
  // then lost at the next start (a wake-up), and nobody was told.
  @Test
  void result_stateFileCannotBeSaved_warningOnTheErrorTopic() throws Exception {
    Files.createDirectories(dir.resolve("state.json")); // a directory where the file should be
    send("run");
    await(() -> errors("warning") == 1, "a warning");
    String message = firstMessage("warning");
    assertTrue(message.startsWith("could not save the state file " + dir.resolve("state.json")));
    assertTrue(message.contains("lost when the agent restarts"), message);
    assertTrue(message.contains("the file does not say this cycle ran"), message); // no cycle_lost
    assertEquals("success", mqtt.last(T.result()).get("outcome").asText(), "the backup itself");
  }

  // Catches: the end's save failing after the start's went through, said without the cycle_lost
  // that the restart will then report (the file says the cycle is running).
  @Test
  void result_onlyTheEndsSaveFails_warningSaysTheRestartReportsItLost() throws Exception {
    stores =
        beforeEachSave(
            running -> {
              if (running == null) { // the end's save
                throw new java.io.IOException("No space left on device");
              }
            });
    restartAgent(() -> {});
    send("run");
    await(() -> errors("warning") == 1, "a warning");
    String message = firstMessage("warning");
    assertTrue(message.contains("(No space left on device)"), message);
    assertTrue(message.endsWith("(which then reports this cycle as cycle_lost)"), message);
  }

  // Catches: a dry run replacing the retained result (Home Assistant's Last result, Last success
  // and Problem would show it, and a reconnect would republish it), or a result without dry_run.
  @Test
  void result_dryRun_isMarkedNotRetainedAndLeavesTheRetainedResultAlone() throws Exception {
    send("run");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "real result");
    JsonNode real = mqtt.last(T.result());
    assertFalse(real.get("dry_run").asBoolean());
    send("{\"command\": \"run\", \"dry_run\": true}");
    await(() -> mqtt.on(T.result()).size() == 2 && "idle".equals(state()), "dry-run result");
    FakeMqtt.Published dry = mqtt.on(T.result()).get(1);
    assertTrue(dry.json().get("dry_run").asBoolean());
    assertFalse(
        dry.retained(), "a dry run's result is not retained: the broker keeps the real one");
    assertTrue(mqtt.on(T.result()).get(0).retained());
    // A reconnect republishes the last real result, not the dry run's.
    int before = mqtt.on(T.result()).size();
    mqtt.dropAndReconnect();
    await(() -> mqtt.on(T.result()).size() == before + 1, "result republished");
    assertEquals(real.get("cycle_id"), mqtt.last(T.result()).get("cycle_id"));
    assertTrue(mqtt.on(T.result()).get(before).retained());
  }

  // Catches: a refused press that never reaches Last error (its state topic is T/error), or an
  // error payload the Last error template cannot render.
  @Test
  void lastError_refusedPress_isPublishedOnTheLastErrorEntitysTopic() throws Exception {
    String topic =
        new Discovery("homeassistant", "agent-1", T, "test", Duration.ofHours(36))
            .messages()
            .get("homeassistant/sensor/agent-1/last_error/config")
            .get("state_topic")
            .asText();
    startBlockedCycle();
    send("{\"command\": \"run\", \"then\": \"suspend\"}"); // "Back up and suspend" while running
    await(() -> errors("command_refused") == 1, "refusal");
    JsonNode error = mqtt.json(topic).get(0);
    assertEquals("command_refused", error.get("kind").asText());
    assertTrue(error.get("message").asText().startsWith("run refused"), error.toString());
    assertEquals(engine.requests.get(0).cycleId(), error.get("cycle_id").asText());
    engine.release();
  }

  // Catches: a Running sensor that stays on after the cycle, or never turns on (it reads
  // cycle_id of T/state).
  @Test
  void running_followsTheCycleOnTheStateTopic() throws Exception {
    startBlockedCycle();
    assertFalse(mqtt.last(T.state()).get("cycle_id").isNull(), "running: a cycle id");
    engine.release();
    await(() -> "idle".equals(state()), "idle");
    assertTrue(mqtt.last(T.state()).get("cycle_id").isNull(), "idle: no cycle id");
  }

  // Catches: Cycle progress not reset when a cycle starts (the last cycle's 100 % would show), not
  // published at the start, or not counting the steps of the previous real cycle.
  @Test
  void cycleProgress_resetsAtTheStartOfEachCycle_andCountsTheLastCyclesSteps() throws Exception {
    send("run");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "first cycle");
    List<JsonNode> first = mqtt.json(T.cycleProgress());
    assertTrue(first.get(0).get("percent").isNull(), "no earlier cycle: the total is unknown");
    int before = first.size();
    engine.blockStreams();
    send("run");
    assertTrue(engine.awaitStreaming(10));
    await(() -> mqtt.json(T.cycleProgress()).size() > before + 1, "progress of the second cycle");
    JsonNode start = mqtt.json(T.cycleProgress()).get(before);
    String second = engine.requests.get(1).cycleId();
    assertEquals(second, start.get("cycle_id").asText());
    assertEquals(0.0, start.get("percent").asDouble(), "reset at the start: " + start);
    // The reset comes first, before any dataset of the new cycle reports (status still null).
    FakeMqtt.Published opening =
        mqtt.published.stream()
            .filter(p -> p.topic().equals(T.progress()) || p.topic().equals(T.cycleProgress()))
            .filter(p -> p.json().path("cycle_id").asText().equals(second))
            .findFirst()
            .orElseThrow();
    assertEquals(T.cycleProgress(), opening.topic());
    assertTrue(opening.json().get("status").isNull(), opening.payload());
    assertEquals(2, start.get("datasets_expected").asInt(), "the first cycle had two steps");
    engine.release();
    await(() -> "idle".equals(state()), "idle");
    JsonNode end = mqtt.last(T.cycleProgress());
    assertEquals(100.0, end.get("percent").asDouble(), end.toString());
    assertEquals("tank/b", end.get("dataset").asText());
    // Published after the state says running, so Home Assistant has it available.
    assertSubsequence(
        List.of("event success", "state running", "cycle_progress", "progress started"));
  }

  // Catches: a restart taking a saved limited run's result as the size of the next full cycle.
  @Test
  void cycleProgress_afterARestart_aSavedLimitedResultSetsNoSize() throws Exception {
    send("{\"command\": \"run\", \"datasets\": [\"src:tank/b\"]}");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "limited run");
    assertTrue(mqtt.last(T.result()).get("limited").asBoolean());
    assertTheFullCycleAfterARestartExpectsNoSize();
  }

  // Catches: a cycle stopped by cancel, suspend or a signal (a part of the steps) taken as the size
  // of the next full cycle after a restart, which then showed 100 % at the end of its pull phase.
  @Test
  void cycleProgress_afterARestart_aSavedStoppedCycleSetsNoSize() throws Exception {
    engine.outcome = Outcome.CANCELLED;
    send("run");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "stopped cycle");
    assertEquals("cancelled", mqtt.last(T.result()).get("outcome").asText());
    engine.outcome = Outcome.SUCCESS;
    assertTheFullCycleAfterARestartExpectsNoSize();
  }

  // Catches: a stopped cycle's part of the steps taken as the size of the next full cycle, which
  // then showed 100 % with steps still to do.
  @Test
  void cycleProgress_aStoppedCycleDoesNotSetTheNextCyclesSize() throws Exception {
    send("run");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "full cycle");
    assertEquals(2, mqtt.last(T.result()).get("datasets").get("total").asInt());
    engine.blockStreams();
    engine.stopOmitsTheRest = true;
    send("run");
    assertTrue(engine.awaitStreaming(10));
    send("cancel");
    await(() -> "cancelling".equals(state()), "cancelling");
    engine.release();
    await(() -> mqtt.on(T.result()).size() == 2 && "idle".equals(state()), "stopped cycle");
    assertEquals(1, mqtt.last(T.result()).get("datasets").get("total").asInt());
    engine.stopOmitsTheRest = false;
    send("run");
    await(() -> mqtt.on(T.result()).size() == 3 && "idle".equals(state()), "next full cycle");
    JsonNode start = firstCycleProgress(2);
    assertEquals(2, start.get("datasets_expected").asInt(), start.toString());
  }

  /** The first {@code T/cycle_progress} of the agent's {@code n}th cycle (from 0). */
  JsonNode firstCycleProgress(int n) {
    String id = engine.requests.get(n).cycleId();
    return mqtt.json(T.cycleProgress()).stream()
        .filter(p -> p.get("cycle_id").asText().equals(id))
        .findFirst()
        .orElseThrow();
  }

  /** Restarts the agent from the saved state; its first full cycle starts with no step count. */
  void assertTheFullCycleAfterARestartExpectsNoSize() throws Exception {
    StateStore store = new StateStore(dir.resolve("state.json"));
    await(() -> store.load().lastResult().isPresent(), "saved");
    restartAgent(() -> {}, store.load());
    send("run");
    await(() -> mqtt.on(T.result()).size() == 2 && "idle".equals(state()), "full run");
    assertFalse(mqtt.last(T.result()).get("limited").asBoolean());
    JsonNode start = firstCycleProgress(1);
    assertTrue(start.get("datasets_expected").isNull(), start.toString());
  }

  // Catches: a run limited with `datasets` taken as the size of a cycle: it would end at 50 %
  // (expecting the full cycle's steps), and the next full cycle would show 100 % half-way.
  @Test
  void cycleProgress_limitedRun_expectsNothingAndDoesNotSetTheNextCyclesSize() throws Exception {
    send("run");
    await(() -> mqtt.on(T.result()).size() == 1 && "idle".equals(state()), "full cycle");
    int full = mqtt.last(T.result()).get("datasets").get("total").asInt();
    send("{\"command\": \"run\", \"datasets\": [\"src:tank/b\"]}");
    await(() -> mqtt.on(T.result()).size() == 2 && "idle".equals(state()), "limited run");
    String limited = engine.requests.get(1).cycleId();
    List<JsonNode> its =
        mqtt.json(T.cycleProgress()).stream()
            .filter(p -> p.get("cycle_id").asText().equals(limited))
            .toList();
    assertTrue(its.get(0).get("datasets_expected").isNull(), its.get(0).toString());
    send("run");
    await(() -> mqtt.on(T.result()).size() == 3 && "idle".equals(state()), "next full cycle");
    JsonNode start = firstCycleProgress(2);
    assertEquals(full, start.get("datasets_expected").asInt(), "the last full cycle's steps");
  }

  @Test
  void start_withSavedResult_republishesItOnConnect() {
    JsonNode saved =
        Payloads.JSON
            .createObjectNode()
            .put("cycle_id", "old")
            .put("outcome", "success")
            .put("last_success_at", "2026-11-01T02:00:00Z");
    FakeMqtt second = new FakeMqtt(context, T, timeline);
    mqtt = second;
    newAgent(
        new StateStore.Saved(
            Optional.of(java.time.Instant.parse("2026-11-01T02:00:00Z")),
            Optional.of((com.fasterxml.jackson.databind.node.ObjectNode) saved),
            Optional.empty()));
    await(() -> !second.on(T.result()).isEmpty(), "result republished");
    assertEquals(saved, second.last(T.result()));
    assertTrue(second.on(T.result()).get(0).retained());
  }

  /** A saved result of a successful cycle that ended at {@code at}. */
  static com.fasterxml.jackson.databind.node.ObjectNode savedSuccess(Instant at) {
    return Payloads.JSON
        .createObjectNode()
        .put("cycle_id", "old")
        .put("outcome", "success")
        .put("last_success_at", Payloads.time(at))
        .put("dry_run", false);
  }

  /** An agent restored from {@code saved}, whose Home Assistant calls a success stale after 1 h. */
  Agent staleAfterAnHour(Instant lastSuccess, JsonNode saved, Clock clock) {
    return newAgent(
        new StateStore.Saved(
            Optional.of(lastSuccess),
            Optional.of((com.fasterxml.jackson.databind.node.ObjectNode) saved),
            Optional.empty()),
        new Discovery("homeassistant", "agent-1", T, "test", Duration.ofHours(1)),
        clock);
  }

  // Catches: Problem never turning on by age while the agent is up and idle (Home Assistant
  // evaluates the template only when a result arrives), or a republish of something else.
  @Test
  void staleness_lastSuccessTurnsStaleWhileOnline_republishesTheRetainedResult() throws Exception {
    Instant lastSuccess = Instant.now().minus(Duration.ofHours(1)).plusSeconds(2);
    JsonNode saved = savedSuccess(lastSuccess);
    FakeMqtt second = new FakeMqtt(context, T, timeline);
    mqtt = second;
    Agent stale = staleAfterAnHour(lastSuccess, saved, Clock.systemUTC());
    await(() -> second.on(T.result()).size() == 1, "result published on connect");
    long start = System.nanoTime();
    await(
        () -> second.on(T.result()).size() == 2,
        "result republished when the success turned stale");
    assertTrue(
        System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(500), "not before it is stale");
    assertEquals(saved, second.last(T.result()));
    assertTrue(second.on(T.result()).get(1).retained());
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> stale.shutdown().onComplete(done));
    done.future().await(10, TimeUnit.SECONDS);
  }

  // Catches: the staleness republish waiting on a timer, which counts only the time the machine is
  // awake: after a suspend it fired late by the whole sleep. Here the wall clock jumps as it does
  // over a sleep, and the republish follows within a look of the clock.
  @Test
  void staleness_wallClockJumpsAsOverASleep_republishesWithoutWaitingOutTheTimer()
      throws Exception {
    long before = CycleReporting.stalenessLookMs;
    CycleReporting.stalenessLookMs = 200;
    try {
      java.util.concurrent.atomic.AtomicReference<Duration> slept =
          new java.util.concurrent.atomic.AtomicReference<>(Duration.ZERO);
      Clock jumping =
          new Clock() {
            @Override
            public java.time.ZoneId getZone() {
              return java.time.ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
              return this;
            }

            @Override
            public Instant instant() {
              return Instant.now().plus(slept.get());
            }
          };
      Instant lastSuccess = Instant.now().minus(Duration.ofHours(1)).plusSeconds(600);
      FakeMqtt second = new FakeMqtt(context, T, timeline);
      mqtt = second;
      Agent stale = staleAfterAnHour(lastSuccess, savedSuccess(lastSuccess), jumping);
      await(() -> second.on(T.result()).size() == 1, "result published on connect");
      Thread.sleep(500);
      assertEquals(1, second.on(T.result()).size(), "not stale for ten more minutes");
      slept.set(Duration.ofMinutes(11)); // the machine slept; its timers did not move
      await(() -> second.on(T.result()).size() == 2, "republished once the clock says stale");
      Promise<Void> done = Promise.promise();
      context.runOnContext(v -> stale.shutdown().onComplete(done));
      done.future().await(10, TimeUnit.SECONDS);
    } finally {
      CycleReporting.stalenessLookMs = before;
    }
  }

  @Test
  void connected_afterBrokerRestart_republishesAvailabilityStateResultAndDiscovery()
      throws Exception {
    send("run");
    await(() -> "idle".equals(state()) && !mqtt.on(T.result()).isEmpty(), "a result");
    engine.blockStreams();
    send("run");
    assertTrue(engine.awaitStreaming(10));
    int before = mqtt.published.size();
    mqtt.dropAndReconnect();
    await(() -> mqtt.published.size() >= before + 3 + ENTITIES, "republished");
    List<String> after =
        since(before).stream()
            .map(p -> mqtt.summary(p.topic(), p.payload()))
            .filter(s -> !s.startsWith("progress"))
            .toList();
    // State and result first: whoever sees online finds them current.
    assertEquals("state running", after.get(0));
    assertEquals("result success", after.get(1));
    assertEquals("availability online", after.get(2));
    assertEquals(ENTITIES, after.stream().filter("discovery"::equals).count());
    assertTrue(
        since(before).stream()
            .filter(p -> !p.topic().startsWith(T.base() + "/progress"))
            .allMatch(FakeMqtt.Published::retained));
  }

  @Test
  void brokerOutage_cycleFailsMeanwhile_errorsAndEndEventArePublishedAfterReconnect()
      throws Exception {
    engine.outcome = Outcome.FAILED;
    engine.blockStreams();
    send("run");
    assertTrue(engine.awaitStreaming(10));
    mqtt.drop();
    await(() -> timeline.contains("lost"), "connection lost");
    engine.release();
    await(() -> timeline.contains("dropped event failed"), "the cycle ended during the outage");
    assertEquals(0, errors("diverged"), "nothing reached the broker yet");
    mqtt.reconnect();
    await(
        () ->
            errors("diverged") == 1
                && mqtt.json(T.event()).stream()
                    .anyMatch(e -> e.get("event_type").asText().equals("failed"))
                && count("availability online") == 2,
        "the error and the end event, then online, after the reconnect");
    assertSubsequence(
        List.of(
            "dropped error diverged",
            "dropped event failed",
            "connect",
            "state idle",
            "result failed",
            "error diverged",
            "event failed",
            "availability online"));
  }

  /**
   * The broker restarts as a {@code then: suspend} cycle ends (a Mosquitto update at night): the
   * power-down waits for it, reconnecting at once, and publishes the state, the night's result and
   * what was kept (not {@code online}) before going offline. Catches a machine that went down with
   * the result unpublished (Home Assistant showed the previous night all day) and the errors of the
   * night only in memory (lost with a poweroff).
   */
  @Test
  void runThenSuspend_brokerAwayAsTheCycleEnds_powerDownWaitsAndPublishesTheResultFirst()
      throws Exception {
    engine.outcome = Outcome.FAILED;
    engine.blockStreams();
    send("{\"command\": \"run\", \"then\": \"suspend\"}");
    assertTrue(engine.awaitStreaming(10));
    mqtt.drop();
    await(() -> timeline.contains("lost"), "connection lost");
    engine.release();
    await(() -> timeline.contains("reconnect now"), "the power-down waits for the broker");
    // It waits, asking for a connect attempt every 2 s (Paho's own attempts back off to 16 s and
    // more over an outage, which would miss a broker back within the wait).
    await(() -> count("reconnect now") >= 2, "a second connect attempt asked for");
    assertEquals(0, power.calls.size());
    assertFalse(timeline.contains("availability offline"), timeline.toString());

    mqtt.reconnect();
    await(() -> power.calls.size() == 1, "power-down");
    assertSubsequence(
        List.of(
            "dropped error diverged",
            "dropped result failed",
            "dropped event failed",
            "reconnect now",
            "connect",
            "state suspending",
            "result failed",
            "error diverged",
            "event failed",
            "availability offline",
            "disconnect",
            "power"));
    List<String> all = List.copyOf(timeline);
    List<String> back = all.subList(all.indexOf("reconnect now"), all.indexOf("power"));
    assertFalse(back.contains("availability online"), "not online on the way down: " + back);
  }

  /** The broker stays away: the power-down waits only so long, then goes on. */
  @Test
  void suspend_brokerAwayForGood_powerDownGoesOnAfterTheWait() throws Exception {
    brokerWait = Duration.ofMillis(400);
    context.runOnContext(v -> agent.shutdown());
    await(() -> timeline.contains("close"), "the first agent stopped");
    mqtt = new FakeMqtt(context, T, timeline);
    agent = newAgent(StateStore.Saved.NONE);
    await(() -> "idle".equals(state()) && mqtt.connected(), "agent online and idle");
    mqtt.drop();
    await(() -> timeline.contains("lost"), "connection lost");
    send("suspend"); // as a retained command would arrive; here handed over directly
    await(() -> power.calls.size() == 1, "power-down after the wait");
    assertSubsequence(List.of("lost", "reconnect now", "disconnect", "power"));
  }

  /**
   * A SIGTERM while the power-down waits for the broker: none of the power-down runs (no power
   * command, no disconnect of its own); the shutdown goes offline and closes as any other.
   */
  @Test
  void shutdown_whileThePowerDownWaitsForTheBroker_runsNoneOfIt() throws Exception {
    mqtt.drop();
    await(() -> timeline.contains("lost"), "connection lost");
    send("suspend");
    await(() -> timeline.contains("reconnect now"), "the power-down waits for the broker");
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> agent.shutdown().onComplete(done));
    done.future().await(10, TimeUnit.SECONDS);
    List<String> all = List.copyOf(timeline);
    List<String> after = all.subList(all.indexOf("reconnect now"), all.size());
    assertEquals(0, power.calls.size());
    assertFalse(after.contains("disconnect"), after.toString());
    assertTrue(after.contains("close"), after.toString());
  }

  /**
   * Stopping for good (SIGTERM, a poweroff) with an error kept from an outage and the broker still
   * away: the loss is logged, with the count, never dropped in silence.
   */
  @Test
  void shutdown_brokerAwayWithKeptErrors_saysTheyAreLost() throws Exception {
    mqtt.drop();
    await(() -> timeline.contains("lost"), "connection lost");
    send("reboot");
    await(() -> timeline.contains("dropped error command_unknown_command"), "kept");
    List<String> warnings;
    try (LogCapture logged = LogCapture.of(Agent.class)) {
      Promise<Void> done = Promise.promise();
      context.runOnContext(v -> agent.shutdown().onComplete(done));
      done.future().await(10, TimeUnit.SECONDS);
      warnings = logged.messages(ch.qos.logback.classic.Level.WARN);
    }
    assertTrue(
        warnings.stream()
            .anyMatch(m -> m.startsWith("stopping with 1 error/event message(s) kept")),
        warnings.toString());
  }

  @Test
  void brokerOutage_longerThanTheOutboxHolds_keepsTheNewest() {
    mqtt.drop();
    await(() -> timeline.contains("lost"), "connection lost");
    for (int i = 0; i < Outbox.LIMIT + 5; i++) {
      send("reboot-" + i);
    }
    await(
        () ->
            List.copyOf(timeline).stream().filter(t -> t.startsWith("dropped error")).count()
                == Outbox.LIMIT + 5,
        "all refused");
    mqtt.reconnect();
    await(() -> mqtt.on(T.error()).size() == Outbox.LIMIT, "the kept errors");
    assertTrue(
        mqtt.json(T.error()).get(0).get("message").asText().contains("reboot-5"),
        mqtt.json(T.error()).get(0).toString());
    assertTrue(
        mqtt.last(T.error()).get("message").asText().contains("reboot-" + (Outbox.LIMIT + 4)));
  }

  @Test
  void message_homeAssistantOnline_republishesDiscovery() {
    int discovery = discoveryCount();
    assertEquals(ENTITIES, discovery);
    deliverOn("homeassistant/status", "online");
    await(() -> discoveryCount() == 2 * ENTITIES, "discovery republished");
    deliverOn("homeassistant/status", "offline");
    int states = mqtt.on(T.state()).size();
    send("status"); // handled after the status message: the same context, in order
    await(() -> mqtt.on(T.state()).size() == states + 1, "status handled");
    assertEquals(2 * ENTITIES, discoveryCount());
  }

  @Test
  void shutdown_whileRunning_interruptsReportsThenGoesOffline() throws Exception {
    startBlockedCycle();
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> agent.shutdown().onComplete(done));
    done.future().await(10, TimeUnit.SECONDS);
    assertTrue(engine.lastControl().forced());
    assertEquals(StopReason.INTERRUPT, engine.lastControl().stopReason());
    assertSubsequence(List.of("result interrupted", "availability offline", "close"));
    assertFalse(timeline.contains("power"));
  }

  @Test
  void shutdown_whilePoweredDown_doesNotReconnectWhenThePowerReturns() throws Exception {
    power.sleepUntilWoken();
    power.exitCode = 1; // so the return shows on the timeline: an error it cannot publish
    send("suspend");
    assertTrue(power.awaitCalled(10));
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> agent.shutdown().onComplete(done));
    done.future().await(10, TimeUnit.SECONDS);
    power.wake();
    await(() -> timeline.contains("dropped error power_failed"), "the power command returned");
    int states = mqtt.on(T.state()).size();
    context.runOnContext(v -> agent.connected(mqtt.connection())); // a late reconnect callback
    Promise<Void> handled = Promise.promise();
    context.runOnContext(v -> handled.complete());
    handled.future().await(10, TimeUnit.SECONDS);
    assertEquals(1, count("connect"), "no reconnect after the shutdown");
    assertEquals(states, mqtt.on(T.state()).size(), "nothing published after the shutdown");
    assertEquals(1, count("availability offline"), "offline once, by the power-down");
    assertSubsequence(List.of("availability offline", "disconnect", "power", "close"));
  }

  // ------------------------------------------------------------------ helpers

  /** Stops the agent, changes its settings, starts a fresh one on a fresh fake connection. */
  void restartAgent(Runnable change) throws Exception {
    restartAgent(change, StateStore.Saved.NONE);
  }

  void restartAgent(Runnable change, StateStore.Saved saved) throws Exception {
    Promise<Void> done = Promise.promise();
    context.runOnContext(v -> agent.shutdown().onComplete(done));
    done.future().await(10, TimeUnit.SECONDS);
    change.run();
    timeline.clear();
    mqtt = new FakeMqtt(context, T, timeline);
    agent = newAgent(saved);
    await(() -> "idle".equals(state()) && discoveryCount() == ENTITIES, "agent online and idle");
  }

  /** The real engine on this test's state file: with the cycle lock held, it runs nothing. */
  org.zfsbackup.cycle.CycleRunner realEngine() {
    org.zfsbackup.config.AgentConfig config =
        TestConfigs.config(
            "tcp://127.0.0.1:1", "agent-1", T.base(), dir.resolve("state.json"), POWER);
    org.zfsbackup.exec.ProcessRunner nothing =
        new org.zfsbackup.exec.ProcessRunner() {
          @Override
          public org.zfsbackup.exec.ProcessResult run(List<String> argv, Duration timeout) {
            throw new AssertionError("a locked-out cycle ran " + argv);
          }

          @Override
          public org.zfsbackup.exec.PipeResult pipe(
              List<String> send,
              List<String> receive,
              ByteProgress p,
              Duration stall,
              KillSwitch k) {
            throw new AssertionError("a locked-out cycle streamed");
          }
        };
    return new org.zfsbackup.cycle.BackupCycle(config, nothing, Clock.systemUTC());
  }

  /** What runs before each save of the state stores {@link #beforeEachSave} makes. */
  interface SaveHook {
    void run(StateStore.Running running) throws java.io.IOException;
  }

  /** State stores that run {@code hook} before each save ({@code running} null: a cycle's end). */
  static java.util.function.Function<Path, StateStore> beforeEachSave(SaveHook hook) {
    return file ->
        new StateStore(file) {
          @Override
          void save(
              Instant at, com.fasterxml.jackson.databind.node.ObjectNode result, Running running)
              throws java.io.IOException {
            hook.run(running);
            super.save(at, result, running);
          }
        };
  }

  Path lockFile() {
    return CycleLock.fileFor(dir.resolve("state.json"));
  }

  void startBlockedCycle() throws InterruptedException {
    engine.blockStreams();
    send("run");
    assertTrue(engine.awaitStreaming(10), "cycle streaming");
    await(() -> "running".equals(state()), "running");
  }

  void startSuspendingCycle() throws InterruptedException {
    startBlockedCycle();
    send("suspend");
    await(() -> "suspending".equals(state()), "suspending");
  }

  /**
   * Reconnected once and idle, with everything of the reconnect published up to {@code online} (the
   * state comes first, the kept messages and {@code online} after it).
   */
  void awaitBackOnline(String what) {
    await(
        () -> {
          List<String> t = List.copyOf(timeline);
          int c = t.lastIndexOf("connect");
          return mqtt.connection() == 2
              && "idle".equals(state())
              && c >= 0
              && t.subList(c, t.size()).contains("availability online");
        },
        what);
  }

  void send(String payload) {
    deliver(payload, mqtt.connection());
  }

  void deliver(String payload, long connection) {
    deliver(payload, connection, false);
  }

  void deliver(String payload, long connection, boolean retained) {
    byte[] bytes = payload.getBytes(StandardCharsets.UTF_8);
    context.runOnContext(v -> agent.message(T.command(), bytes, retained, connection));
  }

  void deliverOn(String topic, String payload) {
    byte[] bytes = payload.getBytes(StandardCharsets.UTF_8);
    long n = mqtt.connection();
    context.runOnContext(v -> agent.message(topic, bytes, false, n));
  }

  long count(String entry) {
    return List.copyOf(timeline).stream().filter(entry::equals).count();
  }

  /** Waits until {@code entry} is on the timeline after the first {@code first}. */
  void awaitAfter(String first, String entry) {
    await(
        () -> {
          List<String> t = List.copyOf(timeline);
          int i = t.indexOf(first);
          return i >= 0 && t.subList(i + 1, t.size()).contains(entry);
        },
        entry + " after " + first);
  }

  String state() {
    JsonNode s = mqtt.last(T.state());
    return s == null ? null : s.get("state").asText();
  }

  /** The message of the first error of {@code kind} published. */
  String firstMessage(String kind) {
    return mqtt.json(T.error()).stream()
        .filter(e -> e.get("kind").asText().equals(kind))
        .findFirst()
        .orElseThrow()
        .get("message")
        .asText();
  }

  long errors(String kind) {
    return mqtt.json(T.error()).stream().filter(e -> e.get("kind").asText().equals(kind)).count();
  }

  int discoveryCount() {
    return (int)
        mqtt.published.stream().filter(p -> p.topic().startsWith("homeassistant/")).count();
  }

  /** {@code expected} appears in the timeline in this order (other entries may come between). */
  void assertSubsequence(List<String> expected) {
    List<String> actual;
    synchronized (timeline) {
      actual = new ArrayList<>(timeline);
    }
    int i = 0;
    for (String entry : actual) {
      if (i < expected.size() && entry.equals(expected.get(i))) {
        i++;
      }
    }
    assertEquals(
        expected.size(),
        i,
        "expected in order "
            + expected
            + "\nmissing from "
            + expected.get(Math.min(i, expected.size() - 1))
            + "\ntimeline "
            + actual);
  }

  static void await(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  /**
   * What was published from index {@code from} on, as one snapshot: the list is a
   * CopyOnWriteArrayList, whose subList throws once a publish (a progress update) lands after it.
   */
  private List<FakeMqtt.Published> since(int from) {
    List<FakeMqtt.Published> all = List.copyOf(mqtt.published);
    return all.subList(from, all.size());
  }
}
