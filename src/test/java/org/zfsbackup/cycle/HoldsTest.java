package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.zfs.Endpoint;

class HoldsTest {
  static final List<String> BATCH = List.of("t/a@s1", "t/b@s1", "t/c@s1");

  @Test
  void notHeld_zfsNamesTheFailures_onlyThoseAreReported() {
    String stderr = "cannot hold snapshot 't/b@s1': dataset is busy\n";
    assertEquals(List.of("t/b@s1"), HoldAnswers.notHeld(BATCH, stderr));
  }

  @Test
  void notHeld_zfsNamesNone_theWholeBatchIsReported() {
    assertEquals(BATCH, HoldAnswers.notHeld(BATCH, "ssh: connect to host h: Connection refused"));
  }

  @Test
  void notHeld_heldMeanwhile_isWhatWeWanted() {
    String stderr =
        "cannot hold snapshot 't/a@s1': tag already exists on this dataset\n"
            + "cannot hold snapshot 't/c@s1': out of space\n";
    assertEquals(List.of("t/c@s1"), HoldAnswers.notHeld(BATCH, stderr));
  }

  /** OpenZFS {@code zfs holds -H}: only this tag's holds are released, never another tool's. */
  @Test
  void tagged_onlyThisTag() {
    String out =
        "t/a@s1\tzfs-backup-agent:bak\tThu Nov 26 02:00 2026\n"
            + "t/a@s1\tzrepl_last\tThu Nov 26 02:00 2026\n"
            + "t/b@s1\tzfs-backup-agent:bak2\tThu Nov 26 02:00 2026\n";
    assertEquals(List.of("t/a@s1"), HoldAnswers.tagged(out, "zfs-backup-agent:bak"));
  }

  /** zfs-fuse prints its missing `zfs holds` on stdout, with ssh-like exit 255. */
  @Test
  void noHoldsCommand_zfsFuseAndOthers() {
    var fuse =
        new org.zfsbackup.exec.ProcessResult(
            List.of("zfs"),
            255,
            "internal error: /usr/lib/zfs/pyzfs.py not found\n",
            "",
            false,
            false);
    var other =
        new org.zfsbackup.exec.ProcessResult(
            List.of("zfs"),
            2,
            "",
            "unrecognized command 'holds'\nusage: zfs command args ...",
            false,
            false);
    var ssh =
        new org.zfsbackup.exec.ProcessResult(
            List.of("ssh"),
            255,
            "",
            "ssh: connect to host h port 22: Connection refused",
            false,
            false);
    org.junit.jupiter.api.Assertions.assertTrue(HoldAnswers.noHoldsCommand(fuse));
    org.junit.jupiter.api.Assertions.assertTrue(HoldAnswers.noHoldsCommand(other));
    org.junit.jupiter.api.Assertions.assertFalse(HoldAnswers.noHoldsCommand(ssh));
  }

  @Test
  void notReleased_releasedMeanwhile_isWhatWeWanted() {
    String stderr =
        "cannot release hold from snapshot 't/a@s1': no such tag on this dataset\n"
            + "cannot release hold from snapshot 't/b@s1': dataset is busy\n";
    assertEquals(List.of("t/b@s1"), HoldAnswers.notReleased(BATCH, stderr));
    assertEquals(BATCH, HoldAnswers.notReleased(BATCH, "Connection closed by 127.0.0.1"));
  }

  /**
   * A snapshot destroyed meanwhile (a pruner took it while it was unheld) took its holds with it.
   * Catches a warning, mailed by cron, about a hold that is not there.
   */
  @Test
  void notReleased_snapshotDestroyedMeanwhile_isWhatWeWanted() {
    String stderr =
        "cannot release hold from snapshot 't/a@s1': dataset does not exist\n"
            + "cannot release hold from snapshot 't/b@s1': dataset is busy\n";
    assertEquals(List.of("t/b@s1"), HoldAnswers.notReleased(BATCH, stderr));
  }

