package org.zfsbackup.exec;

import java.util.List;

/**
 * How a process ended.
 *
 * @param exitCode -1 when it did not start or was killed on timeout
 * @param stdout all of stdout (short commands only: listings, properties)
 * @param stderrTail the last lines of stderr, for error messages
 * @param startFailed it could not be started (program not found, ...)
 * @param timedOut it was killed after the timeout
 */
public record ProcessResult(
    List<String> argv,
    int exitCode,
    String stdout,
    String stderrTail,
    boolean startFailed,
    boolean timedOut) {

  /**
   * The process died of a signal that stops a run from outside (status 128 + the signal): SIGHUP (a
   * closed terminal), SIGINT (Ctrl-C) or SIGTERM (systemctl stop, timeout).
   */
  public boolean diedOfStopSignal() {
    return exitCode == 128 + 1 || exitCode == 128 + 2 || exitCode == 128 + 15;
  }

  public boolean ok() {
    return exitCode == 0 && !startFailed && !timedOut;
  }

  /** How many lines of stderr {@code stderrTail} keeps: one this long may have lost its start. */
  public static final int STDERR_LINES = StderrTail.LINES;

  /** The exit code for an error report: null when it did not start or was killed on timeout. */
  public Integer exitCodeIfRan() {
    return startFailed || timedOut ? null : exitCode;
  }

  /** The stderr tail for an error report: null when blank. */
  public String stderrOrNull() {
    return stderrTail.isBlank() ? null : stderrTail;
  }

  /** One line for a person: what failed and why. */
  public String describe() {
    String cmd = String.join(" ", argv);
    if (startFailed) {
      return "could not start '" + cmd + "': " + stderrTail;
    }
    if (timedOut) {
      return "'"
          + cmd
          + "' timed out and was killed"
          + (stderrTail.isBlank() ? "" : ": " + stderrTail);
    }
    return "'"
        + cmd
        + "' exited with "
        + exitCode
        + (stderrTail.isBlank() ? "" : ": " + stderrTail);
  }
}
