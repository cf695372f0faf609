package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.zfs.Endpoint;

/**
 * Batched destroys. A scripted {@code zfs destroy} stands in for what zfs-fuse cannot do (it has no
 * comma list): OpenZFS's, which takes {@code ds@a,b,c} and destroys none of the list when one
 * cannot be destroyed (zfs-destroy(8): "zfs destroy will have no effect and exit in error"), with
 * its message for a snapshot with a clone. zfs-fuse's refusal is its real message.
 */
class DestroysTest {
  /** A scripted zfs: {@code busy} snapshots cannot be destroyed; {@code commaList} as OpenZFS. */
  static class ScriptedZfs implements ProcessRunner {
    final boolean commaList;
    final Set<String> busy = new HashSet<>();
    final Set<String> destroyed = new HashSet<>();
    final List<List<String>> calls = new ArrayList<>();
    int exitOverride = -2;

    ScriptedZfs(boolean commaList) {
      this.commaList = commaList;
    }

    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      calls.add(argv);
      if (argv.contains("list")) { // zfs list -H -o name -t snapshot ds@a ds@b ...
        List<String> asked = argv.subList(argv.indexOf("snapshot") + 1, argv.size());
        List<String> gone =
            asked.stream()
                .filter(n -> destroyed.contains(n.substring(n.indexOf('@') + 1)))
                .toList();
        StringBuilder out = new StringBuilder();
        asked.stream().filter(n -> !gone.contains(n)).forEach(n -> out.append(n).append('\n'));
        StringBuilder err = new StringBuilder();
        gone.forEach(
            n -> err.append("cannot open '").append(n).append("': dataset does not exist\n"));
        return new ProcessResult(
            argv, gone.isEmpty() ? 0 : 1, out.toString(), err.toString(), false, false);
      }
      String arg = argv.get(argv.size() - 1);
      if (exitOverride != -2) {
        return new ProcessResult(
            argv, exitOverride, "", "ssh: connect to host h: refused", false, false);
      }
      String ds = arg.substring(0, arg.indexOf('@'));
      List<String> snaps = List.of(arg.substring(arg.indexOf('@') + 1).split(","));
      if (snaps.size() > 1 && !commaList) {
        return new ProcessResult(
            argv, 1, "", "cannot open '" + arg + "': invalid dataset name\n", false, false);
      }
      for (String s : snaps) {
        if (busy.contains(s)) {
          String err =
              "cannot destroy snapshot " + ds + "@" + s + ": snapshot has dependent clones\n";
          return new ProcessResult(argv, 1, "", err, false, false);
        }
      }
      snaps.forEach(destroyed::add);
      return new ProcessResult(argv, 0, "", "", false, false);
    }