  /**
   * 25 old bases whose early hold answer was lost are held again at the end, and zfs answers "tag
   * already exists" for each: more lines than the stderr tail keeps (20). The snapshots whose lines
   * were cut are asked again, and nothing is reported. Catches five false "could not hold"
   * warnings, and their old bases kept held (for ever where zfs has no `zfs holds`); the same for a
   * release answered "no such tag" 25 times.
   */
  @Test
  void apply_moreHarmlessAnswersThanTheTailKeeps_askedAgain_nothingReported() {
    List<String> bases = new ArrayList<>();
    List<Holds.Move> moves = new ArrayList<>();
    for (int i = 10; i < 35; i++) {
      bases.add("t/d" + i + "@s1");
      moves.add(new Holds.Move("t/d" + i + "@s2", "t/d" + i + "@s1"));
    }
    List<List<String>> calls = new ArrayList<>();
    ProcessRunner zfs =
        answering(
            argv -> {
              calls.add(argv);
              String answer =
                  argv.get(1).equals("hold")
                      ? "': tag already exists on this dataset"
                      : "': no such tag on this dataset";
              List<String> lines =
                  argv.subList(3, argv.size()).stream()
                      .map(snap -> "cannot " + argv.get(1) + " snapshot '" + snap + answer)
                      .toList();
              String tail = // as StderrTail keeps it: the last 20 lines
                  String.join(
                      "\n",
                      lines.subList(
                          Math.max(0, lines.size() - ProcessResult.STDERR_LINES), lines.size()));
              return new ProcessResult(argv, 1, "", tail, false, false);
            });
    Holds.Applied applied =
        new Holds(zfs, Endpoint.local(List.of("zfs")), "tag", Duration.ofSeconds(5))
            .apply(moves, List.of(), Holds.Early.NONE, List.of(), n -> {});
    assertEquals(List.of(), applied.warnings());
    assertEquals(java.util.Set.of(), applied.notHeld());
    assertEquals(
        List.of("hold", "hold", "release", "release"),
        calls.stream().map(c -> c.get(1)).toList(),
        "each asked again for the 5 whose lines were cut");
    assertEquals(
        bases.subList(0, 5), calls.get(3).subList(3, calls.get(3).size()), "the first five again");
  }

  /**
   * A hold call whose answer names no snapshot (ssh dropped after zfs ran): the warning says the
   * hold may not have been placed, not that it failed. Catches "could not hold" for a snapshot that
   * is in fact held.
   */
  @Test
  void apply_holdAnswerLost_saysItMayNotHaveHeld() {
    List<List<String>> calls = new ArrayList<>();
    ProcessRunner zfs =
        answering(
            argv -> {
              calls.add(argv);
              int code = argv.get(1).equals("hold") ? 255 : 0;
              return new ProcessResult(argv, code, "", "", false, false);
            });
    Holds.Applied applied =
        new Holds(zfs, Endpoint.local(List.of("zfs")), "tag", Duration.ofSeconds(5))
            .apply(
                List.of(new Holds.Move("t/a@s2", "t/a@s1")),
                List.of(),
                Holds.Early.NONE,
                List.of(),
                n -> {});
    assertEquals(1, applied.warnings().size(), applied.warnings().toString());
    assertTrue(
        applied.warnings().get(0).message().startsWith("may not have held t/a@s2 "),
        applied.warnings().get(0).message());
  }

  static final Snapshot A = new Snapshot("a", "1", 1);
  static final Snapshot B = new Snapshot("b", "2", 2);
  static final Snapshot C = new Snapshot("c", "3", 3);

  @Test
  void moveAfter_fullThenIncremental_holdsTheLast_releasesNothing() {
    // The first cycle: @a was never held by us, so nothing is released.
    var m =
        Holds.Move.after(
            "t/d", List.of(new ReplicationStep.Full(A), new ReplicationStep.Incremental(A, C)));
    assertEquals(new Holds.Move("t/d@c", null), m);
  }

