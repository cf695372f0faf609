package org.zfsbackup.mqtt;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.command.AgentCommand;
import org.zfsbackup.command.CommandParser;
import org.zfsbackup.cycle.CycleControl.StopReason;
import org.zfsbackup.cycle.CycleReport;
import org.zfsbackup.cycle.CycleRunner;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.mqtt.AgentStatus.Event;
import org.zfsbackup.mqtt.AgentStatus.Stage;

/**
 * The agent: takes commands from {@code T} (through {@link AgentCommands}), drives the {@link
 * AgentStatus} machine, runs cycles and the power command on a worker executor, and publishes
 * everything of contract §4 through {@link AgentPublisher}.
 *
 * <p>Threading: every method runs on one Vert.x context ({@link #context}); the engine's events and
 * results, Paho's callbacks and the worker's results are handed to it with {@code runOnContext}. So
 * the state needs no locks, and two commands can never start two cycles.
 */
final class Agent implements MqttPort.Listener {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  /**
   * @param power {@code power.command} and how the power-down waits (see {@link PowerDown})
   * @param progressInterval at most one {@code streaming} progress per dataset step this often
   * @param shutdownGrace how long a shutdown waits for a force-stopped cycle to report
   */
  record Settings(
      Topics topics,
      PowerDown.Settings power,
      Optional<Discovery> discovery,
      Duration progressInterval,
      Duration shutdownGrace) {}

  private final Context context;
  private final WorkerExecutor workers;
  private final MqttPort mqtt;
  private final CycleRunner runner;
  private final Clock clock;
  private final Settings settings;
  private final AgentPublisher out;
  private final CycleReporting reporting;
  private final PowerDown powerDown;
  private final AgentCommands commands;

  /** The state machine's one value; after the constructor, assigned only in {@link #become}. */
  private AgentStatus status;

  private Future<Void> shutdown;

  /** The connection the agent last republished on ({@link #connected}); 0 before the first. */
  private long announcedOn;

  Agent(
      Context context,
      WorkerExecutor workers,
      MqttPort mqtt,
      CycleRunner runner,
      PowerSwitch power,
      PowerClocks clocks,
      CommandParser parser,
      StateStore store,
      Clock clock,
      Settings settings) {
    this.context = context;
    this.workers = workers;
    this.mqtt = mqtt;
    this.runner = runner;
    this.clock = clock;
    this.settings = settings;
    this.out =
        new AgentPublisher(mqtt, settings.topics(), settings.discovery(), new Outbox(Outbox.LIMIT));
    this.reporting =
        new CycleReporting(
            workers,
            store,
            clock,
            out,
            new ProgressThrottle(settings.progressInterval().toMillis()),
            context,
            settings.discovery().map(Discovery::staleAfter));
    this.powerDown =
        new PowerDown(context.owner(), mqtt, out, workers, power, clocks, settings.power());
    this.commands =
        new AgentCommands(settings.topics(), parser, clock, out, settings.power().lockFile());
    this.status = AgentStatus.initial(clock.instant());
  }

  /** Restores what survived the last run, then connects (forever, with backoff). On the context. */
  void start(StateStore.Saved saved) {
    reporting.restore(saved);
    mqtt.connect(this);
  }

  // ---------------------------------------------------------------- the state machine

  /**
   * Every change of {@link #status}: the transition table decides where {@code event} leads (a
   * transition it does not allow is a bug and throws). The new state is logged and published,
   * except when stopping (nothing new is published), when the power returns (the agent is offline
   * then; the reconnect publishes it) and when the lock is taken (nothing shown changes). Entering
   * {@code AWAITING_LOCK} (never from itself), once that is published, goes on to take the cycle
   * lock.
   *
   * @param started the new cycle, for {@link Event#RUN}
   */
  private void become(Event event, AgentCycle started) {
    AgentStatus next = status.after(event, started, mqtt.connection(), clock.instant());
    boolean announce =
        next.stage() != Stage.STOPPING && event != Event.POWER_RETURNS && event != Event.LOCK_TAKEN;
    if (announce && next.wire() != status.wire()) {
      log.info("state {} -> {}", status.wire().wire(), next.wire().wire());
    }
    status = next;
    if (announce) {
      out.state(status);
    }
    if (status.stage() == Stage.AWAITING_LOCK) {
      awaitLock();
    }
  }

  private void become(Event event) {
    become(event, null);
  }

  // ---------------------------------------------------------------- connection

  @Override
  public void connected(long connection) {
    if (status.stage() == Stage.POWERING_DOWN && powerDown.broker.waiting()) {
      // Back while the power-down waited for it: the state, the result and what was kept go out
      // (not online: the machine is going down), then the power-down goes on.
      out.republish(status, reporting.lastResult());
      announcedOn = connection;
      powerDown.broker.back();
      return;
    }
    if (status.stage() == Stage.STOPPING || status.stage() == Stage.POWERING_DOWN) {
      return;
    }
    out.online(status, reporting.lastResult());
    announcedOn = connection;
    log.info(
        "online on {}: state {}{}",
        settings.topics().command(),
        status.wire().wire(),
        settings.discovery().isPresent() ? ", Home Assistant discovery published" : "");
  }

  @Override
  public void lost(String reason) {
    // PahoConnection logged it and reconnects; connected() republishes everything.
  }

  @Override
  public void subscriptionRefused(String detail) {
    // PahoConnection logged it and retries; the agent stays offline meanwhile.
    out.agentError(null, "subscription_refused", detail);
  }

