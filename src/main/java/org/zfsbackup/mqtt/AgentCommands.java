package org.zfsbackup.mqtt;

import java.nio.file.Path;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.command.AgentCommand;
import org.zfsbackup.command.CommandParser;
import org.zfsbackup.command.ParseResult;
import org.zfsbackup.cycle.CycleControl.StopReason;
import org.zfsbackup.mqtt.AgentStatus.Event;
import org.zfsbackup.mqtt.AgentStatus.Stage;

/**
 * The {@link Agent}'s command intake and dispatch: which messages are commands ({@link #accept}),
 * and what each command does in each state ({@link #dispatch}). It reads the agent's {@link
 * AgentStatus} and never changes it: {@link #dispatch} returns the {@link Event} the agent then
 * applies with its one transition method.
 *
 * <p>Runs on the agent's context only; logs as the agent.
 */
final class AgentCommands {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  private final Topics topics;
  private final CommandParser parser;
  private final Clock clock;
  private final AgentPublisher out;
  private final Path lockFile;

  AgentCommands(
      Topics topics, CommandParser parser, Clock clock, AgentPublisher out, Path lockFile) {
    this.topics = topics;
    this.parser = parser;
    this.clock = clock;
    this.out = out;
    this.lockFile = lockFile;
  }

  // ---------------------------------------------------------------- intake

  /**
   * The command in a message, or null: not on the command topic (Home Assistant's status is handled
   * here), from before the power-down, while powering down or stopping, empty (a retained message
   * cleared), or rejected by the parser (reported).
   */
  AgentCommand accept(
      AgentStatus status, String topic, byte[] payload, boolean retained, long connection) {
    if (out.homeAssistantStatus(topic, payload, retained) || !topic.equals(topics.command())) {
      return null;
    }
    if (connection < status.firstLiveConnection()) {
      log.info("ignored a command received before the power-down");
      return null;
    }
    if (status.stage() == Stage.STOPPING) {
      log.info("ignored a command: the agent is shutting down");
      return null;
    }
    if (payload.length == 0) {
      // How a retained message is cleared (mosquitto_pub -r -n): not a command, not an error.
      log.info("ignored an empty message on {}", topic);
      return null;
    }
    ParseResult parsed = parser.parse(payload, retained, clock.instant());
    if (parsed instanceof ParseResult.Rejection rejection) {
      log.warn("rejected a command on {}: {}", topic, rejection.message());
      out.agentError(status.cycle(), rejection.reason().kind(), rejection.message());
    } else if (parsed instanceof ParseResult.Accepted accepted
        && status.stage() == Stage.POWERING_DOWN) {
      // Still `suspending` to the user: refused as the table says, so a script learns it was not
      // run; a suspend or a status changes nothing then.
      AgentCommand c = accepted.command();
      if (c instanceof AgentCommand.Run || c instanceof AgentCommand.Cancel) {
        String what = c instanceof AgentCommand.Run ? "run" : "cancel";
        refuse(status, what, "the agent is powering down; send it again once it is back online");
      } else {
        log.info("ignored a command: powering down");
      }
    } else if (parsed instanceof ParseResult.Accepted accepted) {
      return accepted.command();
    }
    return null;
  }

  // ---------------------------------------------------------------- dispatch

  /**
   * What each command does in each state; the table in docs/mqtt.md says the same. Does what needs
   * no transition (logs, stops the cycle's streams, answers, refuses) and returns the event for the
   * agent to apply, or null: {@link Event#RUN} means start a cycle.
   */
  Event dispatch(AgentCommand command, AgentStatus status) {
    log.info("command {} received (state {})", AgentLog.command(command), status.wire().wire());
    if (command instanceof AgentCommand.Run) {
      if (status.stage() == Stage.IDLE) {
        return Event.RUN;
      }
      AgentCycle c = status.cycle();
      refuse(
          status,
          "run",
          (c == null ? "the agent" : "cycle " + c.id)
              + " is "
              + status.wire().wire()
              + "; a new run starts only when idle");
    } else if (command instanceof AgentCommand.Suspend suspend) {
      return suspend(status, suspend.force());
    } else if (command instanceof AgentCommand.Cancel cancel) {
      return cancel(status, cancel.force());
    } else if (command instanceof AgentCommand.Status) {
      out.state(status);
    }
    return null;
  }

  // POWERING_DOWN and STOPPING take no commands: accept() drops them first.

  private Event suspend(AgentStatus status, boolean force) {
    AgentCycle c = status.cycle();
    switch (status.stage()) {
      case IDLE -> {
        return Event.SUSPEND;
      }
      case RUNNING, CANCELLING -> {
        log.info("cycle {}: {}; power-down when it ends", c.id, AgentLog.streams(force));
        c.control.stop(StopReason.SUSPEND, force);
        return Event.SUSPEND;
      }
      case SUSPENDING -> repeatStop(status, StopReason.SUSPEND, "suspend", "suspending", force);
      case AWAITING_LOCK -> {
        // The cycle that holds the lock is not ours: force cannot stop it, and must not.
        log.info("already suspending: waiting for the cycle lock {}", lockFile);
        out.state(status);
      }
      case POWERING_DOWN, STOPPING -> {}
    }
    return null;
  }

  private Event cancel(AgentStatus status, boolean force) {
    AgentCycle c = status.cycle();
    switch (status.stage()) {
      case IDLE -> {
        log.info("nothing to cancel: idle");
        out.state(status);
      }
      case RUNNING -> {
        log.info("cycle {}: cancelling; {}", c.id, AgentLog.streams(force));
        c.control.stop(StopReason.CANCEL, force);
        return Event.CANCEL;
      }
      case CANCELLING -> repeatStop(status, StopReason.CANCEL, "cancel", "cancelling", force);
      case SUSPENDING, AWAITING_LOCK ->
          refuse(status, "cancel", "a suspend is in progress and cannot be cancelled");
      case POWERING_DOWN, STOPPING -> {}
    }
    return null;
  }

  /**
   * The stop that is already under way asked again: forced, it kills the streams in flight (a
   * graceful stop waits for them); either way the state is published again.
   *
   * @param what {@code suspend} or {@code cancel}, as in the log
   * @param doing {@code suspending} or {@code cancelling}, as in the log
   */
  private void repeatStop(
      AgentStatus status, StopReason reason, String what, String doing, boolean force) {
    if (force) {
      log.info("cycle {}: {} forced, killing the streams in flight", status.cycle().id, what);
      status.cycle().control.stop(reason, true);
    } else {
      log.info("already {}", doing);
    }
    out.state(status);
  }

  private void refuse(AgentStatus status, String what, String why) {
    log.warn("refused {}: {}", what, why);
    out.agentError(status.cycle(), "command_refused", what + " refused: " + why);
  }
}
