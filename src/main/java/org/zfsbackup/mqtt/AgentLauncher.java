package org.zfsbackup.mqtt;

import io.vertx.core.Context;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.command.CommandParser;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.cycle.CycleLock;
import org.zfsbackup.cycle.CycleRequest;
import org.zfsbackup.cycle.CycleRunner;

/**
 * The {@code agent} command: wires config, Vert.x, Paho and the engine into an {@link Agent}, and
 * blocks until the agent is stopped (SIGTERM: a shutdown hook publishes {@code offline} and
 * disconnects cleanly).
 */
public final class AgentLauncher {
  private static final Logger log = LoggerFactory.getLogger(AgentLauncher.class);

  /** Makes the engine the agent runs cycles with. Tests pass fakes. */
  @FunctionalInterface
  public interface CycleRunnerFactory {
    CycleRunner create(AgentConfig config);
  }

  /** The real engine. */
  public static final CycleRunnerFactory ENGINE = org.zfsbackup.cycle.BackupCycle::create;

  /** Timings; production values in {@link #DEFAULT}, short ones in tests. */
  record Timings(
      Duration firstRetry,
      Duration maxRetry,
      Duration ackTimeout,
      int keepAliveSeconds,
      Duration progressInterval,
      Duration shutdownGrace,
      Duration powerPoll,
      Duration powerBrokerWait) {
    static final Timings DEFAULT =
        new Timings(
            Duration.ofSeconds(1),
            Duration.ofSeconds(30),
            Duration.ofSeconds(10),
            30,
            Duration.ofSeconds(2),
            Duration.ofSeconds(20),
            Duration.ofMillis(500),
            Duration.ofSeconds(30));
  }

  private AgentLauncher() {}

  /**
   * {@code Main}'s entry: runs until SIGTERM, then returns true. Returns false at once, having
   * printed why, when the configuration cannot make an agent ({@code Main} turns that into exit 2).
   */
  public static boolean run(AgentConfig config, PrintStream err) {
    return run(config, err, ENGINE);
  }

  public static boolean run(AgentConfig config, PrintStream err, CycleRunnerFactory engine) {
    // One agent per configuration: a second one (the unit and one started by hand) would take the
    // broker session from the first every second (same client id), or answer every run with
    // cycle_locked and show idle (another one), and Home Assistant would see both flicker.
    Path instance = instanceLockFor(config.stateFile());
    CycleLock.Attempt attempt = CycleLock.tryAcquire(instance);
    if (attempt instanceof CycleLock.Busy) {
      err.println(
          "zfs-backup-agent: another agent is running with this configuration (it holds "
              + instance
              + "); stop it first");
      return false;
    } else if (attempt instanceof CycleLock.Unavailable u) {
      log.warn("cannot take {} ({}): a second agent would not be noticed", u.file(), u.why());
    }
    try {
      RunningAgent agent;
      try {
        agent = start(config, engine);
      } catch (IllegalArgumentException e) {
        err.println("zfs-backup-agent: " + e.getMessage());
        return false;
      }
      Runtime.getRuntime().addShutdownHook(new Thread(agent::stop, "agent-shutdown"));
      agent.awaitStopped();
      return true;
    } finally {
      if (attempt instanceof CycleLock.Acquired held) {
        held.lock().close();
      }
    }
  }

  /** The lock an agent holds while it runs: beside {@code state_file}, like the cycle lock. */
  static Path instanceLockFor(Path stateFile) {
    return stateFile.resolveSibling(stateFile.getFileName() + ".agent.lock");
  }

  /**
   * Starts an agent and returns at once; it connects in the background, retrying forever.
   *
   * @throws IllegalArgumentException when the config has no usable {@code mqtt} section
   */
  public static RunningAgent start(AgentConfig config, CycleRunnerFactory engine) {
    return start(config, engine, new ProcessPowerSwitch(), PowerClocks.system(), Timings.DEFAULT);
  }