  @Test
  void moveAfter_incrementals_releasesTheBaseTheCycleStartedFrom() {
    var m =
        Holds.Move.after(
            "t/d",
            List.of(new ReplicationStep.Incremental(A, B), new ReplicationStep.Incremental(B, C)));
    assertEquals(new Holds.Move("t/d@c", "t/d@a"), m);
    assertNull(Holds.Move.after("t/d", List.of()), "nothing went through: nothing moves");
  }

  /**
   * zfs refuses to hold one snapshot of the batch (a fake runner: provoking that on a real pool is
   * not possible here). Catches a release of an old base whose replacement is not held: the chain
   * would then have no protected base at all.
   */
  @Test
  void apply_oneNewBaseNotHeld_itsOldBaseIsKept_theOthersReleased() {
    List<List<String>> calls = new ArrayList<>();
    ProcessRunner zfs =
        scripted(
            calls,
            argv ->
                argv.get(1).equals("hold") ? "cannot hold snapshot 't/b@s1': dataset is busy" : "");
    Holds holds = new Holds(zfs, Endpoint.local(List.of("zfs")), "tag", Duration.ofSeconds(5));
    List<Holds.Move> moves =
        List.of(
            new Holds.Move("t/a@s1", "t/a@s0"),
            new Holds.Move("t/b@s1", "t/b@s0"),
            new Holds.Move("t/c@s1", null));
    Holds.Applied applied =
        holds.apply(moves, List.of("t/d@s0"), Holds.Early.NONE, List.of(), n -> {});
    List<Warning> warnings = applied.warnings();
    assertEquals(java.util.Set.of("t/b"), applied.notHeld());

    assertEquals(
        List.of(
            List.of("zfs", "hold", "tag", "t/a@s1", "t/b@s1", "t/c@s1", "t/d@s0"),
            List.of("zfs", "release", "tag", "t/a@s0")),
        calls,
        "one hold call, then one release call without t/b's old base");
    assertEquals(1, warnings.size(), warnings.toString());
    assertEquals("t/b", warnings.get(0).dataset());
    // The merge of batched holds with "a failed hold leaves the old hold in place (and says so)".
    assertTrue(
        warnings.get(0).message().endsWith("; the hold on t/b@s0 stays in place"),
        warnings.get(0).message());
  }

  /**
   * The early hold (before the streams) of a batch where zfs refuses one snapshot (gone already)
   * and finds our tag on another: only the one it held itself is "created", and let go again if it
   * does not end as a base. At the end, only the base the early hold missed is held again; its old
   * base stays held, the others' are released. A fake runner: zfs-fuse cannot be made to refuse one
   * snapshot of a batch at will.
   */
  @Test
  void holdEarly_thenApply_holdsOnlyWhatTheEarlyHoldMissed() {
    List<List<String>> calls = new ArrayList<>();
    ProcessRunner zfs =
        scripted(
            calls,
            argv ->
                !argv.get(1).equals("hold")
                    ? ""
                    : argv.contains("t/c@s1")
                        ? "cannot hold snapshot 't/b@s1': dataset does not exist\n"
                            + "cannot hold snapshot 't/c@s1': tag already exists on this dataset"
                        : "cannot hold snapshot 't/b@s1': dataset does not exist");
    Holds holds = new Holds(zfs, Endpoint.local(List.of("zfs")), "tag", Duration.ofSeconds(5));
    Holds.Early early = holds.holdEarly(List.of("t/a@s1", "t/b@s1", "t/c@s1", "t/d@s1"));
    assertEquals(java.util.Set.of("t/a@s1", "t/c@s1", "t/d@s1"), early.held());
    assertEquals(java.util.Set.of("t/a@s1", "t/d@s1"), early.created(), "t/c had the tag");

    // t/a and t/b moved to @s1; t/c and t/d failed (t/d's early hold is let go).
    List<Holds.Move> moves =
        List.of(new Holds.Move("t/a@s1", "t/a@s0"), new Holds.Move("t/b@s1", "t/b@s0"));
    Holds.Applied applied = holds.apply(moves, List.of(), early, List.of("t/d@s1"), n -> {});

    assertEquals(
        List.of(
            List.of("zfs", "hold", "tag", "t/a@s1", "t/b@s1", "t/c@s1", "t/d@s1"),
            List.of("zfs", "hold", "tag", "t/b@s1"),
            List.of("zfs", "release", "tag", "t/a@s0", "t/d@s1")),
        calls);
    assertEquals(java.util.Set.of("t/b"), applied.notHeld());
    assertEquals(1, applied.warnings().size(), applied.warnings().toString());
    assertTrue(
        applied.warnings().get(0).message().endsWith("; the hold on t/b@s0 stays in place"),
        applied.warnings().get(0).message());
  }

