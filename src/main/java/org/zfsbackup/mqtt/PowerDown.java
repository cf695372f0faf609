package org.zfsbackup.mqtt;

import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.exec.ProcessResult;

/**
 * The power-down (docs/mqtt.md, "The power-down, step by step"): {@code offline}, a clean
 * disconnect once every publish is acknowledged, then {@code power.command} on a worker thread; and
 * what its return reports. The agent decides when (its {@code POWERING_DOWN} stage) and what
 * follows (reconnect, idle).
 */
final class PowerDown {
  /** Logs as the agent, whose steps these are. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  private final MqttPort mqtt;
  private final AgentPublisher out;
  private final WorkerExecutor workers;
  private final PowerSwitch power;
  private final List<String> argv;

  /**
   * @param argv {@code power.command}; empty = go offline and come straight back
   */
  PowerDown(
      MqttPort mqtt,
      AgentPublisher out,
      WorkerExecutor workers,
      PowerSwitch power,
      List<String> argv) {
    this.mqtt = mqtt;
    this.out = out;
    this.workers = workers;
    this.power = power;
    this.argv = List.copyOf(argv);
  }

  /**
   * Offline, disconnect, then the power command. Completes (off the agent's context) when the
   * command returned, with its result; with null when none is configured.
   */
  Future<ProcessResult> run() {
    out.availability("offline");
    return mqtt.disconnect()
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
            });
  }

  /**
   * Logs how the power command returned and publishes a {@code power_failed} error when it failed
   * (kept for the next connect: the agent is offline now). On the agent's context.
   */
  void report(AsyncResult<ProcessResult> ar) {
    if (ar.failed()) {
      log.error("the power command could not run: {}", ar.cause().toString());
      out.error(
          Payloads.agentError(
              null, "power_failed", "the power command could not run: " + ar.cause()));
    } else if (ar.result() != null && !ar.result().ok()) {
      ProcessResult r = ar.result();
      log.error("the power command failed: {}", r.describe());
      out.error(
          Payloads.error(
              null,
              "power_failed",
              null,
              null,
              null,
              "the power command failed: " + r.describe(),
              r.startFailed() ? null : r.exitCode(),
              r.stderrTail().isBlank() ? null : r.stderrTail()));
    } else if (ar.result() != null) {
      log.info("the power command returned (resumed): coming back online");
    }
  }
}