  @Override
  public void message(String topic, byte[] payload, boolean retained, long connection) {
    try {
      AgentCommand command = commands.accept(status, topic, payload, retained, connection);
      if (command != null) {
        handle(command);
      }
    } catch (RuntimeException e) {
      log.error("handling a message on {} failed", topic, e);
      out.agentError(status.cycle(), "internal", "handling a command failed: " + e);
    }
  }

  // ---------------------------------------------------------------- commands

  /**
   * What each command does in each state ({@link AgentCommands#dispatch}); a suspend when idle goes
   * on to take the cycle lock.
   */
  void handle(AgentCommand command) {
    Event event = commands.dispatch(command, status);
    if (event == Event.RUN) {
      startCycle((AgentCommand.Run) command);
    } else if (event != null) {
      become(event);
    }
  }

  // ---------------------------------------------------------------- cycles

  private void startCycle(AgentCommand.Run run) {
    AgentCycle c = AgentCycle.start(run, clock.instant());
    become(Event.RUN, c);
    reporting.started(c);
    out.event("started", c.id, c.runId);
    log.info("cycle {} started{}", c.id, AgentLog.runDetails(run));
    EventSink sink = event -> context.runOnContext(v -> engineEvent(c, event));
    workers
        .executeBlocking(() -> runner.run(c.request, sink, c.control), false)
        .onComplete(ar -> context.runOnContext(v -> cycleEnded(c, ar)));
  }

  private void engineEvent(AgentCycle c, CycleEvent event) {
    if (c != status.cycle()) {
      log.debug("dropped a late event of cycle {}: {}", c.id, event);
      return;
    }
    if (event instanceof CycleEvent.PhaseStarted p) {
      c.phase(p.phase());
      log.info("cycle {}: {} phase started", c.id, p.phase().wire());
      out.state(status);
    } else {
      reporting.engineEvent(c, event);
    }
    // CycleStarted: announced when the agent launched the cycle. The result comes from the report
    // the runner returns (cycleEnded), so a cycle that crashes still gets one.
  }

  /** The state moves on once the result and end event are out (after the state file's save). */
  private void cycleEnded(AgentCycle c, AsyncResult<CycleReport> ar) {
    reporting
        .ended(c, ar)
        .onComplete(
            v -> {
              become(status.cycleEnds());
              c.ended.tryComplete();
            });
  }

  // ---------------------------------------------------------------- power

  /**
   * In {@code AWAITING_LOCK}: the power-down first takes the cycle lock, waiting while another
   * process (a {@code run} from cron) holds it; see {@link PowerDown#takeLock}.
   */
  private void awaitLock() {
    powerDown.takeLock().onComplete(ar -> context.runOnContext(v -> lockAnswered(ar)));
  }

  private void lockAnswered(AsyncResult<Boolean> ar) {
    if (status.stage() != Stage.AWAITING_LOCK) {
      powerDown.release(); // shut down meanwhile
      return;
    }
    if (ar.succeeded() && ar.result()) {
      become(Event.LOCK_TAKEN);
      // Connected is not enough: the republish comes once subscribed (connected() above).
      powerDown
          .broker
          .await(() -> mqtt.connected() && announcedOn == mqtt.connection())
          .compose(v -> powerDown.run())
          .onSuccess(o -> context.runOnContext(v -> powerReturned(o)));
    } else {
      become(Event.LOCK_STILL_HELD);
      powerDown.reportBlocked();
    }
  }

  /**
   * In {@code POWERING_DOWN}, when the machine is back (or the power-down failed): idle, and
   * connect again at once; the reconnect publishes the state and the last result before {@code
   * online}. Messages of the old connection are never acted on.
   */
  private void powerReturned(PowerDown.Outcome outcome) {
    powerDown.release();
    powerDown.report(outcome);
    become(Event.POWER_RETURNS);
    if (status.stage() == Stage.STOPPING) {
      return;
    }
    log.info("state idle; reconnecting");
    mqtt.connect(this);
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Stops for good (SIGTERM): a running cycle is interrupted (its streams killed, it ends {@code
   * interrupted}) and given {@code shutdownGrace} to report; then {@code offline}, a clean
   * disconnect, and the client is closed. Idempotent.
   */
  Future<Void> shutdown() {
    if (shutdown != null) {
      return shutdown;
    }
    // A power-down that went offline has disconnected too. A poweroff ends here: systemd's SIGTERM
    // comes while the agent waits for the machine to go down.
    boolean offline = status.stage() == Stage.POWERING_DOWN && powerDown.wentOffline();
    powerDown.cancel();
    become(Event.SHUTDOWN);
    reporting.stop();
    log.info("shutting down");
    Future<Void> cycleDone = Future.succeededFuture();
    AgentCycle c = status.cycle();
    if (c != null) {
      log.info(
          "cycle {}: interrupting it, killing the streams in flight before shutting down", c.id);
      c.control.stop(StopReason.INTERRUPT, true);
      cycleDone = c.endedWithin(settings.shutdownGrace());
    }
    shutdown =
        cycleDone
            .compose(v -> reporting.lastSave())
            .compose(
                v -> {
                  out.keptBeforeStopping();
                  return offline ? Future.<Void>succeededFuture() : out.availability("offline");
                })
            .otherwiseEmpty()
            .compose(v -> mqtt.close())
            .otherwiseEmpty()
            .onComplete(
                ar -> {
                  out.keptLost();
                  log.info("stopped");
                });
    return shutdown;
  }
}
