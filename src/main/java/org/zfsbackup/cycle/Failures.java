package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.zfs.Endpoint;

/**
 * What a failed process means: which {@link ErrorKind}, the words for a person, and the process
 * whose exit code and stderr go with the error. Pure: results in, a classification out.
 */
final class Failures {

  /** ssh's own failure (connection refused, timeout, auth): the host, not zfs. */
  static final int SSH_FAILURE = 255;

  /**
   * @param message one line for a person
   * @param blamed the process whose exit code and stderr go with the error; null when none does
   */
  record Failure(ErrorKind kind, String message, ProcessResult blamed) {}

  private Failures() {}

  /**
   * A listing of {@code side} (a source) that failed for more than missing roots. A forced stop, or
   * a signal to the process group, kills the listing in flight (ssh then exits 255, zfs 143): that
   * is the stop's doing, not the host's. Only over ssh ({@code overSsh}) is 255 or a timeout the
   * host's: a local zfs that exits 255 or hangs is its own failure.
   */
  static Failure listing(String side, ProcessResult r, boolean forcedStop, boolean overSsh) {
    if (forcedStop) {
      return new Failure(
          ErrorKind.INTERRUPTED, "listing " + side + " killed by a forced stop", null);
    } else if (signalled(r)) {
      String why = " stopped by a signal to its process: " + r.describe();
      return new Failure(ErrorKind.INTERRUPTED, "listing " + side + why, null);
    }
    ErrorKind kind =
        overSsh && (r.exitCode() == SSH_FAILURE || r.timedOut())
            ? ErrorKind.HOST_UNREACHABLE
            : ErrorKind.LIST_FAILED;
    return new Failure(kind, "cannot list " + side + ": " + r.describe(), r);
  }

