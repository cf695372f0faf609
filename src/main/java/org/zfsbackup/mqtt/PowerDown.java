package org.zfsbackup.mqtt;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleLock;
import org.zfsbackup.exec.ProcessResult;

/**
 * The power-down (docs/mqtt.md, "The power-down, step by step"): the cycle lock, a broker that is
 * away waited for (bounded) so that the result goes out first, then {@code offline}, a clean
 * disconnect once every publish is acknowledged, {@code power.command} on a worker thread, and a
 * watch on the {@link PowerClocks} until the machine has really been down and is back (or has not
 * gone down within {@code power.settle_s}); and what that outcome reports. The agent decides when
 * (its {@code AWAITING_LOCK} and {@code POWERING_DOWN} stages) and what follows (reconnect, idle).
 * Used on the agent's context only.
 */
final class PowerDown {
  /** Logs as the agent, whose steps these are. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  /**
   * @param command {@code power.command}; empty = go offline and come straight back
   * @param settle {@code power.settle_s}: how long the machine may stay up after the command
   *     returned before the power-down counts as failed
   * @param lockWait {@code power.lock_wait_s}: how long a power-down waits for a cycle lock held by
   *     another process
   * @param poll how often the lock and the clocks are looked at
   * @param lockFile the cycle lock, {@code <state_file>.lock}
   * @param brokerWait how long a power-down that finds the broker unreachable waits for it, so that
   *     the result and the errors and events kept meanwhile go out before the machine goes down
   */
  record Settings(
      List<String> command,
      Duration settle,
      Duration lockWait,
      Duration poll,
      Path lockFile,
      Duration brokerWait) {
    Settings {
      command = List.copyOf(command);
    }
  }

  /** How a power-down ended. */
  sealed interface Outcome {}

  /** No {@code power.command}: the agent only went offline. */
  record NoCommand() implements Outcome {}

  /** The machine was down for about {@code asleep} and is back. */
  record Resumed(Duration asleep) implements Outcome {}

  /** The command could not start ({@code cause}) or exited non-zero ({@code result}). */
  record Failed(ProcessResult result, Throwable cause) implements Outcome {}

  /** The command exited 0 but the machine was still up {@code power.settle_s} later. */
  record NotDown(ProcessResult result) implements Outcome {}

  private final Vertx vertx;
  private final MqttPort mqtt;
  private final AgentPublisher out;
  private final WorkerExecutor workers;
  private final PowerSwitch power;
  private final PowerClocks clocks;
  private final Settings settings;

  /** The cycle lock while a power-down holds it (from before offline until the power returns). */
  private CycleLock held;

  private long timer = -1;
  private boolean cancelled;

  /** The first step: a broker away waited for (bounded), so that the result goes out first. */
  final BrokerWait broker;

  /** {@link #run} published {@code offline}: a shutdown then has nothing more to say. */
  private boolean wentOffline;

  PowerDown(
      Vertx vertx,
      MqttPort mqtt,
      AgentPublisher out,
      WorkerExecutor workers,
      PowerSwitch power,
      PowerClocks clocks,
      Settings settings) {
    this.vertx = vertx;
    this.mqtt = mqtt;
    this.out = out;
    this.workers = workers;
    this.power = power;
    this.clocks = clocks;
    this.settings = settings;
    this.broker = new BrokerWait(vertx, mqtt, settings.brokerWait());
  }

  // ---------------------------------------------------------------- the cycle lock

  /**
   * Takes the cycle lock, waiting (at most {@code lockWait}) while another process holds it: a
   * {@code run} from cron is let finish, never cut off by the power-down. Completes with true when
   * it is held (or cannot be taken at all: a warning, and the power-down goes on without it), with
   * false when it was still held by the other process at the end of the wait. The lock is kept
   * until {@link #release}: a cron run that starts during the power-down is refused rather than
   * frozen mid-stream by the suspend.
   */
  Future<Boolean> takeLock() {
    wentOffline = false; // a power-down starts
    Promise<Boolean> taken = Promise.promise();
    tryLock(taken, clocks.monotonicNanos() + settings.lockWait().toNanos(), true);
    return taken.future();
  }

  private void tryLock(Promise<Boolean> taken, long deadline, boolean first) {
    timer = -1;
    workers
        .executeBlocking(() -> CycleLock.tryAcquire(settings.lockFile()), false)
        .onComplete(
            ar -> {
              CycleLock.Attempt a =
                  ar.succeeded()
                      ? ar.result()
                      : new CycleLock.Unavailable(settings.lockFile(), String.valueOf(ar.cause()));
              if (a instanceof CycleLock.Acquired acquired) {
                held = acquired.lock();
                if (cancelled) {
                  release();
                  taken.tryFail("shutting down");
                  return;
                }
                if (!first) {
                  log.info(
                      "the other backup cycle ended: {} is free, powering down",
                      settings.lockFile());
                }
                taken.tryComplete(true);
              } else if (a instanceof CycleLock.Unavailable u) {
                // Said on T/error too: a `run` from cron starting meanwhile is not kept out.
                String msg =
                    "cannot take the cycle lock %s (%s): powering down without it"
                        .formatted(u.file(), u.why());
                log.warn("{}", msg);
                out.agentError(null, "warning", msg);
                taken.tryComplete(true);
              } else if (cancelled) {
                taken.tryFail("shutting down");
              } else if (clocks.monotonicNanos() >= deadline) {
                taken.tryComplete(false);
              } else {
                if (first) {
                  log.info(
                      "another backup cycle (a `run` from cron) holds the cycle lock {}: the"
                          + " power-down waits until it ends, at most {}",
                      settings.lockFile(),
                      PahoCalls.seconds(settings.lockWait().toMillis()));
                }
                timer =
                    vertx.setTimer(
                        settings.poll().toMillis(), t -> tryLock(taken, deadline, false));
              }
            });
  }

