package org.zfsbackup.mqtt;

import java.util.Locale;

/**
 * What {@code T/state} shows (retained): {@code idle}, {@code running}, {@code cancelling}, {@code
 * suspending}. The agent's state machine, with its diagram and transition table, is {@code
 * AgentStatus}; each of its stages shows as one of these. {@code docs/mqtt.md} has the table of
 * what each command does in each state.
 */
public enum AgentState {
  IDLE,
  RUNNING,
  CANCELLING,
  SUSPENDING;

  /**
   * As on {@code T/state}: {@code idle}, {@code running}, {@code cancelling}, {@code suspending}.
   */
  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }
}