  /**
   * A full stream's snapshot the early hold placed (a resume's need) is the old base of a plan that
   * starts with that full stream, and an unused early hold too; the new base's hold fails. Catches
   * it released as unused while the warning said it stays in place (no hold left at all).
   */
  @Test
  void apply_newBaseNotHeld_anEarlyHeldOldBaseStaysAsItsWarningSays() {
    List<List<String>> calls = new ArrayList<>();
    ProcessRunner zfs =
        scripted(
            calls,
            argv ->
                argv.get(1).equals("hold") && argv.contains("t/a@s2")
                    ? "cannot hold snapshot 't/a@s2': out of space"
                    : "");
    Holds holds = new Holds(zfs, Endpoint.local(List.of("zfs")), "tag", Duration.ofSeconds(5));
    Holds.Early early = holds.holdEarly(List.of("t/a@s1"));
    Holds.Applied applied =
        holds.apply(
            List.of(new Holds.Move("t/a@s2", "t/a@s1")),
            List.of(),
            early,
            List.of("t/a@s1"),
            n -> {});
    assertEquals(
        List.of(List.of("zfs", "hold", "tag", "t/a@s1"), List.of("zfs", "hold", "tag", "t/a@s2")),
        calls,
        "nothing released");
    assertTrue(
        applied.warnings().get(0).message().endsWith("; the hold on t/a@s1 stays in place"),
        applied.warnings().toString());
  }

  /**
   * An old base that may carry no hold (the early hold's answer named none): released once the new
   * base is held, but never said to stay in place when that hold fails.
   */
  @Test
  void apply_oldBaseMaybeHeld_releasedAfterTheNewOne_neverClaimed() {
    List<List<String>> calls = new ArrayList<>();
    Holds holds =
        new Holds(
            scripted(calls, argv -> ""),
            Endpoint.local(List.of("zfs")),
            "tag",
            Duration.ofSeconds(5));
    holds.apply(
        List.of(new Holds.Move("t/a@s2", "t/a@s1", false)),
        List.of(),
        Holds.Early.NONE,
        List.of(),
        n -> {});
    assertEquals(
        List.of(
            List.of("zfs", "hold", "tag", "t/a@s2"), List.of("zfs", "release", "tag", "t/a@s1")),
        calls);

    List<List<String>> failing = new ArrayList<>();
    Holds.Applied applied =
        new Holds(
                scripted(
                    failing,
                    argv ->
                        argv.get(1).equals("hold")
                            ? "cannot hold snapshot 't/a@s2': out of space"
                            : ""),
                Endpoint.local(List.of("zfs")),
                "tag",
                Duration.ofSeconds(5))
            .apply(
                List.of(new Holds.Move("t/a@s2", "t/a@s1", false)),
                List.of(),
                Holds.Early.NONE,
                List.of(),
                n -> {});
    assertEquals(List.of(List.of("zfs", "hold", "tag", "t/a@s2")), failing, "nothing released");
    assertTrue(
        applied.warnings().get(0).message().endsWith("out of space"),
        applied.warnings().toString());
  }

