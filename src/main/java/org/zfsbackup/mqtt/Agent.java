package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.WorkerExecutor;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.command.AgentCommand;
import org.zfsbackup.command.CommandParser;
import org.zfsbackup.command.ParseResult;
import org.zfsbackup.cycle.CycleControl;
import org.zfsbackup.cycle.CycleControl.StopReason;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleRequest;
import org.zfsbackup.cycle.CycleRunner;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.exec.ProcessResult;

/**
 * The agent: takes commands from {@code T}, drives the {@link AgentState} machine, runs cycles and
 * the power command on a worker executor, and publishes everything of contract §4.
 *
 * <p>Threading: every method runs on one Vert.x context ({@link #context}); the engine's events and
 * results, Paho's callbacks and the worker's results are handed to it with {@code runOnContext}. So
 * the state needs no locks, and two commands can never start two cycles.
 */
final class Agent implements MqttPort.Listener {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);
  private static final DateTimeFormatter CYCLE_ID =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  /**
   * @param powerCommand     argv run after a suspend; empty = go offline and come straight back
   * @param progressInterval at most one {@code streaming} progress per dataset step this often
   * @param shutdownGrace    how long a shutdown waits for a force-stopped cycle to report
   */
  record Settings(
      Topics topics,
      List<String> powerCommand,
      Optional<Discovery> discovery,
      Duration progressInterval,
      Duration shutdownGrace) {
    Settings {
      powerCommand = List.copyOf(powerCommand);
    }
  }

  /** One cycle from its start to its report. */
  private static final class Cycle {
    final String id;
    final String runId;
    final CycleRequest request;
    final CycleControl control = new CycleControl();
    final Instant startedAt;
    final Promise<Void> ended = Promise.promise();
    boolean suspendAfter;

    Cycle(CycleRequest request, Instant startedAt, boolean suspendAfter) {
      this.id = request.cycleId();
      this.runId = request.runId();
      this.request = request;
      this.startedAt = startedAt;
      this.suspendAfter = suspendAfter;
    }
  }

  private final Context context;
  private final WorkerExecutor workers;
  private final MqttPort mqtt;
  private final CycleRunner runner;
  private final PowerSwitch power;
  private final CommandParser parser;
  private final StateStore store;
  private final Clock clock;
  private final Settings settings;
  private final Topics topics;
  private final ProgressThrottle throttle;

  private AgentState state = AgentState.IDLE;
  private Instant since;
  private Cycle cycle;
  private Phase phase;
  private ObjectNode lastResult;
  private Instant lastSuccessAt;
  /** Messages that arrived on an earlier connection (before a power-down) are dropped. */
  private long firstLiveConnection;
  private boolean poweringDown;
  private boolean stopping;
  private Future<Void> shutdown;
  private Future<Void> lastSave = Future.succeededFuture();
  /**
   * Errors and events that could not be published because the broker was unreachable (an outage,
   * or the power-down itself), in order; sent after the next connect's republish, so a failure
   * that happened while the broker was away is still seen. Bounded: the oldest go first. Progress
   * is not kept (it is stale by then), retained topics are republished whole on connect anyway.
   */
  private final Deque<String[]> outbox = new ArrayDeque<>();
  static final int OUTBOX_LIMIT = 200;
  private long outboxDropped;

  Agent(
      Context context,
      WorkerExecutor workers,
      MqttPort mqtt,
      CycleRunner runner,
      PowerSwitch power,
      CommandParser parser,
      StateStore store,
      Clock clock,
      Settings settings) {
    this.context = context;
    this.workers = workers;
    this.mqtt = mqtt;
    this.runner = runner;
    this.power = power;
    this.parser = parser;
    this.store = store;
    this.clock = clock;
    this.settings = settings;
    this.topics = settings.topics();
    this.throttle = new ProgressThrottle(settings.progressInterval().toMillis());
  }

  /** Restores what survived the last run, then connects (forever, with backoff). On the context. */
  void start(StateStore.Saved saved) {
    lastSuccessAt = saved.lastSuccessAt().orElse(null);
    lastResult = saved.lastResult().orElse(null);
    if (lastSuccessAt != null) {
      log.info("last successful backup finished at {}", Payloads.time(lastSuccessAt));
    }
    since = clock.instant();
    mqtt.connect(this);
  }

  // ---------------------------------------------------------------- connection

  @Override
  public void connected(long connection) {
    if (stopping || poweringDown) {
      return;
    }
    publish(topics.availability(), "online", true);
    publishState();
    if (lastResult != null) {
      publish(topics.result(), Payloads.text(lastResult), true);
    }
    publishDiscovery();
    flushOutbox();
    log.info(
        "online on {}: state {}{}",
        topics.command(),
        state.wire(),
        settings.discovery().isPresent() ? ", Home Assistant discovery published" : "");
  }

  @Override
  public void lost(String reason) {
    // PahoConnection logged it and reconnects; connected() republishes everything.
  }

  @Override
  public void message(String topic, byte[] payload, boolean retained, long connection) {
    try {
      Optional<Discovery> discovery = settings.discovery();
      if (discovery.isPresent() && topic.equals(discovery.get().statusTopic())) {
        // A retained birth message comes with every subscribe; connected() publishes then anyway.
        if (!retained && new String(payload, StandardCharsets.UTF_8).strip().equals("online")) {
          log.info("Home Assistant came online: republishing discovery");
          publishDiscovery();
        }
        return;
      }
      if (!topic.equals(topics.command())) {
        return;
      }
      if (connection < firstLiveConnection) {
        log.info("ignored a command received before the power-down");
        return;
      }
      if (poweringDown || stopping) {
        log.info("ignored a command: {}", stopping ? "the agent is shutting down" : "powering down");
        return;
      }
      if (payload.length == 0) {
        // How a retained message is cleared (mosquitto_pub -r -n): not a command, not an error.
        log.info("ignored an empty message on {}", topic);
        return;
      }
      ParseResult parsed = parser.parse(payload, retained, clock.instant());
      if (parsed instanceof ParseResult.Rejection rejection) {
        log.warn("rejected a command on {}: {}", topic, rejection.message());
        publishError(rejection.reason().kind(), rejection.message());
      } else if (parsed instanceof ParseResult.Accepted accepted) {
        handle(accepted.command());
      }
    } catch (RuntimeException e) {
      log.error("handling a message on {} failed", topic, e);
      publishError("internal", "handling a command failed: " + e);
    }
  }

  // ---------------------------------------------------------------- commands

  /** What each command does in each state; the table in docs/mqtt.md says the same. */
  void handle(AgentCommand command) {
    log.info("command {} received (state {})", describe(command), state.wire());
    if (command instanceof AgentCommand.Run run) {
      if (state == AgentState.IDLE) {
        startCycle(run);
      } else {
        refuse(
            "run",
            (cycle == null ? "the agent" : "cycle " + cycle.id) + " is " + state.wire()
                + "; a new run starts only when idle");
      }
    } else if (command instanceof AgentCommand.Suspend suspend) {
      suspend(suspend.force());
    } else if (command instanceof AgentCommand.Cancel cancel) {
      cancel(cancel.force());
    } else if (command instanceof AgentCommand.Status) {
      publishState();
    }
  }

  private void suspend(boolean force) {
    switch (state) {
      case IDLE -> {
        enter(AgentState.SUSPENDING);
        powerDown();
      }
      case RUNNING, CANCELLING -> {
        log.info(
            "cycle {}: {}; power-down when it ends",
            cycle.id,
            force ? "killing the streams in flight" : "starting no new dataset, letting the streams in flight finish");
        cycle.suspendAfter = true;
        cycle.control.stop(StopReason.SUSPEND, force);
        enter(AgentState.SUSPENDING);
      }
      case SUSPENDING -> {
        if (force && cycle != null) {
          log.info("cycle {}: suspend forced, killing the streams in flight", cycle.id);
          cycle.control.stop(StopReason.SUSPEND, true);
        } else {
          log.info("already suspending");
        }
        publishState();
      }
    }
  }

  private void cancel(boolean force) {
    switch (state) {
      case IDLE -> {
        log.info("nothing to cancel: idle");
        publishState();
      }
      case RUNNING -> {
        log.info(
            "cycle {}: cancelling; {}",
            cycle.id,
            force ? "killing the streams in flight" : "starting no new dataset, letting the streams in flight finish");
        cycle.control.stop(StopReason.CANCEL, force);
        enter(AgentState.CANCELLING);
      }
      case CANCELLING -> {
        if (force) {
          log.info("cycle {}: cancel forced, killing the streams in flight", cycle.id);
          cycle.control.stop(StopReason.CANCEL, true);
        } else {
          log.info("already cancelling");
        }
        publishState();
      }
      case SUSPENDING -> refuse("cancel", "a suspend is in progress and cannot be cancelled");
    }
  }

  private void refuse(String what, String why) {
    log.warn("refused {}: {}", what, why);
    publishError("command_refused", what + " refused: " + why);
  }

  // ---------------------------------------------------------------- cycles

  private void startCycle(AgentCommand.Run run) {
    Instant now = clock.instant();
    String id = CYCLE_ID.format(now) + "-" + String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
    Cycle c = new Cycle(new CycleRequest(id, run.runId(), run.datasets(), run.dryRun()), now, run.thenSuspend());
    cycle = c;
    phase = null;
    throttle.reset();
    enter(AgentState.RUNNING);
    publish(topics.event(), Payloads.text(Payloads.event("started", id, run.runId())), false);
    log.info("cycle {} started{}", id, runDetails(run));
    EventSink sink = event -> context.runOnContext(v -> engineEvent(c, event));
    workers
        .executeBlocking(() -> runner.run(c.request, sink, c.control), false)
        .onComplete(ar -> context.runOnContext(v -> cycleEnded(c, ar)));
  }

  private void engineEvent(Cycle c, CycleEvent event) {
    if (c != cycle) {
      log.debug("dropped a late event of cycle {}: {}", c.id, event);
      return;
    }
    if (event instanceof CycleEvent.PhaseStarted p) {
      phase = p.phase();
      log.info("cycle {}: {} phase started", c.id, p.phase().wire());
      publishState();
    } else if (event instanceof CycleEvent.Progress p) {
      logProgress(c, p);
      if (throttle.admit(p, System.nanoTime() / 1_000_000)) {
        publish(topics.progress(), Payloads.text(Payloads.progress(p)), false);
      }
    } else if (event instanceof CycleEvent.Error e) {
      log.warn(
          "cycle {}: {}{}: {}",
          c.id,
          e.kind(),
          e.dataset() == null ? "" : " on " + e.source() + ":" + e.dataset(),
          e.message());
      publish(topics.error(), Payloads.text(Payloads.error(e)), false);
    }
    // CycleStarted: announced when the agent launched the cycle. CycleFinished: the agent uses the
    // report the runner returns, so a cycle that crashes still gets a result.
  }

  private void cycleEnded(Cycle c, AsyncResult<CycleReport> ar) {
    CycleReport report = ar.succeeded() ? ar.result() : null;
    if (report == null) {
      Throwable t = ar.failed() ? ar.cause() : new IllegalStateException("the engine returned no report");
      log.error("cycle {} failed unexpectedly: {}", c.id, t.toString(), t);
      publishError("internal", "the backup cycle failed unexpectedly: " + t);
      report = new CycleReport(c.id, c.runId, Outcome.FAILED, c.startedAt, clock.instant(), List.of(), List.of(t.toString()));
    }
    if (report.outcome() == Outcome.SUCCESS && !c.request.dryRun()) {
      lastSuccessAt = report.finishedAt();
    }
    lastResult = Payloads.result(report, lastSuccessAt);
    save(lastSuccessAt, lastResult.deepCopy());
    publish(topics.result(), Payloads.text(lastResult), true);
    publish(topics.event(), Payloads.text(Payloads.event(report.outcome().wire(), c.id, c.runId)), false);
    log.info(
        "cycle {} finished: {}{} ({} sent, {} up to date, {} skipped, {} failed; {} bytes) in {} s",
        c.id,
        report.outcome().wire(),
        c.request.dryRun() ? " (dry run)" : "",
        report.count(CycleReport.Status.SENT),
        report.count(CycleReport.Status.UP_TO_DATE),
        report.count(CycleReport.Status.SKIPPED),
        report.count(CycleReport.Status.FAILED),
        report.bytes(),
        report.duration().toSeconds());
    cycle = null;
    phase = null;
    throttle.reset();
    c.ended.tryComplete();
    if (stopping) {
      return;
    }
    if (state == AgentState.SUSPENDING || c.suspendAfter) {
      enter(AgentState.SUSPENDING);
      powerDown();
    } else {
      enter(AgentState.IDLE);
    }
  }

  private void save(Instant at, ObjectNode result) {
    lastSave =
        workers
            .<Void>executeBlocking(
                () -> {
                  store.save(at, result);
                  return null;
                },
                true)
            .onFailure(e -> log.warn("could not save {}: {}", store.file(), e.toString()))
            .otherwiseEmpty();
  }

  // ---------------------------------------------------------------- power

  /**
   * Offline, a clean disconnect once every publish is acknowledged, then the power command; when
   * it returns (resume, or failure): idle, and connect again. Messages of the old connection are
   * never acted on.
   */
  private void powerDown() {
    poweringDown = true;
    List<String> argv = settings.powerCommand();
    publish(topics.availability(), "offline", true);
    mqtt.disconnect()
        .otherwise(
            e -> {
              log.warn("disconnect before the power-down failed: {}", e.toString());
              return null;
            })
        .compose(
            v -> {
              if (argv.isEmpty()) {
                log.info("no power.command configured: nothing to power down, coming back online");
                return Future.<ProcessResult>succeededFuture(null);
              }
              log.info("running the power command: {}", String.join(" ", argv));
              return workers.executeBlocking(() -> power.run(argv), false);
            })
        .onComplete(ar -> context.runOnContext(v -> powerReturned(ar)));
  }

  private void powerReturned(AsyncResult<ProcessResult> ar) {
    if (ar.failed()) {
      log.error("the power command could not run: {}", ar.cause().toString());
      publish(topics.error(),
          Payloads.text(Payloads.agentError(null, "power_failed", "the power command could not run: " + ar.cause())), false);
    } else if (ar.result() != null && !ar.result().ok()) {
      ProcessResult r = ar.result();
      log.error("the power command failed: {}", r.describe());
      publish(topics.error(), Payloads.text(
          Payloads.error(
              null,
              "power_failed",
              null,
              null,
              null,
              "the power command failed: " + r.describe(),
              r.startFailed() ? null : r.exitCode(),
              r.stderrTail().isBlank() ? null : r.stderrTail())), false);
    } else if (ar.result() != null) {
      log.info("the power command returned (resumed): coming back online");
    }
    firstLiveConnection = mqtt.connection() + 1;
    poweringDown = false;
    if (stopping) {
      return;
    }
    state = AgentState.IDLE;
    since = clock.instant();
    log.info("state idle; reconnecting");
    mqtt.connect(this);
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Stops for good (SIGTERM): a running cycle is force-cancelled and given {@code shutdownGrace} to
   * report; then {@code offline}, a clean disconnect, and the client is closed. Idempotent.
   */
  Future<Void> shutdown() {
    if (shutdown != null) {
      return shutdown;
    }
    stopping = true;
    log.info("shutting down");
    Future<Void> cycleDone = Future.succeededFuture();
    if (cycle != null) {
      log.info("cycle {}: cancelling and killing the streams in flight before shutting down", cycle.id);
      cycle.control.stop(StopReason.CANCEL, true);
      cycleDone =
          cycle.ended.future()
              .timeout(settings.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)
              .otherwise(
                  e -> {
                    log.warn("the cycle did not end within {}; shutting down anyway", settings.shutdownGrace());
                    return null;
                  });
    }
    shutdown =
        cycleDone
            .compose(v -> lastSave)
            .compose(v -> poweringDown ? Future.<Void>succeededFuture() : publish(topics.availability(), "offline", true))
            .otherwiseEmpty()
            .compose(v -> mqtt.close())
            .otherwiseEmpty()
            .onComplete(ar -> log.info("stopped"));
    return shutdown;
  }

  // ---------------------------------------------------------------- publishing

  private void enter(AgentState next) {
    if (next != state) {
      log.info("state {} -> {}", state.wire(), next.wire());
    }
    state = next;
    since = clock.instant();
    publishState();
  }

  private void publishState() {
    publish(
        topics.state(),
        Payloads.text(
            Payloads.state(state, cycle == null ? null : cycle.id, cycle == null ? null : cycle.runId, phase, since)),
        true);
  }

  private void publishDiscovery() {
    settings.discovery().ifPresent(d -> {
      for (Map.Entry<String, ObjectNode> m : d.messages().entrySet()) {
        publish(m.getKey(), Payloads.text(m.getValue()), true);
      }
    });
  }

  private void publishError(String kind, String message) {
    publish(
        topics.error(),
        Payloads.text(Payloads.agentError(cycle == null ? null : cycle.id, kind, message)),
        false);
  }

  private Future<Void> publish(String topic, String payload, boolean retained) {
    return mqtt.publish(topic, payload, retained)
        .onFailure(e -> {
          if (!retained && (topic.equals(topics.error()) || topic.equals(topics.event()))) {
            keepForNextConnect(topic, payload);
          } else {
            log.debug("not published on {}: {}", topic, e.getMessage());
          }
        });
  }

  private void keepForNextConnect(String topic, String payload) {
    if (outbox.size() >= OUTBOX_LIMIT) {
      outbox.removeFirst();
      outboxDropped++;
    }
    outbox.addLast(new String[] {topic, payload});
    log.info("not connected to the MQTT broker: keeping a message for {} until it is back ({} kept)", topic, outbox.size());
  }

  private void flushOutbox() {
    if (outboxDropped > 0) {
      log.warn("{} error/event messages from while the broker was unreachable were dropped (more than {})", outboxDropped, OUTBOX_LIMIT);
      outboxDropped = 0;
    }
    if (!outbox.isEmpty()) {
      log.info("publishing {} error/event messages kept while the broker was unreachable", outbox.size());
    }
    List<String[]> kept = new ArrayList<>(outbox);
    outbox.clear();
    for (String[] m : kept) {
      publish(m[0], m[1], false); // a failure puts it back, in order, for the connect after
    }
  }

  // ---------------------------------------------------------------- log lines

  private static String describe(AgentCommand command) {
    if (command instanceof AgentCommand.Run run) {
      return "run" + runDetails(run);
    }
    if (command instanceof AgentCommand.Suspend s && s.force()) {
      return "suspend (force)";
    }
    if (command instanceof AgentCommand.Cancel c && c.force()) {
      return "cancel (force)";
    }
    return command.name();
  }

  private static String runDetails(AgentCommand.Run run) {
    StringBuilder b = new StringBuilder();
    if (run.runId() != null) {
      b.append(" run_id=").append(run.runId());
    }
    if (run.dryRun()) {
      b.append(" (dry run)");
    }
    if (!run.datasets().isEmpty()) {
      b.append(" datasets=").append(String.join(",", new java.util.TreeSet<>(run.datasets())));
    }
    if (run.thenSuspend()) {
      b.append(", then suspend");
    }
    return b.toString();
  }

  private static void logProgress(Cycle c, CycleEvent.Progress p) {
    String what = p.source() + ":" + p.dataset();
    if (p.status() == StepStatus.STREAMING) {
      if (log.isDebugEnabled()) {
        log.debug("cycle {}: {} {} bytes{}", c.id, what, p.bytes(), p.percent() == null ? "" : String.format(" (%.1f%%)", p.percent()));
      }
      return;
    }
    String send = p.to() == null ? "" : (p.from() == null ? " full @" + p.to() : " @" + p.from() + "..@" + p.to());
    log.info(
        "cycle {}: {} {} {}{}{}{}",
        c.id,
        p.phase() == null ? "" : p.phase().wire(),
        what,
        p.status().wire(),
        send,
        p.status() == StepStatus.DONE ? ", " + p.bytes() + " bytes" : "",
        p.message() == null ? "" : ": " + p.message());
  }
}
