package org.zfsbackup.command;

import java.util.Locale;
import java.util.Objects;

/** What {@link CommandParser} made of a payload: a command, or why nothing may run. */
public sealed interface ParseResult permits ParseResult.Accepted, ParseResult.Rejection {

  record Accepted(AgentCommand command) implements ParseResult {
    public Accepted {
      Objects.requireNonNull(command);
    }
  }

  /**
   * A payload that must not run anything. The agent publishes it on {@code T/error} with kind
   * {@link Reason#kind()}.
   *
   * @param message one line for a person; never echoes more than a short prefix of the payload
   */
  record Rejection(Reason reason, String message) implements ParseResult {
    public Rejection {
      Objects.requireNonNull(reason);
      Objects.requireNonNull(message);
    }
  }

  /** Why a payload was rejected. */
  enum Reason {
    /** A retained message on {@code T}: it may be days old; a command must be live. */
    RETAINED,
    /** {@code issued_at + ttl_s} is in the past. */
    STALE,
    /** Not one of run, suspend, cancel, status (or no {@code command} field). */
    UNKNOWN_COMMAND,
    /** Starts like JSON ({@code {}) but is not one JSON object (syntax, duplicate keys, trailing data). */
    MALFORMED_JSON,
    /** A known field with a value of the wrong JSON type. */
    WRONG_TYPE,
    /**
     * A field the command does not take (typos such as {@code dry-run} must not run a real backup).
     */
    UNKNOWN_FIELD,
    /** A field of the right type with a value that is not allowed (e.g. {@code then: "reboot"}). */
    INVALID_VALUE,
    /** Over 64 KiB. */
    TOO_LARGE,
    /** Not valid UTF-8. */
    INVALID_UTF8,
    /** A {@code datasets} entry that is not exactly a configured {@code source-name:dataset}. */
    UNCONFIGURED_DATASET;

    /** The {@code kind} on {@code T/error}, e.g. {@code command_stale}. */
    public String kind() {
      return "command_" + name().toLowerCase(Locale.ROOT);
    }
  }
}