  static RunningAgent start(
      AgentConfig config,
      CycleRunnerFactory engine,
      PowerSwitch power,
      PowerClocks clocks,
      Timings timings) {
    MqttConfig mqtt =
        config
            .mqtt()
            .orElseThrow(
                () ->
                    new IllegalArgumentException("the agent needs an mqtt section in the config"));
    Topics topics = new Topics(mqtt.topic());
    Optional<Discovery> discovery =
        mqtt.homeAssistant().enabled()
            ? Optional.of(
                new Discovery(
                    mqtt.homeAssistant().discoveryPrefix(),
                    mqtt.clientId(),
                    topics,
                    version(),
                    java.time.Duration.ofHours(mqtt.homeAssistant().staleAfterH())))
            : Optional.empty();
    List<String> subscriptions =
        discovery
            .map(d -> List.of(topics.command(), d.statusTopic()))
            .orElse(List.of(topics.command()));
    CycleRunner runner = engine.create(config);

    Vertx vertx = Vertx.vertx();
    try {
      Context context = vertx.getOrCreateContext();
      // A cycle takes hours (and some power commands return only after the wake-up): no
      // blocked-thread warnings.
      WorkerExecutor workers =
          vertx.createSharedWorkerExecutor("zfs-backup-agent-worker", 4, 30, TimeUnit.DAYS);
      PahoConnection connection =
          new PahoConnection(
              vertx,
              context,
              new PahoSettings(
                  mqtt.url(),
                  mqtt.clientId(),
                  mqtt.username(),
                  mqtt.password(),
                  mqtt.caFile(),
                  topics.availability(),
                  subscriptions,
                  timings.firstRetry(),
                  timings.maxRetry(),
                  timings.ackTimeout(),
                  timings.keepAliveSeconds()));
      StateStore store = new StateStore(config.stateFile());
      StateStore.Saved saved = store.load();
      Agent agent =
          new Agent(
              context,
              workers,
              connection,
              runner,
              power,
              clocks,
              new CommandParser(CycleRequest.configuredDatasets(config)),
              store,
              Clock.systemUTC(),
              new Agent.Settings(
                  topics,
                  new PowerDown.Settings(
                      config.power().command(),
                      config.power().settle(),
                      config.power().lockWait(),
                      timings.powerPoll(),
                      CycleLock.fileFor(config.stateFile()),
                      timings.powerBrokerWait()),
                  discovery,
                  timings.progressInterval(),
                  timings.shutdownGrace()));
      log.info(
          "zfs-backup-agent {} starting: broker {}, topic {}, client id '{}'{}",
          version(),
          mqtt.url(),
          topics.command(),
          mqtt.clientId(),
          mqtt.username().map(u -> ", user " + u).orElse(""));
      context.runOnContext(v -> agent.start(saved));
      return new RunningAgent(vertx, context, agent, timings.shutdownGrace().plusSeconds(20));
    } catch (RuntimeException e) {
      vertx.close();
      throw e;
    }
  }

  static String version() {
    String v = AgentLauncher.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  /** A started agent. {@link #stop()} is idempotent and bounded in time. */
  public static final class RunningAgent implements AutoCloseable {
    private final Vertx vertx;
    private final Context context;
    private final Agent agent;
    private final Duration stopBound;
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);

    RunningAgent(Vertx vertx, Context context, Agent agent, Duration stopBound) {
      this.vertx = vertx;
      this.context = context;
      this.agent = agent;
      this.stopBound = stopBound;
    }

    /**
     * Force-cancels a running cycle, publishes {@code offline}, disconnects cleanly, closes Vert.x.
     * Returns when done (or after a bound); safe to call from any thread but the agent's own.
     */
    public void stop() {
      if (!stopping.compareAndSet(false, true)) {
        awaitStopped();
        return;
      }
      try {
        Promise<Void> done = Promise.promise();
        context.runOnContext(v -> agent.shutdown().onComplete(done));
        done.future().await(stopBound.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        log.warn("the agent did not stop within {}; closing anyway", stopBound);
      } catch (RuntimeException e) {
        log.warn("stopping the agent failed: {}", e.toString());
      } finally {
        try {
          vertx.close().await(10, TimeUnit.SECONDS);
        } catch (TimeoutException | RuntimeException e) {
          log.warn("closing Vert.x failed: {}", e.toString());
        }
        stopped.countDown();
      }
    }

    /** Blocks until {@link #stop()} completed. */
    public void awaitStopped() {
      try {
        stopped.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void close() {
      stop();
    }
  }
}