  /**
   * A batch whose answer does not say which snapshots failed (ssh gone: no name at all; or more
   * error lines than the stderr tail keeps): every snapshot may or may not be held. The early hold
   * counts none as held (each base is held again at the end) and lets go of those that did not
   * become a base, so an unseen hold is neither trusted nor leaked.
   */
  @Test
  void holdEarly_unclearAnswers_nothingTrusted_nothingLeaked() {
    List<List<String>> calls = new ArrayList<>();
    Holds holds =
        new Holds(
            scripted(calls, argv -> "ssh: connect to host h port 22: Connection refused"),
            Endpoint.local(List.of("zfs")),
            "tag",
            Duration.ofSeconds(5));
    Holds.Early early = holds.holdEarly(List.of("t/a@s1", "t/b@s1"));
    assertEquals(java.util.Set.of(), early.held());
    assertEquals(java.util.Set.of("t/a@s1", "t/b@s1"), early.maybe());
    assertEquals(
        List.of("t/b@s1"),
        early.notKept(java.util.Map.of("t/a", java.util.Set.of("s1"))),
        "t/a ended on s1: its hold stays; t/b did not");

    String cut =
        String.join(
            "\n",
            java.util.Collections.nCopies(
                ProcessResult.STDERR_LINES,
                "cannot hold snapshot 't/x@s1': dataset does not exist"));
    assertEquals(
        BATCH, HoldAnswers.notHeld(BATCH, cut), "the lines about the batch may have been cut");
  }

  /**
   * A release ended by a stop (ssh killed after the command went out over the shared connection)
   * may well have gone through: the warning says it may not have, not that it did not.
   */
  @Test
  void apply_releaseEndedWithoutAnAnswer_saysItMayNotHaveReleased() {
    List<List<String>> calls = new ArrayList<>();
    ProcessRunner zfs =
        scripted(calls, argv -> argv.get(1).equals("release") ? "Killed by signal 15." : "");
    Holds holds = new Holds(zfs, Endpoint.local(List.of("zfs")), "tag", Duration.ofSeconds(5));

    List<Warning> warnings =
        holds
            .apply(
                List.of(new Holds.Move("t/a@s1", "t/a@s0")),
                List.of(),
                Holds.Early.NONE,
                List.of(),
                n -> {})
            .warnings();

    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(
        warnings.get(0).message().startsWith("may not have released the hold on t/a@s0: "),
        warnings.get(0).message());
  }

  /**
   * Where zfs has no {@code zfs holds} (zfs-fuse), 30 snapshots that another tool holds are
   * candidates at every pass, and each answers "no such tag": one release call for them, not asked
   * again because the answer filled the stderr tail, and no warning. Catches 2 calls per 30 (5 per
   * 100) at every pass, for ever (perf8: an up-to-date cycle over 501 datasets went from 4 to 9 s).
   * A snapshot zfs names with another error is warned about.
   */
  @Test
  void releaseStale_noHoldsCommand_othersHoldsAnsweredNoSuchTag_oneCallPerBatch() {
    StringBuilder out = new StringBuilder("t/d\tguid\t1\nt/d\tcreatetxg\t1\n");
    Set<String> kept = new java.util.HashSet<>();
    for (int i = 10; i < 41; i++) {
      out.append("t/d@s%d\tguid\t%d\nt/d@s%d\tcreatetxg\t%d\n".formatted(i, i, i, i));
      out.append("t/d@s%d\tuserrefs\t1\n".formatted(i));
    }
    kept.add("s40"); // the base
    List<List<String>> calls = new ArrayList<>();
    ProcessRunner zfs =
        answering(
            argv -> {
              calls.add(argv);
              if (argv.get(1).equals("holds")) {
                return new ProcessResult(argv, 2, "", "unrecognized command 'holds'", false, false);
              }
              List<String> lines = new ArrayList<>();
              for (String snap : argv.subList(3, argv.size())) {
                lines.add(
                    "cannot release hold from snapshot '"
                        + snap
                        + (snap.equals("t/d@s39")
                            ? "': permission denied"
                            : "': no such tag on this dataset"));
              }
              String tail =
                  String.join(
                      "\n",
                      lines.subList(
                          Math.max(0, lines.size() - ProcessResult.STDERR_LINES), lines.size()));
              return new ProcessResult(argv, 1, "", tail, false, false);
            });
    Endpoint host = Endpoint.local(List.of("zfs-without-holds-" + System.nanoTime()));
    List<Warning> warnings =
        new Holds(zfs, host, "tag", Duration.ofSeconds(5))
            .releaseStale(
                java.util.Map.of("t/d", kept), org.zfsbackup.zfs.ZfsListing.parse(out.toString()));
    assertEquals(
        List.of("holds", "release"),
        calls.stream().map(c -> c.get(1)).toList(),
        "one release for the 30, not asked again");
    assertEquals(33, calls.get(1).size(), "zfs, release, the tag and the 30 snapshots");
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(
        warnings.get(0).message().startsWith("could not release the hold on t/d@s39 "),
        warnings.get(0).message());
  }

