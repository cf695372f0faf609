package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.ReplicationStep;

/**
 * What a failed process means: which {@link ErrorKind}, the words for a person, and the process
 * whose exit code and stderr go with the error. Pure: results in, a classification out.
 */
final class Failures {

  /** ssh's own failure (connection refused, timeout, auth): the host, not zfs. */
  static final int SSH_FAILURE = 255;

  /**
   * @param message one line for a person
   * @param blamed  the process whose exit code and stderr go with the error; null when none does
   */
  record Failure(ErrorKind kind, String message, ProcessResult blamed) {}

  private Failures() {}

  /** A listing of a source side that failed for more than missing roots. */
  static ErrorKind listing(ProcessResult r) {
    return r.exitCode() == SSH_FAILURE || r.timedOut()
        ? ErrorKind.HOST_UNREACHABLE
        : ErrorKind.LIST_FAILED;
  }

  /**
   * A {@code send | receive} step that did not go through. A forced stop or a stall explains
   * both sides' exit codes. Otherwise the send is blamed when the receive went well or said
   * nothing (it only saw the stream end), and always when ssh itself failed on the sending side;
   * in every other case the receive, which says why it refused the stream.
   *
   * @param stallTimeout the bound a stalled stream exceeded, for the message
   */
  static Failure stream(
      String dataset, String dst, ReplicationStep step, PipeResult pr, Duration stallTimeout) {
    return stream(dataset, dst, step.toString(), pr, stallTimeout);
  }

  /** {@link #stream(String, String, ReplicationStep, PipeResult, Duration)} of a step so named. */
  static Failure stream(
      String dataset, String dst, String step, PipeResult pr, Duration stallTimeout) {
    ErrorKind kind;
    String why;
    ProcessResult blamed;
    ProcessResult send = pr.send();
    ProcessResult receive = pr.receive();
    if (pr.stuck()) {
      kind = ErrorKind.STUCK;
      why =
          "a process of the stream was still running after SIGTERM and SIGKILL and was abandoned"
              + " (blocked in the kernel? see the pool's health and failmode; it may need a reboot)"
              + processes(pr);
      blamed = null;
    } else if (pr.killed()) {
      kind = ErrorKind.INTERRUPTED;
      why = "killed by a forced stop";
      blamed = null;
    } else if (pr.stalled()) {
      kind = ErrorKind.STALLED;
      why = "no byte moved for " + stallTimeout.toSeconds() + " s; the stream was killed";
      blamed = null;
    } else if (!send.ok()
        && (receive.ok()
            || receive.stderrTail().isBlank()
            || send.exitCode() == SSH_FAILURE)) {
      kind = send.exitCode() == SSH_FAILURE ? ErrorKind.HOST_UNREACHABLE : ErrorKind.SEND_FAILED;
      why = "send failed: " + send.describe();
      blamed = send;
    } else {
      kind = ErrorKind.RECEIVE_FAILED;
      why =
          "receive failed: "
              + receive.describe()
              + (send.ok() ? "" : "; send: " + send.describe());
      blamed = receive;
    }
    String message =
        dataset + " -> " + dst + ": " + step + " " + why + " after " + pr.bytes() + " bytes";
    return new Failure(kind, message, blamed);
  }

  /** Which side was still running (exit code -1), for a stuck stream's message. */
  private static String processes(PipeResult pr) {
    List<String> alive = new ArrayList<>();
    if (pr.send().exitCode() == -1) {
      alive.add("send");
    }
    if (pr.receive().exitCode() == -1) {
      alive.add("receive");
    }
    return alive.isEmpty() ? "" : ": " + String.join(" and ", alive) + " still running";
  }
}
