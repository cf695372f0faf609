package org.zfsbackup.mqtt;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Where the agent is: one immutable value holding everything a transition depends on. The agent
 * replaces it in one method ({@code Agent.become}), through {@link #after}, which allows exactly
 * the transitions of {@link #TRANSITIONS}. The diagram below is tested against that table ({@code
 * AgentStatusTest}); edit both together.
 *
 * <pre>
 *   idle --run--&gt; running --cycle ends--&gt; idle
 *                 running --cancel--&gt; cancelling --cycle ends--&gt; idle
 *                 running --suspend--&gt; suspending --cycle ends--&gt; awaiting_lock
 *              cancelling --suspend--&gt; suspending
 *   running / cancelling --cycle ends, then suspend--&gt; awaiting_lock
 *   idle --suspend--&gt; awaiting_lock --lock taken--&gt; powering_down --power returns--&gt; idle
 *   awaiting_lock --lock still held--&gt; idle
 *   idle / running / cancelling / suspending --shutdown--&gt; stopping
 *   awaiting_lock / powering_down --shutdown--&gt; stopping
 *   stopping --cycle ends--&gt; stopping --power returns--&gt; stopping
 * </pre>
 *
 * <p>{@code T/state} shows {@link #wire}: {@code suspending} while a cycle ends before the
 * power-down, while the power-down waits for the cycle lock held by another process (a {@code run}
 * from cron, which it does not cut off; after {@code power.lock_wait_s} it gives up), and during
 * the power-down itself (offline, clean disconnect, {@code power.command}, then offline until the
 * machine has been down and is back, or {@code power.settle_s} passed without it going down);
 * {@code stopping} (SIGTERM) publishes nothing new. In {@code suspending} and {@code cancelling}
 * the cycle is still running: its streams in flight finish, or are killed with {@code force}.
 * {@code docs/mqtt.md} has the table of what each command does in each state.
 */
record AgentStatus(
    Stage stage, AgentState wire, AgentCycle cycle, Instant since, long firstLiveConnection) {

  /** The agent's stages; {@link #wire} is what {@code T/state} shows for each. */
  enum Stage {
    /** No cycle; connected, or connecting. */
    IDLE(AgentState.IDLE),
    /** A cycle runs. */
    RUNNING(AgentState.RUNNING),
    /** A cycle was asked to stop; it still ends (and reports) on its own. */
    CANCELLING(AgentState.CANCELLING),
    /** A cycle was asked to stop for a power-down, which follows when it ends. */
    SUSPENDING(AgentState.SUSPENDING),
    /**
     * No cycle of ours: the power-down waits until no other process (a {@code run} from cron) holds
     * the cycle lock; online, commands as in {@code SUSPENDING}.
     */
    AWAITING_LOCK(AgentState.SUSPENDING),
    /**
     * No cycle, the cycle lock held: offline, a clean disconnect, the power command, then offline
     * until the machine has been down and is back; commands are ignored.
     */
    POWERING_DOWN(AgentState.SUSPENDING),
    /** Shutting down for good (SIGTERM): commands are ignored; a cycle may still be ending. */
    STOPPING(null);

    private final AgentState wire;

    Stage(AgentState wire) {
      this.wire = wire;
    }
  }

  /** What makes the agent change stage; {@link #label} as in the diagram. */
  enum Event {
    RUN("run"),
    CANCEL("cancel"),
    SUSPEND("suspend"),
    CYCLE_ENDS("cycle ends"),
    /** A cycle that was started with {@code "then": "suspend"} ends. */
    CYCLE_ENDS_THEN_SUSPEND("cycle ends, then suspend"),
    /** The power-down took the cycle lock (or found no other process holding it). */
    LOCK_TAKEN("lock taken"),
    /** Another process still held the cycle lock at the end of {@code power.lock_wait_s}. */
    LOCK_STILL_HELD("lock still held"),
    /**
     * The machine was down and is back, or the power-down failed: the command failed, or the
     * machine did not go down within {@code power.settle_s}.
     */
    POWER_RETURNS("power returns"),
    SHUTDOWN("shutdown");

    final String label;

    Event(String label) {
      this.label = label;
    }
  }

  /** One allowed transition. */
  record Transition(Stage from, Event event, Stage to) {}

  /** Every allowed transition; nothing else can happen. */
  static final List<Transition> TRANSITIONS =
      List.of(
          new Transition(Stage.IDLE, Event.RUN, Stage.RUNNING),
          new Transition(Stage.IDLE, Event.SUSPEND, Stage.AWAITING_LOCK),
          new Transition(Stage.RUNNING, Event.CANCEL, Stage.CANCELLING),
          new Transition(Stage.RUNNING, Event.SUSPEND, Stage.SUSPENDING),
          new Transition(Stage.RUNNING, Event.CYCLE_ENDS, Stage.IDLE),
          new Transition(Stage.RUNNING, Event.CYCLE_ENDS_THEN_SUSPEND, Stage.AWAITING_LOCK),
          new Transition(Stage.CANCELLING, Event.SUSPEND, Stage.SUSPENDING),
          new Transition(Stage.CANCELLING, Event.CYCLE_ENDS, Stage.IDLE),
          new Transition(Stage.CANCELLING, Event.CYCLE_ENDS_THEN_SUSPEND, Stage.AWAITING_LOCK),
          new Transition(Stage.SUSPENDING, Event.CYCLE_ENDS, Stage.AWAITING_LOCK),
          new Transition(Stage.AWAITING_LOCK, Event.LOCK_TAKEN, Stage.POWERING_DOWN),
          new Transition(Stage.AWAITING_LOCK, Event.LOCK_STILL_HELD, Stage.IDLE),
          new Transition(Stage.POWERING_DOWN, Event.POWER_RETURNS, Stage.IDLE),
          new Transition(Stage.IDLE, Event.SHUTDOWN, Stage.STOPPING),
          new Transition(Stage.RUNNING, Event.SHUTDOWN, Stage.STOPPING),
          new Transition(Stage.CANCELLING, Event.SHUTDOWN, Stage.STOPPING),
          new Transition(Stage.SUSPENDING, Event.SHUTDOWN, Stage.STOPPING),
          new Transition(Stage.AWAITING_LOCK, Event.SHUTDOWN, Stage.STOPPING),
          new Transition(Stage.POWERING_DOWN, Event.SHUTDOWN, Stage.STOPPING),
          new Transition(Stage.STOPPING, Event.CYCLE_ENDS, Stage.STOPPING),
          new Transition(Stage.STOPPING, Event.POWER_RETURNS, Stage.STOPPING));

  /**
   * @param wire what {@code T/state} shows; in {@code STOPPING}, what it showed last
   * @param cycle the cycle being run; null when none
   * @param since when {@code T/state} last changed
   * @param firstLiveConnection messages that arrived on an earlier connection (before the last
   *     power-down) are dropped
   */
  AgentStatus {
    boolean hasCycle =
        stage == Stage.RUNNING || stage == Stage.CANCELLING || stage == Stage.SUSPENDING;
    if (cycle == null ? hasCycle : !hasCycle && stage != Stage.STOPPING) {
      throw new IllegalArgumentException(stage + (cycle == null ? " needs" : " has no") + " cycle");
    }
    if (stage != Stage.STOPPING ? wire != stage.wire : wire == null) {
      throw new IllegalArgumentException(stage + " shows as " + wire);
    }
  }

  /** Idle, before the first connection. */
  static AgentStatus initial(Instant now) {
    return new AgentStatus(Stage.IDLE, AgentState.IDLE, null, now, 0);
  }

  /** Where {@code event} leads from {@code from}; empty when the table does not allow it. */
  static Optional<Stage> target(Stage from, Event event) {
    return TRANSITIONS.stream()
        .filter(t -> t.from() == from && t.event() == event)
        .map(Transition::to)
        .findFirst();
  }

  /** The event for the end of the cycle: with {@code "then": "suspend"}, where that leads on. */
  Event cycleEnds() {
    return cycle != null
            && cycle.thenSuspend
            && target(stage, Event.CYCLE_ENDS_THEN_SUSPEND).isPresent()
        ? Event.CYCLE_ENDS_THEN_SUSPEND
        : Event.CYCLE_ENDS;
  }

  /**
   * The state after {@code event}.
   *
   * @param started the new cycle, for {@link Event#RUN}; ignored otherwise
   * @param connection the current connection's number: after the power returns, only later
   *     connections are live
   * @throws IllegalStateException when {@link #TRANSITIONS} does not allow it (a bug)
   */
  AgentStatus after(Event event, AgentCycle started, long connection, Instant now) {
    Stage to =
        target(stage, event)
            .orElseThrow(
                () -> new IllegalStateException("no transition from " + stage + " on " + event));
    AgentCycle nextCycle =
        switch (to) {
          case RUNNING -> started;
          case CANCELLING, SUSPENDING -> cycle;
          case STOPPING -> event == Event.CYCLE_ENDS ? null : cycle;
          case IDLE, AWAITING_LOCK, POWERING_DOWN -> null;
        };
    long live = event == Event.POWER_RETURNS ? connection + 1 : firstLiveConnection;
    if (to == Stage.STOPPING) {
      return new AgentStatus(to, wire, nextCycle, since, live);
    }
    // Taking the lock changes nothing T/state shows.
    Instant changed = event == Event.LOCK_TAKEN ? since : now;
    return new AgentStatus(to, to.wire, nextCycle, changed, live);
  }
}
