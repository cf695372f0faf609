package org.zfsbackup.command;

import java.util.Set;

/**
 * A command accepted on the agent's topic {@code T}, after every check of {@link CommandParser}
 * passed. What each one does in each agent state is in {@code docs/mqtt.md}.
 */
public sealed interface AgentCommand
    permits AgentCommand.Run, AgentCommand.Suspend, AgentCommand.Cancel, AgentCommand.Status {

  /** The wire name: {@code run}, {@code suspend}, {@code cancel} or {@code status}. */
  String name();

  /**
   * Start a backup cycle.
   *
   * @param runId the caller's label, echoed in state, result and events; null when not given
   * @param thenSuspend suspend when this cycle ends, whatever its outcome ({@code "then":
   *     "suspend"})
   * @param dryRun plan only: list both sides, decide, change nothing
   * @param datasets {@code source-name:dataset} entries, each exactly as configured; empty = all
   */
  record Run(String runId, boolean thenSuspend, boolean dryRun, Set<String> datasets)
      implements AgentCommand {
    public Run {
      datasets = Set.copyOf(datasets);
    }

    /** A plain {@code run}: everything, no label, no suspend, for real. */
    public static Run plain() {
      return new Run(null, false, false, Set.of());
    }

    @Override
    public String name() {
      return "run";
    }
  }

  /**
   * Start no new dataset, finish the streams in flight (or kill them when {@code force}), publish
   * the result, go offline, then run {@code power.command}.
   */
  record Suspend(boolean force) implements AgentCommand {
    @Override
    public String name() {
      return "suspend";
    }
  }

  /** Like {@link Suspend} without the power-down; the cycle ends {@code cancelled}. */
  record Cancel(boolean force) implements AgentCommand {
    @Override
    public String name() {
      return "cancel";
    }
  }

  /** Republish the state. */
  record Status() implements AgentCommand {
    @Override
    public String name() {
      return "status";
    }
  }
}