  /**
   * Where zfs has no {@code zfs holds}, a stale release that gets no answer at all (ssh dropped, a
   * timeout) is said, once per batch. Catches it passing in silence at every pass while held
   * snapshots pile up (review-diff12).
   */
  @Test
  void releaseStale_noHoldsCommand_releaseWithoutAnAnswer_saidOnce() {
    String out =
        "t/d\tguid\t1\nt/d\tcreatetxg\t1\n"
            + "t/d@a\tguid\t2\nt/d@a\tcreatetxg\t2\nt/d@a\tuserrefs\t1\n"
            + "t/d@b\tguid\t3\nt/d@b\tcreatetxg\t3\nt/d@b\tuserrefs\t1\n"
            + "t/d@c\tguid\t4\nt/d@c\tcreatetxg\t4\nt/d@c\tuserrefs\t1\n";
    ProcessRunner zfs =
        answering(
            argv ->
                argv.get(1).equals("holds")
                    ? new ProcessResult(argv, 2, "", "unrecognized command 'holds'", false, false)
                    : new ProcessResult(
                        argv, 255, "", "client_loop: send disconnect: Broken pipe", false, false));
    Endpoint host = Endpoint.local(List.of("zfs-without-holds-" + System.nanoTime()));
    List<Warning> warnings =
        new Holds(zfs, host, "tag", Duration.ofSeconds(5))
            .releaseStale(
                java.util.Map.of("t/d", Set.of("c")), org.zfsbackup.zfs.ZfsListing.parse(out));
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(
        warnings
            .get(0)
            .message()
            .startsWith(
                "may not have released this tag from 2 held snapshot(s) that are no longer"),
        warnings.get(0).message());
  }

  /** A zfs that records each call and answers with {@code stderr}'s text (exit 1 unless empty). */
  private static ProcessRunner scripted(
      List<List<String>> calls, java.util.function.Function<List<String>, String> stderr) {
    return answering(
        argv -> {
          calls.add(argv);
          String err = stderr.apply(argv);
          return new ProcessResult(argv, err.isEmpty() ? 0 : 1, "", err, false, false);
        });
  }

  /** A zfs whose every short command gets {@code answer}'s result; no streams. */
  private static ProcessRunner answering(
      java.util.function.Function<List<String>, ProcessResult> answer) {
    return new ProcessRunner() {
      @Override
      public ProcessResult run(List<String> argv, Duration timeout) {
        return answer.apply(argv);
      }

      @Override
      public PipeResult pipe(
          List<String> s, List<String> r, ByteProgress p, Duration d, KillSwitch k) {
        throw new AssertionError("no streams");
      }
    };
  }
}
