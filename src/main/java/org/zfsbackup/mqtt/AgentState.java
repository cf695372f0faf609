package org.zfsbackup.mqtt;

import java.util.Locale;

/**
 * The agent's one state machine, published retained on {@code T/state}. Every transition happens
 * on the agent's Vert.x context, so two commands can never start two cycles.
 *
 * <pre>
 *                 run                            cycle ends
 *   +------+ ----------------&gt; +---------+ ----------------------------------------&gt; +------+
 *   | IDLE |                   | RUNNING |                                            | IDLE |
 *   +------+                   +---------+ --cancel--&gt; +------------+ --cycle ends--&gt; +------+
 *      |                        |      |               | CANCELLING |                    ^
 *      |                        |      |               +------------+                    |
 *      |                suspend |      | cycle ends,        | suspend                    |
 *      | suspend                |      | then=suspend       v                            |
 *      |                        v      v                                                 |
 *      +-------------------&gt; +------------+  result, offline,   (power.command)          |
 *                            | SUSPENDING | --disconnect------&gt;  runs; when it returns: -+
 *                            +------------+                      reconnect, online, idle
 * </pre>
 *
 * <p>In {@code SUSPENDING} a running cycle first ends (streams in flight finish, or are killed with
 * {@code force}); then the result, the state, {@code offline}, a clean disconnect once every QoS 1
 * publish is acknowledged, and only then the power command. {@code docs/mqtt.md} has the table of
 * what each command does in each state.
 */
public enum AgentState {
  IDLE,
  RUNNING,
  CANCELLING,
  SUSPENDING;

  /** As on {@code T/state}: {@code idle}, {@code running}, {@code cancelling}, {@code suspending}. */
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }
}
