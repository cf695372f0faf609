package org.zfsbackup.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.LogCapture;
import org.zfsbackup.testing.Prerequisites;

/** Real short processes (sh, head): the stdout cap, and which stage of a stream failed first. */
class RealProcessRunnerTest {
  static final ProcessRunner.KillSwitch NO_KILL =
      new ProcessRunner.KillSwitch() {
        @Override
        public void register(Runnable kill) {}

        @Override
        public void unregister(Runnable kill) {}
      };

  /** Catches output past the cap being cut silently (a listing that lost its last datasets). */
  @Test
  void run_outputPastTheCap_failsWithNothingOfIt() {
    ProcessResult r =
        new RealProcessRunner(List.of(), 1000)
            .run(List.of("head", "-c", "5000", "/dev/zero"), Duration.ofSeconds(10));
    assertFalse(r.ok(), r.toString());
    assertEquals("", r.stdout());
    assertTrue(r.describe().contains("output exceeded 1000 bytes and was discarded"), r.describe());
  }

  /**
   * Output under the cap that the heap cannot hold (two listings of 100,000 snapshots side by side
   * under the units' -Xmx256m): that command fails, saying why, and its output is not taken for the
   * whole. Catches a collector thread that died of it and left a cut listing behind. In a JVM of
   * its own with a 32 MB heap, so this one does not run short.
   */
  @Test
  void run_outputTheHeapCannotHold_failsSayingSo() throws Exception {
    Process jvm =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx32m",
                "-cp",
                System.getProperty("java.class.path"),
                HugeOutput.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(jvm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(jvm.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, jvm.exitValue(), out);
    assertTrue(out.contains("ok=false stdout=0"), out);
    assertTrue(out.contains("ran out of memory holding its output"), out);
  }

  /** Runs a command whose 48 MB of output (under the 64 MiB cap) a 32 MB heap cannot hold. */
  public static final class HugeOutput {
    public static void main(String[] args) {
      ProcessResult r =
          new RealProcessRunner(List.of())
              .run(List.of("head", "-c", "48000000", "/dev/zero"), Duration.ofSeconds(30));
      System.out.println("ok=" + r.ok() + " stdout=" + r.stdout().length() + " " + r.describe());
    }
  }

  @Test
  void run_outputUnderTheCap_ok() {
    ProcessResult r =
        new RealProcessRunner(List.of(), 1000)
            .run(List.of("head", "-c", "1000", "/dev/zero"), Duration.ofSeconds(10));
    assertTrue(r.ok(), r.toString());
    assertEquals(1000, r.stdout().length());
  }

  /**
   * The receive refuses at once; the send fails a second later (as ssh does once its stdout is
   * gone): the receive is the first failure. Catches an exit order that is not recorded.
   */
  @Test
  void pipe_receiveFailsFirst_firstFailureIsTheReceive() {
    for (List<String> pv : List.of(List.<String>of(), List.of("pv"))) {
      if (!pv.isEmpty()) {
        Prerequisites.requireProgram("pv");
      }
      PipeResult r =
          new RealProcessRunner(pv)
              .pipe(
                  List.of("sh", "-c", "sleep 1; exit 255"),
                  List.of("sh", "-c", "exit 1"),
                  b -> {},
                  Duration.ofSeconds(30),
                  NO_KILL);
      assertEquals(PipeResult.Stage.RECEIVE, r.firstFailure(), "pv " + pv + ": " + r);
    }
  }

  /**
   * A counter that dies mid-stream: its exit code and its own words (not its byte counts) are kept.
   * Catches pv's result dropped, so that the send's broken pipe was blamed (audit8 #2). (Which
   * failed first is not asserted: the send's SIGPIPE comes microseconds after.)
   */
  @Test
  void pipe_counterDiesMidStream_itsResultIsKept() {
    PipeResult r =
        new RealProcessRunner(
                List.of(
                    "sh",
                    "-c",
                    "head -c 1000 >/dev/null; echo 1000 >&2; echo 'counter: broken' >&2; exit 9",
                    "pv"))
            .pipe(
                List.of("sh", "-c", "sleep 0.5; head -c 10000000 /dev/zero"),
                List.of("sh", "-c", "cat >/dev/null; sleep 1; exit 1"),
                b -> {},
                Duration.ofSeconds(30),
                NO_KILL);
    assertEquals(9, r.counter().exitCode(), r.toString());
    assertEquals("counter: broken", r.counter().stderrTail());
    assertEquals(1000, r.bytes());
  }

  /**
   * A counter that prints no count while the data flows through it: pv after an NTP step back of
   * the wall clock, which paces its output (Debian's pv 1.6), is silent that long. Catches a moving
   * stream killed as stalled once the step was longer than stall_timeout_s; a stream that really
   * stops is still killed. (The step itself cannot be made here: the clock is the machine's.)
   */
  @Test
  void pipe_counterSilentWhileTheDataFlows_notStalled_aStoppedOneIs() {
    List<String> silentCounter = List.of("sh", "-c", "exec cat", "pv");
    PipeResult moving =
        new RealProcessRunner(silentCounter)
            .pipe(
                List.of(
                    "sh", "-c", "for i in $(seq 20); do head -c 1000 /dev/zero; sleep 0.2; done"),
                List.of("sh", "-c", "cat >/dev/null"),
                b -> {},
                Duration.ofSeconds(2),
                NO_KILL);
    assertFalse(moving.stalled(), moving.toString());
    assertTrue(moving.receive().ok(), moving.toString());

    PipeResult stopped =
        new RealProcessRunner(silentCounter)
            .pipe(
                List.of("sh", "-c", "head -c 1000 /dev/zero; sleep 8"),
                List.of("sh", "-c", "cat >/dev/null"),
                b -> {},
                Duration.ofSeconds(2),
                NO_KILL);
    assertTrue(stopped.stalled(), stopped.toString());
  }

  @Test
  void pipe_sendFailsFirst_firstFailureIsTheSend() {
    PipeResult r =
        new RealProcessRunner(List.of())
            .pipe(
                List.of("sh", "-c", "exit 3"),
                List.of("sh", "-c", "cat >/dev/null; sleep 1; exit 1"),
                b -> {},
                Duration.ofSeconds(30),
                NO_KILL);
    assertEquals(PipeResult.Stage.SEND, r.firstFailure(), r.toString());
  }

  @Test
  void pipe_allWell_noFirstFailure() {
    PipeResult r =
        new RealProcessRunner(List.of())
            .pipe(
                List.of("sh", "-c", "echo hi"),
                List.of("sh", "-c", "cat >/dev/null"),
                b -> {},
                Duration.ofSeconds(30),
                NO_KILL);
    assertTrue(r.ok());
    assertEquals(null, r.firstFailure());
  }

  /**
   * At log level debug each stream's commands are logged, as the scripts' {@code --debug} printed
   * them (the operator checks that {@code -u}, {@code -w} or {@code -F} are passed).
   */
  @Test
  void pipe_atDebug_logsTheStreamsCommands() {
    List<String> logged;
    try (LogCapture logs =
        LogCapture.of(RealProcessRunner.class, ch.qos.logback.classic.Level.DEBUG)) {
      new RealProcessRunner(List.of())
          .pipe(
              List.of("sh", "-c", "echo hi"),
              List.of("cat"),
              b -> {},
              Duration.ofSeconds(30),
              NO_KILL);
      logged = logs.messages();
    }
    assertTrue(logged.contains("stream: [sh, -c, echo hi] | [cat]"), logged.toString());
  }

  /**
   * Catches a missing counter reported as "could not start 'zfs send …'" (pv is what is missing).
   */
  @Test
  void pipe_counterMissing_namesTheCounter() {
    PipeResult r =
        new RealProcessRunner(List.of("/nonexistent/pv"))
            .pipe(
                List.of("sh", "-c", "echo hi"),
                List.of("sh", "-c", "cat >/dev/null"),
                b -> {},
                Duration.ofSeconds(30),
                NO_KILL);
    assertFalse(r.ok());
    assertTrue(
        r.send().describe().startsWith("could not start '/nonexistent/pv"), r.send().describe());
  }

  /** Runs the registered killers, as a forced stop does ({@code CycleControl.stop}). */
  static final class Stopper implements ProcessRunner.KillSwitch {
    private final java.util.Set<Runnable> killers =
        java.util.concurrent.ConcurrentHashMap.newKeySet();

    @Override
    public void register(Runnable kill) {
      killers.add(kill);
    }

    @Override
    public void unregister(Runnable kill) {
      killers.remove(kill);
    }

    void stop() {
      killers.forEach(Runnable::run);
    }
  }

  /**
   * A stop signal to the whole process group (Ctrl-C, {@code timeout}) while the stream waits for a
   * sender that outlives its complete stream: the sender dies of it a moment before the JVM's stop
   * runs. Catches that stream read as the sender's own failure ({@code host_unreachable}) rather
   * than killed by the stop: before the fix the killer was gone by the time the stop came.
   */
  @Test
  void pipe_senderKilledInTheTailJustBeforeAStop_killedByTheStop(@TempDir Path dir)
      throws Exception {
    PipeResult r = senderKilledInTheTail(dir, true);
    assertTrue(r.killed(), r.toString());
  }

  /** The same without a stop: a real failure of the sender, not taken for a stop. */
  @Test
  void pipe_senderKilledInTheTailWithoutAStop_notKilled(@TempDir Path dir) throws Exception {
    PipeResult r = senderKilledInTheTail(dir, false);
    assertFalse(r.killed(), r.toString());
    assertFalse(r.ok(), r.toString());
    assertEquals(143, r.send().exitCode(), r.toString());
  }

  /**
   * The receive takes its 1000 bytes and ends; the sender sleeps on; SIGTERM to it, then a stop.
   */
  private static PipeResult senderKilledInTheTail(Path dir, boolean stop) throws Exception {
    Path pid = dir.resolve("send.pid");
    Path received = dir.resolve("received");
    Stopper control = new Stopper();
    Thread signal =
        new Thread(
            () -> {
              try {
                while (!java.nio.file.Files.exists(received) || !java.nio.file.Files.exists(pid)) {
                  Thread.sleep(10);
                }
                Thread.sleep(200); // the stream is in its tail wait
                long sender = Long.parseLong(java.nio.file.Files.readString(pid).trim());
                ProcessHandle.of(sender).ifPresent(ProcessHandle::destroy); // SIGTERM
                Thread.sleep(30); // the JVM's stop comes after the children died
                if (stop) {
                  control.stop();
                }
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    signal.start();
    PipeResult r =
        new RealProcessRunner(List.of())
            .pipe(
                List.of("sh", "-c", "echo $$ > " + pid + "; head -c 1000 /dev/zero; exec sleep 30"),
                List.of("sh", "-c", "head -c 1000 >/dev/null; touch " + received),
                b -> {},
                Duration.ofSeconds(30),
                control);
    signal.join(10_000);
    return r;
  }
}
