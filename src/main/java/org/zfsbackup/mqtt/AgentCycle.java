package org.zfsbackup.mqtt;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.command.AgentCommand;
import org.zfsbackup.cycle.CycleControl;
import org.zfsbackup.cycle.CycleRequest;
import org.zfsbackup.event.CycleEvent.Phase;

/**
 * One cycle the agent runs, from its start to its report: what was asked, the handle that stops it,
 * and the phase it reported last. Used on the agent's context only.
 */
final class AgentCycle {
  /** Logs as the agent, whose cycle this is. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  final String id;
  final String runId;
  final CycleRequest request;
  final CycleControl control = new CycleControl();
  final Instant startedAt;

  /** {@code "then": "suspend"}: power down when this cycle ends, whatever its outcome. */
  final boolean thenSuspend;

  /** Completed when the cycle's report was handled (a shutdown waits for it). */
  final Promise<Void> ended = Promise.promise();

  /**
   * The engine reported {@code cycle_locked}: another process holds the cycle lock and nothing was
   * done, so this cycle's report replaces no result.
   */
  boolean lockedOut;

  /** The phase the engine reported last, published on {@code T/state}; null before the first. */
  private Phase phase;

  /** A new cycle for {@code run}, with a fresh id: {@code 20261127T020000Z-3fa1}. */
  static AgentCycle start(AgentCommand.Run run, Instant now) {
    String id =
        CycleRequest.CYCLE_ID_TIME.format(now)
            + "-"
            + String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
    return new AgentCycle(
        new CycleRequest(id, run.runId(), run.datasets(), run.dryRun()), now, run.thenSuspend());
  }

  AgentCycle(CycleRequest request, Instant startedAt, boolean thenSuspend) {
    this.id = request.cycleId();
    this.runId = request.runId();
    this.request = request;
    this.startedAt = startedAt;
    this.thenSuspend = thenSuspend;
  }

  /**
   * Completes when the cycle's report was handled, or after {@code grace} (logged); never fails.
   */
  Future<Void> endedWithin(Duration grace) {
    return ended
        .future()
        .timeout(grace.toMillis(), TimeUnit.MILLISECONDS)
        .otherwise(
            e -> {
              log.warn("the cycle did not end within {}; shutting down anyway", grace);
              return null;
            });
  }

  Phase phase() {
    return phase;
  }

  void phase(Phase phase) {
    this.phase = phase;
  }
}