  /**
   * A {@code send | receive} step that did not go through. A forced stop or a stall explains both
   * sides' exit codes. Otherwise the stage that failed first is blamed, with its own stderr: a
   * receive that refuses the stream breaks the pipe, and the send (over ssh: ssh, exit 255) fails
   * after it; a connection that drops cuts the stream, and the receive fails after it. When the
   * order is not known, the send is blamed when the receive went well or said nothing (it only saw
   * the stream end), and always when ssh itself failed on the sending side; in every other case the
   * receive, which says why it refused the stream.
   *
   * @param step the step as it is named in messages (a {@code ReplicationStep}'s, or a resume's)
   * @param stallTimeout the bound a stalled stream exceeded, for the message
   * @param sides which side runs over ssh: only there is an exit code of 255 ssh's
   */
  static Failure stream(
      String dataset, String dst, String step, PipeResult pr, Duration stallTimeout, Sides sides) {
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
    } else if (signalled(receive) || signalled(send) && !receive.ok()) {
      // (A send killed after a receive that went well is the watchdog's: it outlived the receive.)
      kind = ErrorKind.INTERRUPTED;
      why =
          "stopped by a signal to its processes (SIGTERM, SIGINT or SIGHUP: systemctl stop, Ctrl-C,"
              + " timeout, a closed terminal)";
      blamed = null;
    } else if (pr.counter() != null && !pr.counter().ok() && !receive.ok()) {
      // Killed (the OOM killer) or crashed in the middle: the send's broken pipe (ssh's 255) and
      // the receive's cut stream follow from it; neither the host nor zfs is to blame. Whatever
      // the exit order said: the send's SIGPIPE comes microseconds after. pv never fails because of
      // the others: a receive that closed the pipe ends it with 0, a send that failed with an EOF.
      // (A counter killed with a send that outlived a receive that went well cut nothing.)
      kind = ErrorKind.COUNTER_FAILED;
      why =
          "counter failed, cutting the stream (the byte counter between send and receive): "
              + pr.counter().describe()
              + "; then the receive: "
              + receive.describe();
      blamed = pr.counter();
    } else if (!receive.ok()
        && (pr.firstFailure() == PipeResult.Stage.RECEIVE || brokenPipe(send, receive))) {
      boolean ssh = sides.receive() && receive.exitCode() == SSH_FAILURE;
      kind = ssh ? ErrorKind.HOST_UNREACHABLE : ErrorKind.RECEIVE_FAILED;
      why =
          (ssh ? "transfer failed (ssh to the target): " : "receive failed: ")
              + receive.describe()
              + (send.ok() ? "" : "; then the send: " + send.describe());
      blamed = receive;
    } else if (pr.firstFailure() == PipeResult.Stage.SEND && !send.ok()) {
      boolean ssh = sides.send() && send.exitCode() == SSH_FAILURE;
      kind = ssh ? ErrorKind.HOST_UNREACHABLE : ErrorKind.SEND_FAILED;
      why =
          (ssh ? "transfer failed (ssh from the source): " : "send failed: ")
              + send.describe()
              + (receive.ok() ? "" : "; then the receive: " + receive.describe());
      blamed = send;
    } else if (!send.ok()
        && (receive.ok()
            || receive.stderrTail().isBlank()
            || sides.send() && send.exitCode() == SSH_FAILURE)) {
      boolean ssh = sides.send() && send.exitCode() == SSH_FAILURE;
      kind = ssh ? ErrorKind.HOST_UNREACHABLE : ErrorKind.SEND_FAILED;
      why = "send failed: " + send.describe();
      blamed = send;
    } else {
      kind = ErrorKind.RECEIVE_FAILED;
      why =
          "receive failed: " + receive.describe() + (send.ok() ? "" : "; send: " + send.describe());
      blamed = receive;
    }
    String message =
        dataset + " -> " + dst + ": " + step + " " + why + " after " + pr.bytes() + " bytes";
    return new Failure(kind, message, blamed);
  }

  /** Which side of a stream runs over ssh (a side without {@code host} runs zfs here). */
  record Sides(boolean send, boolean receive) {
    static final Sides BOTH = new Sides(true, true);
  }

  /**
   * The process died of SIGTERM, SIGINT or SIGHUP (status 128 + the signal; ssh says "Killed by
   * signal"): a signal to the whole process group — systemctl stop with a unit's default KillMode,
   * Ctrl-C, timeout, or the terminal of an interactive {@code run} closing — reaches the agent's
   * children at the same moment as the agent, before it records the stop. Not a failure of the host
   * or of zfs. (The agent's own kills are {@link PipeResult#killed} and {@link PipeResult#stalled},
   * checked first.)
   */
  static boolean signalled(ProcessResult r) {
    return !r.ok()
        && !r.startFailed()
        && !r.timedOut() // the agent's own kill of a short command that ran too long
        && (r.diedOfStopSignal()
            || r.stderrTail().contains("Killed by signal 15")
            || r.stderrTail().contains("Killed by signal 2")
            || r.stderrTail().contains("Killed by signal 1."));
  }

  /**
   * The send (zfs, not ssh) failed writing into a pipe the receive had closed, and the receive said
   * why: the receive went first, whatever order the exits were seen in (they come microseconds
   * apart, and the JVM's reaper threads may see them either way round). A send that exited 1 saying
   * nothing counts too: a remote {@code zfs send} whose pipe broke does so through ssh on zfs-fuse,
   * and a send that fails for a reason of its own says which; not when the receive only saw the
   * stream cut short, nor a send killed by a signal (137, the OOM killer) or a crash.
   */
  private static boolean brokenPipe(ProcessResult send, ProcessResult receive) {
    String received = receive.stderrTail().toLowerCase(Locale.ROOT);
    boolean cut = received.contains("incomplete stream") || received.contains("failed to read");
    return !send.ok()
        && send.exitCode() != SSH_FAILURE // ssh's own "Broken pipe" is the network dropping
        && (send.exitCode() == 141
            || send.exitCode() == 1 && send.stderrTail().isBlank() && !cut // not a killed send
            || send.stderrTail().toLowerCase(Locale.ROOT).contains("broken pipe"))
        && !received.isBlank();
  }

  /** OpenZFS's refusal to replace an encrypted filesystem (libzfs_sendrecv.c, zfs_receive_one). */
  static final String ENCRYPTED_NO_FORCE =
      "zfs receive -F cannot be used to destroy an encrypted filesystem";

  /**
   * A full stream refused by the agent's placeholder it was to replace with {@code -F}: OpenZFS
   * does not let {@code -F} destroy an encrypted filesystem, nor overwrite an unencrypted one with
   * a raw (encrypted) stream, nor replace a dataset that has children with a volume
   * (lib/libzfs/libzfs_sendrecv.c). Such a dataset fails once per cycle with the manual fix, rather
   * than being retried as if the next attempt could succeed. The fix's commands are the route's:
   * {@code -w} for a raw push (a plain send would store the data unencrypted, and every later raw
   * incremental would be refused), ssh to the push host.
   *
   * @param raw the route sends raw ({@code push.raw})
   * @param source the sending side
   * @param target the receiving side
   */
  static Optional<Failure> placeholderBlocked(
      String dataset,
      String dst,
      ReplicationStep step,
      PipeResult pr,
      boolean raw,
      Endpoint source,
      Endpoint target) {
    String stderr = pr.receive().stderrTail();
    String reason;
    if (stderr.contains(ENCRYPTED_NO_FORCE)) {
      reason =
          raw
              ? "OpenZFS refuses `zfs receive -F` of a raw (encrypted) stream over an existing"
                  + " filesystem, and of any stream over an encrypted one"
              : "OpenZFS refuses `zfs receive -F` on an encrypted filesystem";
    } else if (stderr.contains("destination has children")) {
      reason = "OpenZFS does not replace a dataset that has children with a volume";
    } else {
      return Optional.empty();
    }
    String on = target.byHand();
    String message =
        String.format(
            "%s -> %s: %s refused: %s is an empty placeholder the agent created for its children,"
                + " and %s. Fix by hand (see docs/design.md, Placeholders): receive the full"
                + " stream beside it (%szfs send %s%s@%s | %szfs receive -u %s-new), move each child"
                + " of %s into %s-new (%szfs rename), %szfs destroy %s (empty, no snapshots), then"
                + " %szfs rename %s-new %s; the next cycle goes on incrementally",
            dataset,
            dst,
            step,
            dst,
            reason,
            source.byHand(),
            raw ? "-w " : "",
            dataset,
            step.to().name(),
            on,
            dst,
            dst,
            dst,
            on,
            on,
            dst,
            on,
            dst,
            dst);
    return Optional.of(new Failure(ErrorKind.PLACEHOLDER_BLOCKED, message, pr.receive()));
  }

  /**
   * Whether the receive refused an incremental because of the state of the target: present when it
   * did, true when it said the destination "has been modified since most recent snapshot" (OpenZFS
   * says so for a written head and for newer snapshots), false when it said the most recent
   * snapshot "does not match incremental source" (zfs-fuse, for newer snapshots). Which one it is,
   * only a fresh listing tells ({@code plan.ReceiveRules}).
   */
  static Optional<Boolean> incrementalRefused(PipeResult pr) {
    ProcessResult receive = pr.receive();
    if (receive.ok() || pr.cutShort()) {
      return Optional.empty();
    }
    String stderr = receive.stderrTail().replace('\n', ' ');
    if (stderr.contains("has been modified since most recent snapshot")) {
      return Optional.of(true);
    }
    if (stderr.contains("does not match incremental source")) {
      return Optional.of(false);
    }
    return Optional.empty();
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
