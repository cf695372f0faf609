package org.zfsbackup.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
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
}