  /** Lets go of the cycle lock, if held. */
  void release() {
    if (held != null) {
      held.close();
      held = null;
    }
  }

  /** {@link #run} has published {@code offline} (and disconnects, or has). */
  boolean wentOffline() {
    return wentOffline;
  }

  // ---------------------------------------------------------------- the power-down

  /**
   * Offline, disconnect, the power command, then the watch on the clocks. Completes with the
   * outcome, never fails (whatever failed is a {@link Failed} with its cause); never completes
   * after {@link #cancel} (a poweroff: systemd's SIGTERM stops the agent while it waits).
   */
  Future<Outcome> run() {
    if (cancelled) {
      return Promise.<Outcome>promise().future(); // a shutdown came during the broker wait
    }
    wentOffline = true;
    out.availability("offline");
    return mqtt.disconnect()
        .otherwise(
            e -> {
              log.warn("disconnect before the power-down failed: {}", e.toString());
              return null;
            })
        .compose(
            v -> {
              List<String> argv = settings.command();
              if (cancelled) {
                log.info("shutting down: the power command is not run");
                return Promise.<Outcome>promise().future(); // nothing follows a shutdown
              }
              if (argv.isEmpty()) {
                log.info("no power.command configured: nothing to power down, coming back online");
                return Future.<Outcome>succeededFuture(new NoCommand());
              }
              long gapBefore = clocks.gapNanos();
              log.info("running the power command: {}", String.join(" ", argv));
              return workers
                  .executeBlocking(() -> power.run(argv), false)
                  .compose(
                      r ->
                          r.ok()
                              ? watch(gapBefore, r)
                              : Future.<Outcome>succeededFuture(new Failed(r, null)));
            })
        // The command could not start (or anything else threw).
        .otherwise(e -> new Failed(null, e));
  }

  /**
   * systemd's {@code suspend} and {@code poweroff} return before the machine goes down: stay
   * disconnected until the boot-time clock has run ahead of the monotonic one (the machine slept
   * and woke up), or until {@code settle} of awake time has passed.
   */
  private Future<Outcome> watch(long gapBefore, ProcessResult result) {
    log.info(
        "the power command returned (exit 0): staying offline until the machine has been down"
            + " (at most {})",
        PahoCalls.seconds(settings.settle().toMillis()));
    Promise<Outcome> back = Promise.promise();
    check(back, gapBefore, clocks.monotonicNanos(), result);
    return back.future();
  }

  private void check(Promise<Outcome> back, long gapBefore, long returned, ProcessResult result) {
    timer = -1;
    if (cancelled) {
      return;
    }
    long gap = clocks.gapNanos();
    switch (PowerClocks.verdict(
        gapBefore, gap, clocks.monotonicNanos() - returned, settings.settle())) {
      case RESUMED -> back.tryComplete(new Resumed(Duration.ofNanos(gap - gapBefore)));
      case NOT_DOWN -> back.tryComplete(new NotDown(result));
      case WAITING ->
          timer =
              vertx.setTimer(
                  settings.poll().toMillis(), t -> check(back, gapBefore, returned, result));
    }
  }

  /** Shutting down: no more waiting for the lock or the clocks; the lock is let go. */
  void cancel() {
    cancelled = true;
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
    broker.cancel(); // run() then sees the shutdown and does nothing
    release();
  }

  // ---------------------------------------------------------------- reports

  /**
   * Logs how the power-down ended and publishes a {@code power_failed} error when it failed (kept
   * for the next connect: the agent is offline now).
   */
  void report(Outcome outcome) {
    if (outcome instanceof Resumed r) {
      log.info(
          "the machine was down for about {} and is back: reconnecting",
          PahoCalls.seconds(r.asleep().toSeconds() * 1000));
    } else if (outcome instanceof Failed f && f.result() == null) {
      log.error("the power command could not run: {}", f.cause().toString());
      out.agentError(null, "power_failed", "the power command could not run: " + f.cause());
    } else if (outcome instanceof Failed f) {
      ProcessResult r = f.result();
      log.error("the power command failed: {}", r.describe());
      powerFailed("the power command failed: " + r.describe(), r.exitCodeIfRan(), r.stderrOrNull());
    } else if (outcome instanceof NotDown n) {
      String message =
          "the machine did not power down within "
              + PahoCalls.seconds(settings.settle().toMillis())
              + " (`"
              + String.join(" ", settings.command())
              + "` exited 0, but the boot-time clock never ran ahead of the monotonic clock)";
      log.error("{}: reconnecting", message);
      powerFailed(message, null, n.result().stderrOrNull());
    }
  }

  /** A {@code power_failed} error with the command's exit code and stderr, when known. */
  private void powerFailed(String message, Integer exitCode, String stderr) {
    out.error(Payloads.error(null, "power_failed", null, null, null, message, exitCode, stderr));
  }

  /** The {@code power_blocked} report: the lock was still held when the wait ended. */
  void reportBlocked() {
    String message =
        "the power-down was given up: another backup cycle (a `run` from cron) still held the"
            + " cycle lock "
            + settings.lockFile()
            + " after "
            + PahoCalls.seconds(settings.lockWait().toMillis())
            + "; it was not interrupted, and the machine stays on";
    log.warn("{}", message);
    out.agentError(null, "power_blocked", message);
  }
}
