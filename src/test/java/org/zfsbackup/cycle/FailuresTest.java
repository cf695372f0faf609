package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.NullSource;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.Endpoint;

/** The failure classification, as a table: how a process ended -> kind, message, blamed side. */
class FailuresTest {
  static final Duration STALL = Duration.ofSeconds(600);
  static final ReplicationStep STEP =
      new ReplicationStep.Incremental(new Snapshot("a", "g1", 1), new Snapshot("c", "g3", 3));
  static final String HEAD = "tank/data -> bak/src/tank/data: incremental @a..@c ";

  static ProcessResult ok(String program) {
    return new ProcessResult(List.of(program), 0, "", "", false, false);
  }

  static ProcessResult exit(String program, int code, String stderr) {
    return new ProcessResult(List.of(program), code, "", stderr, false, false);
  }

  static ProcessResult notStarted(String program) {
    return new ProcessResult(List.of(program), -1, "", "No such file or directory", true, false);
  }

  /** What a stream stopped by a signal from outside (Ctrl-C, systemctl stop) reports. */
  static final String SIGNALLED =
      "stopped by a signal to its processes (SIGTERM, SIGINT or SIGHUP: systemctl stop, Ctrl-C,"
          + " timeout, a closed terminal) after 42 bytes";

  static ProcessResult timedOut(String program) {
    return new ProcessResult(List.of(program), -1, "", "", false, true);
  }