    @Override
    public PipeResult pipe(
        List<String> send, List<String> receive, ByteProgress p, Duration stall, KillSwitch k) {
      throw new UnsupportedOperationException();
    }
  }

  static final Endpoint LOCAL = Endpoint.local(List.of("zfs"));

  /** Catches: one call per snapshot where OpenZFS takes the list in one. */
  @Test
  void openZfs_oneCallForTheList() {
    ScriptedZfs zfs = new ScriptedZfs(true);
    Destroys.Outcome o =
        new Destroys(zfs, LOCAL, Duration.ofSeconds(1), new CycleControl())
            .destroy("p/d", List.of("a", "b", "c"));
    assertEquals(List.of("a", "b", "c"), o.destroyed());
    assertEquals(List.of(List.of("zfs", "destroy", "p/d@a,b,c")), zfs.calls);
  }

  /** Catches: a failed batch losing the others, or the busy one not named in a warning. */
  @Test
  void openZfs_oneBusy_othersDestroyedOneByOne_busyIsAWarning() {
    ScriptedZfs zfs = new ScriptedZfs(true);
    zfs.busy.add("b");
    Destroys.Outcome o =
        new Destroys(zfs, LOCAL, Duration.ofSeconds(1), new CycleControl())
            .destroy("p/d", List.of("a", "b", "c"));
    assertEquals(List.of("a", "c"), o.destroyed());
    assertEquals(1, o.warnings().size());
    assertEquals(ErrorKind.DESTROY_FAILED, o.warnings().get(0).kind());
    assertTrue(o.warnings().get(0).message().contains("p/d@b"), o.warnings().toString());
    assertTrue(o.warnings().get(0).message().contains("dependent clones"));
  }

  /** Catches: the comma-list refusal not noticed, or noticed again for every dataset. */
  @Test
  void zfsFuse_refusesTheList_onceThenOneAtATime() {
    ScriptedZfs zfs = new ScriptedZfs(false);
    Destroys destroys = new Destroys(zfs, LOCAL, Duration.ofSeconds(1), new CycleControl());
    assertEquals(List.of("a", "b"), destroys.destroy("p/d", List.of("a", "b")).destroyed());
    assertEquals(List.of("x", "y"), destroys.destroy("p/e", List.of("x", "y")).destroyed());
    assertEquals(
        List.of(
            List.of("zfs", "destroy", "p/d@a,b"),
            List.of("zfs", "destroy", "p/d@a"),
            List.of("zfs", "destroy", "p/d@b"),
            List.of("zfs", "destroy", "p/e@x"),
            List.of("zfs", "destroy", "p/e@y")),
        zfs.calls);
  }

  /** Catches: a host that went away tried once per snapshot (each waiting for ssh). */
  @Test
  void remoteUnreachable_theBatchIsOneWarningEach_noRetries() {
    ScriptedZfs zfs = new ScriptedZfs(true);
    zfs.exitOverride = 255;
    Endpoint remote =
        Endpoint.remote(
            "h",
            Optional.empty(),
            Optional.empty(),
            List.of("ssh"),
            List.of("zfs"),
            Duration.ofSeconds(1));
    Destroys.Outcome o =
        new Destroys(zfs, remote, Duration.ofSeconds(1), new CycleControl())
            .destroy("p/d", List.of("a", "b"));
    assertEquals(List.of(), o.destroyed());
    assertEquals(2, o.warnings().size());
    assertEquals(1, zfs.calls.size());
  }

  /** Catches: batches over the limit (one command line for thousands of names). */
  @Test
  void manySnapshots_batchesOfAHundred() {
    ScriptedZfs zfs = new ScriptedZfs(true);
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 250; i++) {
      names.add("s" + i);
    }
    Destroys.Outcome o =
        new Destroys(zfs, LOCAL, Duration.ofSeconds(1), new CycleControl()).destroy("p/d", names);
    assertEquals(names, o.destroyed());
    assertEquals(3, zfs.calls.size());
  }

  /**
   * A stop while pruning (cancel, suspend, SIGTERM): the destroy in flight is the last, and the one
   * the stop killed (exit 143) is no destroy_failed warning. Catches pruning that went on for every
   * snapshot after the stop, and the killed batch retried one snapshot at a time.
   */
  @Test
  void stopDuringTheDestroys_noneStartsAfterIt_theKilledOneDoesNotWarn() {
    CycleControl control = new CycleControl();
    ScriptedZfs zfs =
        new ScriptedZfs(true) {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            if (calls.size() == 1) { // the second batch: stopped, and killed by the stop
              calls.add(argv);
              control.stop(CycleControl.StopReason.INTERRUPT, true);
              return new ProcessResult(argv, 143, "", "", false, false);
            }
            return super.run(argv, timeout);
          }
        };
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 250; i++) {
      names.add("s" + i);
    }
    Destroys.Outcome o =
        new Destroys(zfs, LOCAL, Duration.ofSeconds(1), control).destroy("p/d", names);
    assertEquals(names.subList(0, 100), o.destroyed());
    assertEquals(List.of(), o.warnings());
    assertEquals(3, zfs.calls.size(), "no batch, and no single destroy, after the stop");
    assertTrue(zfs.calls.get(2).contains("list"), "one look at what the killed one left");
  }

  /**
   * Over ssh a forced stop kills the local ssh, but the remote {@code zfs destroy} finishes.
   * Catches the snapshots it destroyed missing from the report (on OpenZFS up to a batch of 100).
   */
  @Test
  void killedDestroyThatFinishedRemotely_itsSnapshotsAreReported() {
    CycleControl control = new CycleControl();
    ScriptedZfs zfs =
        new ScriptedZfs(true) {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            if (argv.contains("destroy")) { // destroyed over there, the local ssh killed here
              ProcessResult r = super.run(argv, timeout);
              control.stop(CycleControl.StopReason.SUSPEND, true);
              return new ProcessResult(argv, 143, "", "", false, false);
            }
            return super.run(argv, timeout);
          }
        };
    Destroys.Outcome o =
        new Destroys(zfs, LOCAL, Duration.ofSeconds(1), control)
            .destroy("p/d", List.of("a", "b", "c"));
    assertEquals(List.of("a", "b", "c"), o.destroyed());
    assertEquals(List.of(), o.warnings());
  }

  /**
   * A batch that fails for its own reason (a clone) just as a graceful cancel comes: not retried
   * one by one (the cycle is stopping), but its failure is still a warning. Catches a real failure
   * hidden because a stop was requested meanwhile.
   */
  @Test
  void gracefulStopDuringAFailingBatch_warnsForIt_triesNothingMore() {
    CycleControl control = new CycleControl();
    ScriptedZfs zfs =
        new ScriptedZfs(true) {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            control.stop(CycleControl.StopReason.CANCEL, false);
            return super.run(argv, timeout);
          }
        };
    zfs.busy.add("b");
    Destroys.Outcome o =
        new Destroys(zfs, LOCAL, Duration.ofSeconds(1), control)
            .destroy("p/d", List.of("a", "b", "c"));
    assertEquals(List.of(), o.destroyed());
    assertEquals(3, o.warnings().size(), o.warnings().toString());
    assertTrue(o.warnings().get(1).message().contains("dependent clones"), o.warnings().toString());
    assertEquals(1, zfs.calls.size());
  }
}