  /**
   * send, receive, stalled, killed -> kind, the message after the step, and the blamed process
   * ({@code "send"}, {@code "receive"} or null).
   */
  static Stream<Arguments> streams() {
    return Stream.of(
        Arguments.of(
            "forced stop",
            exit("send", -1, ""),
            exit("recv", -1, "killed"),
            false,
            true,
            ErrorKind.INTERRUPTED,
            "killed by a forced stop after 42 bytes",
            null),
        Arguments.of(
            "forced stop wins over a stall",
            exit("send", -1, ""),
            exit("recv", -1, ""),
            true,
            true,
            ErrorKind.INTERRUPTED,
            "killed by a forced stop after 42 bytes",
            null),
        Arguments.of(
            "stall",
            exit("send", -1, ""),
            exit("recv", 1, "cannot receive: stream truncated"),
            true,
            false,
            ErrorKind.STALLED,
            "no byte moved for 600 s; the stream was killed after 42 bytes",
            null),
        Arguments.of(
            "stall: the watchdog's own SIGTERM (143) is the stall's, not a signal from outside",
            exit("send", 143, ""),
            exit("recv", 143, ""),
            true,
            false,
            ErrorKind.STALLED,
            "no byte moved for 600 s; the stream was killed after 42 bytes",
            null),
        Arguments.of(
            "a send still running 30 s after the receive ended, ended by the agent (SIGTERM)",
            exit("send", 143, ""),
            ok("recv"),
            false,
            false,
            ErrorKind.SEND_FAILED,
            "send failed: 'send' exited with 143 after 42 bytes",
            "send"),
        Arguments.of(
            "a signal to the process group (systemctl stop): zfs send died of SIGTERM",
            exit("send", 143, ""),
            exit("recv", 1, "cannot receive: incomplete stream"),
            false,
            false,
            ErrorKind.INTERRUPTED,
            SIGNALLED,
            null),
        Arguments.of(
            "Ctrl-C reached the local ssh (it says so, and exits 255)",
            exit("send", 255, "Killed by signal 2."),
            exit("recv", 130, ""),
            false,
            false,
            ErrorKind.INTERRUPTED,
            SIGNALLED,
            null),
        Arguments.of(
            "send fails, receive fine",
            exit("send", 1, "cannot open 'tank/data@c'"),
            ok("recv"),
            false,
            false,
            ErrorKind.SEND_FAILED,
            "send failed: 'send' exited with 1: cannot open 'tank/data@c' after 42 bytes",
            "send"),
        Arguments.of(
            "send fails, receive says nothing",
            exit("send", 1, "boom"),
            exit("recv", 1, ""),
            false,
            false,
            ErrorKind.SEND_FAILED,
            "send failed: 'send' exited with 1: boom after 42 bytes",
            "send"),
        Arguments.of(
            "send cannot start",
            notStarted("send"),
            exit("recv", 1, " "),
            false,
            false,
            ErrorKind.SEND_FAILED,
            "send failed: could not start 'send': No such file or directory after 42 bytes",
            "send"),
        Arguments.of(
            "ssh 255 on the sending side",
            exit("send", 255, "ssh: connect to host a port 22: Connection refused"),
            ok("recv"),
            false,
            false,
            ErrorKind.HOST_UNREACHABLE,
            "send failed: 'send' exited with 255: ssh: connect to host a port 22:"
                + " Connection refused after 42 bytes",
            "send"),
        Arguments.of(
            "ssh 255 wins over what the receive says",
            exit("send", 255, "Connection reset"),
            exit("recv", 1, "cannot receive: incomplete"),
            false,
            false,
            ErrorKind.HOST_UNREACHABLE,
            "send failed: 'send' exited with 255: Connection reset after 42 bytes",
            "send"),
        Arguments.of(
            "receive refuses, send fine",
            ok("send"),
            exit("recv", 1, "destination has been modified"),
            false,
            false,
            ErrorKind.RECEIVE_FAILED,
            "receive failed: 'recv' exited with 1: destination has been modified after 42 bytes",
            "receive"),
        Arguments.of(
            "both fail, the receive says why",
            exit("send", 141, "broken pipe"),
            exit("recv", 1, "destination has been modified"),
            false,
            false,
            ErrorKind.RECEIVE_FAILED,
            "receive failed: 'recv' exited with 1: destination has been modified;"
                + " then the send: 'send' exited with 141: broken pipe after 42 bytes",
            "receive"),
        Arguments.of(
            "receive timed out",
            ok("send"),
            timedOut("recv"),
            false,
            false,
            ErrorKind.RECEIVE_FAILED,
            "receive failed: 'recv' timed out and was killed after 42 bytes",
            "receive"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("streams")
  void stream_classifiesHowTheStepEnded(
      String name,
      ProcessResult send,
      ProcessResult receive,
      boolean stalled,
      boolean killed,
      ErrorKind kind,
      String why,
      String blamed) {
    PipeResult pr = new PipeResult(42, send, receive, stalled, killed);
    Failures.Failure f =
        Failures.stream(
            "tank/data", "bak/src/tank/data", STEP.toString(), pr, STALL, Failures.Sides.BOTH);
    assertEquals(kind, f.kind());
    assertEquals(HEAD + why, f.message());
    ProcessResult expected = blamed == null ? null : blamed.equals("send") ? send : receive;
    assertSame(expected, f.blamed());
  }

  /**
   * With the exit order known, the stage that failed first is blamed with its own stderr. Catches
   * the pull over ssh whose local receive refused the stream being reported as an unreachable host
   * (ssh exits 255 once its stdout pipe is gone).
   */
  static Stream<Arguments> ordered() {
    return Stream.of(
        Arguments.of(
            "pull: the local receive refuses first, then ssh exits 255",
            exit("ssh", 255, ""),
            exit("zfs", 1, "cannot receive: out of space"),
            PipeResult.Stage.RECEIVE,
            ErrorKind.RECEIVE_FAILED,
            "receive failed: 'zfs' exited with 1: cannot receive: out of space;"
                + " then the send: 'ssh' exited with 255 after 42 bytes",
            "receive"),
        Arguments.of(
            "pull: the connection drops first, then the receive sees a cut stream",
            exit("ssh", 255, "Connection reset"),
            exit("zfs", 1, "cannot receive: incomplete"),
            PipeResult.Stage.SEND,
            ErrorKind.HOST_UNREACHABLE,
            "transfer failed (ssh from the source): 'ssh' exited with 255: Connection reset;"
                + " then the receive: 'zfs' exited with 1: cannot receive: incomplete after 42 bytes",
            "send"),
        Arguments.of(
            "pull: the remote send fails first",
            exit("ssh", 1, "cannot open 'tank/data@c'"),
            exit("zfs", 1, "cannot receive: incomplete"),
            PipeResult.Stage.SEND,
            ErrorKind.SEND_FAILED,
            "send failed: 'ssh' exited with 1: cannot open 'tank/data@c';"
                + " then the receive: 'zfs' exited with 1: cannot receive: incomplete after 42 bytes",
            "send"),
        Arguments.of(
            "pull: the network drops (ssh's own broken pipe), then the receive sees a cut stream",
            exit("ssh", 255, "client_loop: send disconnect: Broken pipe"),
            exit("zfs", 1, "cannot receive incremental stream: incomplete stream"),
            PipeResult.Stage.SEND,
            ErrorKind.HOST_UNREACHABLE,
            "transfer failed (ssh from the source): 'ssh' exited with 255: client_loop: send"
                + " disconnect: Broken pipe; then the receive: 'zfs' exited with 1: cannot receive"
                + " incremental stream: incomplete stream after 42 bytes",
            "send"),
        Arguments.of(
            "the receive runs out of space; the send's broken pipe is seen to exit first",
            exit("zfs", 1, "warning: cannot send 'tank/data@c': Broken pipe"),
            exit("zfs", 1, "cannot receive new filesystem stream: out of space"),
            PipeResult.Stage.SEND,
            ErrorKind.RECEIVE_FAILED,
            "receive failed: 'zfs' exited with 1: cannot receive new filesystem stream: out of"
                + " space; then the send: 'zfs' exited with 1: warning: cannot send"
                + " 'tank/data@c': Broken pipe after 42 bytes",
            "receive"),
        Arguments.of(
            "pull over ssh: the receive runs out of space; the remote send, which says nothing"
                + " (zfs-fuse), is seen to exit first",
            exit("ssh", 1, ""),
            exit("zfs", 1, "cannot receive new filesystem stream: out of space"),
            PipeResult.Stage.SEND,
            ErrorKind.RECEIVE_FAILED,
            "receive failed: 'zfs' exited with 1: cannot receive new filesystem stream: out of"
                + " space; then the send: 'ssh' exited with 1 after 42 bytes",
            "receive"),
        Arguments.of(
            "the send is killed (the OOM killer) first; the receive sees the stream cut short",
            exit("zfs", 137, ""),
            exit("zfs", 1, "cannot receive incremental stream: incomplete stream"),
            PipeResult.Stage.SEND,
            ErrorKind.SEND_FAILED,
            "send failed: 'zfs' exited with 137; then the receive: 'zfs' exited with 1: cannot"
                + " receive incremental stream: incomplete stream after 42 bytes",
            "send"),
        Arguments.of(
            "the remote send fails saying nothing first; the receive sees the stream cut short",
            exit("ssh", 1, ""),
            exit("zfs", 1, "cannot receive new filesystem stream: failed to read from stream"),
            PipeResult.Stage.SEND,
            ErrorKind.SEND_FAILED,
            "send failed: 'ssh' exited with 1; then the receive: 'zfs' exited with 1: cannot"
                + " receive new filesystem stream: failed to read from stream after 42 bytes",
            "send"),
        Arguments.of(
            "push: ssh to the target drops first",
            exit("zfs", 1, "broken pipe"),
            exit("ssh", 255, "Connection reset"),
            PipeResult.Stage.RECEIVE,
            ErrorKind.HOST_UNREACHABLE,
            "transfer failed (ssh to the target): 'ssh' exited with 255: Connection reset;"
                + " then the send: 'zfs' exited with 1: broken pipe after 42 bytes",
            "receive"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("ordered")
  void stream_exitOrderKnown_blamesTheFirstFailure(
      String name,
      ProcessResult send,
      ProcessResult receive,
      PipeResult.Stage first,
      ErrorKind kind,
      String why,
      String blamed) {
    PipeResult pr = new PipeResult(42, send, receive, false, false, false, first);
    Failures.Failure f =
        Failures.stream(
            "tank/data", "bak/src/tank/data", STEP.toString(), pr, STALL, Failures.Sides.BOTH);
    assertEquals(kind, f.kind());
    assertEquals(HEAD + why, f.message());
    assertSame(blamed.equals("send") ? send : receive, f.blamed());
  }

  /**
   * The byte counter died first (the OOM killer, a crash): the send's broken pipe over ssh (255)
   * and the receive's cut stream follow from it. Catches it reported as {@code host_unreachable}
   * for a healthy host, with pv's exit code and words dropped (audit8 #2).
   */
  /**
   * The receive went well, and the counter was killed with a send that outlived it (the watchdog's
   * tail kill; pv exits 32 on SIGTERM): nothing was cut, so the counter is not blamed. Catches
   * "counter_failed ... cutting the stream" for a stream whose receive had it all (review-diff12).
   */
  @Test
  void stream_receiveWentWell_counterKilledAfter_notBlamed() {
    PipeResult pr =
        new PipeResult(
            42,
            exit("zfs", 143, ""),
            ok("zfs"),
            false,
            false,
            false,
            PipeResult.Stage.SEND,
            exit("pv", 32, ""));
    Failures.Failure f =
        Failures.stream(
            "tank/data", "bak/src/tank/data", STEP.toString(), pr, STALL, Failures.Sides.BOTH);
    assertEquals(ErrorKind.SEND_FAILED, f.kind(), f.message());
  }

  /**
   * A side without ssh (a local source, a local backup pool, a push without host) whose zfs exits
   * 255 (a wrapper's code): not ssh's, so neither the host nor the network is blamed. Catches
   * "transfer failed (ssh to the target)" for a pull into a local pool (faults8; verify11 #3 for
   * the send).
   */
  @Test
  void stream_localSidesExit255_notBlamedOnSsh() {
    Failures.Sides local = new Failures.Sides(false, false);
    PipeResult refused =
        new PipeResult(
            42,
            exit("zfs", 141, ""),
            exit("zfs", 255, "wrapper: refused"),
            false,
            false,
            false,
            PipeResult.Stage.RECEIVE);
    Failures.Failure r =
        Failures.stream("tank/data", "bak/src/tank/data", STEP.toString(), refused, STALL, local);
    assertEquals(ErrorKind.RECEIVE_FAILED, r.kind());
    assertTrue(r.message().startsWith(HEAD + "receive failed: 'zfs' exited with 255"), r.message());
    PipeResult sendFailed =
        new PipeResult(
            42, exit("zfs", 255, ""), ok("zfs"), false, false, false, PipeResult.Stage.SEND);
    Failures.Failure s =
        Failures.stream(
            "tank/data", "bak/src/tank/data", STEP.toString(), sendFailed, STALL, local);
    assertEquals(ErrorKind.SEND_FAILED, s.kind());
    assertEquals(
        ErrorKind.HOST_UNREACHABLE,
        Failures.stream(
                "tank/data",
                "bak/src/tank/data",
                STEP.toString(),
                sendFailed,
                STALL,
                new Failures.Sides(true, false))
            .kind(),
        "the same over ssh");
  }

  @ParameterizedTest(name = "exit order: {0}")
  @EnumSource(
      value = PipeResult.Stage.class,
      names = {"COUNTER", "SEND"})
  @NullSource // the send's SIGPIPE comes microseconds after: the order may say either, or none
  void stream_counterFailed_blamesTheCounter(PipeResult.Stage first) {
    ProcessResult counter = exit("pv", 137, "pv: write failed");
    PipeResult pr =
        new PipeResult(
            42,
            exit("ssh", 255, "client_loop: send disconnect: Broken pipe"),
            exit("zfs", 1, "cannot receive incremental stream: incomplete stream"),
            false,
            false,
            false,
            first,
            counter);
    Failures.Failure f =
        Failures.stream(
            "tank/data", "bak/src/tank/data", STEP.toString(), pr, STALL, Failures.Sides.BOTH);
    assertEquals(ErrorKind.COUNTER_FAILED, f.kind());
    assertEquals(
        HEAD
            + "counter failed, cutting the stream (the byte counter between send and receive):"
            + " 'pv' exited with 137: pv: write failed; then the receive: 'zfs' exited with 1:"
            + " cannot receive incremental stream: incomplete stream after 42 bytes",
        f.message());
    assertSame(counter, f.blamed());
  }

  /**
   * A process that outlived the kill makes the stream {@code stuck}, whatever else is known: the
   * stall or forced stop that killed it, and the exit order of the stages that did exit (they
   * failed because of the kill). Catches a stuck stream reported as stalled, interrupted or a send
   * failure, which would hide that a process is still running; and a message that does not say
   * which one.
   */
  @Test
  void stream_stuck_winsOverTheKillAndTheExitOrder() {
    String why =
        "a process of the stream was still running after SIGTERM and SIGKILL and was"
            + " abandoned (blocked in the kernel? see the pool's health and failmode; it may need a"
            + " reboot): receive still running after 42 bytes";
    PipeResult stalled =
        new PipeResult(
            42,
            exit("send", 143, ""),
            exit("recv", -1, ""),
            true,
            false,
            true,
            PipeResult.Stage.SEND);
    PipeResult stopped =
        new PipeResult(42, exit("send", 143, ""), exit("recv", -1, ""), false, true, true, null);
    // the send ended, the receive did not within 30 s, and outlived the kill that followed
    PipeResult tail =
        new PipeResult(42, ok("send"), exit("recv", -1, ""), false, false, true, null);
    for (PipeResult pr : List.of(stalled, stopped, tail)) {
      Failures.Failure f =
          Failures.stream(
              "tank/data", "bak/src/tank/data", STEP.toString(), pr, STALL, Failures.Sides.BOTH);
      assertEquals(ErrorKind.STUCK, f.kind());
      assertEquals(HEAD + why, f.message());
      assertNull(f.blamed());
      assertEquals(Optional.empty(), Failures.incrementalRefused(pr));
    }
  }

  /**
   * OpenZFS's refusal of receive -F onto an encrypted dataset or of a raw stream onto a plain one.
   */
  static final String ENCRYPTED_NO_FORCE =
      "cannot receive new filesystem stream: zfs receive -F cannot be used to destroy"
          + " an encrypted filesystem or overwrite an unencrypted one with an encrypted one";

  static final ReplicationStep FULL_A = new ReplicationStep.Full(new Snapshot("a", "g1", 1));

  @Test
  void placeholderBlocked_openZfsEncryptionRefusal_namesTheManualFix() {
    String stderr = ENCRYPTED_NO_FORCE;
    PipeResult pr = new PipeResult(42, exit("ssh", 255, ""), exit("zfs", 1, stderr), false, false);
    Endpoint local = Endpoint.local(List.of("zfs"));
    Failures.Failure f =
        Failures.placeholderBlocked("tank/p", "bak/h/tank/p", FULL_A, pr, false, local, local)
            .orElseThrow();
    assertEquals(ErrorKind.PLACEHOLDER_BLOCKED, f.kind());
    assertTrue(
        f.message().contains("zfs send tank/p@a | zfs receive -u bak/h/tank/p-new"), f.message());
    assertTrue(f.message().contains("zfs destroy bak/h/tank/p (empty"), f.message());
    assertTrue(f.message().contains("on an encrypted filesystem"), f.message());
    PipeResult other = new PipeResult(42, ok("s"), exit("zfs", 1, "out of space"), false, false);
    assertTrue(
        Failures.placeholderBlocked("tank/p", "bak/h/tank/p", FULL_A, other, false, local, local)
            .isEmpty());
  }

  // Catches: a raw push told to send without -w (the copy would be stored unencrypted offsite, and
  // every later raw incremental refused), without ssh to the push host, or blamed on an encrypted
  // placeholder when it is the raw stream that OpenZFS refuses over an unencrypted one.
  @Test
  void placeholderBlocked_rawPushToAHost_fixSendsRawOverSsh() {
    String stderr = ENCRYPTED_NO_FORCE;
    PipeResult pr = new PipeResult(42, ok("s"), exit("ssh", 1, stderr), false, false);
    Endpoint offsite =
        Endpoint.remote(
            "offsite",
            Optional.of("zb"),
            Optional.of(2222),
            List.of("ssh"),
            List.of("zfs"),
            Duration.ofSeconds(5));
    String m =
        Failures.placeholderBlocked(
                "bak/h/tank/p",
                "off/h/tank/p",
                FULL_A,
                pr,
                true,
                Endpoint.local(List.of("zfs")),
                offsite)
            .orElseThrow()
            .message();
    assertTrue(
        m.contains(
            "zfs send -w bak/h/tank/p@a | ssh -p 2222 zb@offsite zfs receive -u off/h/tank/p-new"),
        m);
    assertTrue(m.contains("ssh -p 2222 zb@offsite zfs destroy off/h/tank/p (empty"), m);
    assertTrue(m.contains("raw (encrypted) stream over an existing filesystem"), m);
  }

  // Catches: a pull's fix that sends from the backup server, where the source dataset is not.
  @Test
  void placeholderBlocked_pullFromAHost_fixSendsOverSshFromTheSource() {
    String stderr = ENCRYPTED_NO_FORCE;
    PipeResult pr = new PipeResult(42, ok("s"), exit("zfs", 1, stderr), false, false);
    Endpoint storage =
        Endpoint.remote(
            "storage",
            Optional.empty(),
            Optional.empty(),
            List.of("ssh"),
            List.of("zfs"),
            Duration.ofSeconds(5));
    String m =
        Failures.placeholderBlocked(
                "tank/p",
                "bak/h/tank/p",
                FULL_A,
                pr,
                false,
                storage,
                Endpoint.local(List.of("zfs")))
            .orElseThrow()
            .message();
    assertTrue(m.contains("(ssh storage zfs send tank/p@a | zfs receive -u bak/h/tank/p-new)"), m);
    assertTrue(m.contains("(zfs rename), zfs destroy bak/h/tank/p (empty"), m);
  }

  @Test
  void incrementalRefused_openZfsAndZfsFuseWordings() {
    PipeResult modified =
        new PipeResult(
            1,
            ok("s"),
            exit(
                "zfs",
                1,
                "cannot receive incremental stream: destination bak/x has been modified\nsince most recent snapshot"),
            false,
            false);
    assertEquals(Optional.of(true), Failures.incrementalRefused(modified));
    PipeResult newer =
        new PipeResult(
            1,
            ok("s"),
            exit(
                "zfs",
                1,
                "cannot receive incremental stream: most recent snapshot of bak/x does not\nmatch incremental source"),
            false,
            false);
    // the words span two lines in both messages; another refusal is not one of these
    assertEquals(
        Optional.empty(),
        Failures.incrementalRefused(
            new PipeResult(1, ok("s"), exit("zfs", 1, "out of space"), false, false)));
    assertEquals(Optional.of(false), Failures.incrementalRefused(newer));
  }

  static Stream<Arguments> listings() {
    return Stream.of(
        Arguments.of(exit("ssh", 255, "Connection refused"), ErrorKind.HOST_UNREACHABLE),
        Arguments.of(timedOut("ssh"), ErrorKind.HOST_UNREACHABLE),
        Arguments.of(exit("zfs", 1, "permission denied"), ErrorKind.LIST_FAILED),
        Arguments.of(exit("ssh", 127, "zfs: command not found"), ErrorKind.LIST_FAILED),
        Arguments.of(notStarted("zfs"), ErrorKind.LIST_FAILED),
        // A signal to the whole process group stopped it (systemctl stop, timeout, Ctrl-C).
        Arguments.of(exit("zfs", 143, ""), ErrorKind.INTERRUPTED),
        Arguments.of(exit("ssh", 255, "Killed by signal 15."), ErrorKind.INTERRUPTED),
        // SIGHUP: the terminal of an interactive run closed.
        Arguments.of(exit("zfs", 129, ""), ErrorKind.INTERRUPTED),
        Arguments.of(exit("ssh", 255, "Killed by signal 1."), ErrorKind.INTERRUPTED),
        // The agent's own kill of a listing that ran too long: the host's.
        Arguments.of(
            new ProcessResult(List.of("ssh"), -1, "", "Killed by signal 15.", false, true),
            ErrorKind.HOST_UNREACHABLE));
  }

  @ParameterizedTest
  @MethodSource("listings")
  void listing_unreachableHostOrFailedListing(ProcessResult r, ErrorKind kind) {
    assertEquals(kind, Failures.listing("h", r, false, true).kind());
    // Catches a listing killed by the user's forced stop blamed on the host (ssh exits 255 then).
    assertEquals(ErrorKind.INTERRUPTED, Failures.listing("h", r, true, true).kind());
  }

  /**
   * A local source's zfs (a wrapper) that exits 255, or hangs: its own failure, not an unreachable
   * host (review-diff12 L3).
   */
  @Test
  void listing_localSide_255OrTimeout_listFailed() {
    assertEquals(
        ErrorKind.LIST_FAILED,
        Failures.listing("local", exit("zfs", 255, "wrapper: refused"), false, false).kind());
    ProcessResult hung = new ProcessResult(List.of("zfs"), -1, "", "", false, true);
    assertEquals(ErrorKind.LIST_FAILED, Failures.listing("local", hung, false, false).kind());
  }
}
