package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.plan.PlanOutcome;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.zfs.ZfsListing;

class CycleRulesTest {

  static ZfsListing listing(String... datasets) {
    StringBuilder sb = new StringBuilder();
    int txg = 1;
    for (String d : datasets) {
      sb.append(d).append("\tguid\t").append(txg).append('\n');
      sb.append(d).append("\tcreatetxg\t").append(txg++).append('\n');
    }
    return ZfsListing.parse(sb.toString());
  }

  @Test
  void order_expandsDedupesKeepsFirstSeenAndPutsParentsFirst() {
    ZfsListing l = listing("tank", "tank/data", "tank/data/child", "tank/other", "fast", "fast/c");
    // tank/data is listed before its parent tank, and again inside it.
    assertEquals(
        List.of("tank", "tank/data", "tank/data/child", "fast/c", "tank/other"),
        Datasets.order(List.of("tank/data", "fast/c", "tank"), l).stream()
            .filter(d -> !d.equals("fast"))
            .toList());
    assertEquals(
        List.of("tank/data", "tank/data/child"),
        Datasets.order(List.of("tank/data", "tank/data"), l));
  }

  /**
   * Catches: a dataset whose name on the target (or a snapshot's, {@code dst@snap}) is over ZFS's
   * 255 characters planned "would send", then failing every night with "invalid name".
   */
  /**
   * A snapshot the stream carries whose name the target has under another guid (destroyed on the
   * source and taken again): refused, naming it and the rename; the same name and guid (the base)
   * and names the target lacks are fine. Catches "would send", then "destination already exists"
   * every night (sweep 10).
   */
  @Test
  void nameTaken_aCarriedSnapshotNamedLikeAnotherOfTheTarget() {
    Snapshot daily1 = new Snapshot("daily-1", "1", 1);
    Snapshot oldUpgrade = new Snapshot("before-upgrade", "2", 2);
    Snapshot daily2 = new Snapshot("daily-2", "3", 3);
    Snapshot newUpgrade = new Snapshot("before-upgrade", "4", 4);
    Snapshot daily3 = new Snapshot("daily-3", "5", 5);
    List<Snapshot> target = List.of(daily1, oldUpgrade, daily2);
    List<Snapshot> source = List.of(daily1, daily2, newUpgrade, daily3);
    PlanOutcome.Send send =
        new PlanOutcome.Send(List.of(new ReplicationStep.Incremental(daily2, daily3)), daily2);
    assertEquals(
        Optional.of(
            "b/d@before-upgrade is another snapshot than the source's @before-upgrade (most likely"
                + " that name was destroyed on the source and taken again), and ZFS refuses to"
                + " receive a second one: nothing was sent. Rename the target's, which keeps it:"
                + " zfs rename b/d@before-upgrade b/d@before-upgrade-2; the next cycle goes on"),
        CycleRules.nameTaken("b/d", send, source, target));
    List<Snapshot> renamed = List.of(daily1, new Snapshot("before-upgrade-old", "2", 2), daily2);
    assertEquals(Optional.empty(), CycleRules.nameTaken("b/d", send, source, renamed));
    assertEquals(
        Optional.empty(),
        CycleRules.nameTaken("b/d", send, List.of(daily1, daily2, daily3), target),
        "the old one, destroyed on the source and not taken again, is no clash");
  }

  @Test
  void nameTooLong_theDatasetOrAnySnapshotItCarries_overZfs255() {
    Snapshot a = new Snapshot("a", "1", 1);
    Snapshot b = new Snapshot("b".repeat(20), "2", 2);
    Snapshot c = new Snapshot("c", "3", 3);
    List<Snapshot> source = List.of(a, b, c);
    PlanOutcome.Send full =
        new PlanOutcome.Send(
            List.of(new ReplicationStep.Full(a), new ReplicationStep.Incremental(a, c)), null);
    PlanOutcome.Send afterB =
        new PlanOutcome.Send(List.of(new ReplicationStep.Incremental(b, c)), b);
    String fits = "p/" + "d".repeat(251); // 253 characters: with "@c", 255
    String over = fits + "d"; // 254: "@c" makes 256

    assertEquals(Optional.empty(), CycleRules.nameTooLong(Phase.PULL, fits, afterB, source));
    assertEquals(
        Optional.of(
            "a name on the target would be 256 characters, and ZFS allows 255: nothing was sent;"
                + " a shorter pull.target or source name would fit it. The name: '"
                + over
                + "@c'"),
        CycleRules.nameTooLong(Phase.PULL, over, afterB, source));
    // -I carries the snapshots between: @bbb… is one of them, and the first over 255.
    String shortDst = "p/" + "d".repeat(232); // 234: with "@" and 20 b, 255; one more is not
    assertEquals(Optional.empty(), CycleRules.nameTooLong(Phase.PUSH, shortDst, full, source));
    assertEquals(
        Optional.of(
            "a name on the target would be 256 characters, and ZFS allows 255: nothing was sent;"
                + " a shorter push.target would fit it. The name: '"
                + shortDst
                + "d@"
                + "b".repeat(20)
                + "'"),
        CycleRules.nameTooLong(Phase.PUSH, shortDst + "d", full, source));
    // The base is on the target already: its long name is not received again.
    assertEquals(
        Optional.empty(), CycleRules.nameTooLong(Phase.PULL, shortDst + "d", afterB, source));
    String tooLongItself = "p/" + "d".repeat(254); // the dataset itself is named, not @c
    assertEquals(
        Optional.of(
            "a name on the target would be 256 characters, and ZFS allows 255: nothing was sent;"
                + " a shorter pull.target or source name would fit it. The name: '"
                + tooLongItself
                + "'"),
        CycleRules.nameTooLong(Phase.PULL, tooLongItself, afterB, source));
  }

  @Test
  void pushMapping_stripsThePrefixBelowTheTarget() {
    PushConfig p =
        new PushConfig(
            Optional.of("host-albion"),
            Optional.empty(),
            Optional.empty(),
            "offsitepool/backups",
            "backuppool/encryptedbackups",
            true,
            List.of("-u"),
            List.of("backuppool/encryptedbackups"));
    assertEquals(
        "offsitepool/backups/host-storage/tank/data",
        CycleRules.pushMapping(p).apply("backuppool/encryptedbackups/host-storage/tank/data"));
    assertEquals(
        "offsitepool/backups", CycleRules.pushMapping(p).apply("backuppool/encryptedbackups"));
    assertThrows(
        IllegalArgumentException.class,
        () -> CycleRules.pushMapping(p).apply("backuppool/encryptedbackupsX/a"));
  }

  static DatasetResult result(Status s) {
    return new DatasetResult(Phase.PULL, "s", "d", "t", s, 0, null, null, null);
  }

  /**
   * Catches: a push that carries a refused backup copy offsite (a snapshot tool on the backup tree
   * that fired during the receive, target_modified, too: its snapshot went offsite and the push's
   * hold onto it, so the message's zfs rollback -r failed "dataset is busy"); a push held back for
   * a pull that failed for another reason (an unreachable host leaves the copy as it was, and it is
   * pushed).
   */
  @Test
  void heldBack_onlyTheCopiesThePullRefusedForWhatIsOnThem() {
    List<DatasetResult> results =
        List.of(
            failed(Phase.PULL, "bak/h/diverged", ErrorKind.DIVERGED),
            failed(Phase.PULL, "bak/h/nocommon", ErrorKind.NO_COMMON_SNAPSHOT),
            failed(Phase.PULL, "bak/h/notours", ErrorKind.TARGET_EXISTS),
            failed(Phase.PULL, "bak/h/snapshotted", ErrorKind.TARGET_MODIFIED),
            failed(Phase.PULL, "bak/h/unreachable", ErrorKind.HOST_UNREACHABLE),
            failed(Phase.PULL, "bak/h/sendfailed", ErrorKind.SEND_FAILED),
            failed(Phase.PUSH, "off/h/diverged", ErrorKind.DIVERGED),
            new DatasetResult(Phase.PULL, "h", "d", "bak/h/ok", Status.SENT, 1, "", null, null));
    Map<String, String> heldBack = CycleRules.heldBack(results);
    assertEquals(
        Set.of("bak/h/diverged", "bak/h/nocommon", "bak/h/notours", "bak/h/snapshotted"),
        heldBack.keySet());
    assertTrue(heldBack.get("bak/h/diverged").contains("refused this cycle (diverged)"));
  }

  // Catches: a plan of a push.datasets root below pull.target that the pull would create reported
  // as dataset_missing (exit 1, partial) though the run succeeds; and a dataset that exists (an
  // incremental) or a real cycle taken for one.
  @Test
  void notThereYet_aDryRunsNewDatasetsAndTheirParentsBelowThePullTarget() {
    List<DatasetResult> results =
        List.of(
            new DatasetResult(
                Phase.PULL,
                "h",
                "p/new",
                "bak/h/p/new",
                Status.SENT,
                0,
                "would send full @a",
                null,
                null),
            new DatasetResult(
                Phase.PULL,
                "h",
                "q",
                "bak/h/q",
                Status.SENT,
                0,
                "would send incremental @a..@b",
                null,
                null),
            new DatasetResult(
                Phase.PULL, "h", "r", "bak/h/r", Status.UP_TO_DATE, 0, "", null, null));
    Map<String, String> notYet = CycleRules.notThereYet(results, true, "bak");
    assertEquals(Set.of("bak/h/p/new", "bak/h/p", "bak/h"), notYet.keySet());
    assertTrue(notYet.get("bak/h").startsWith("not there yet"), notYet.toString());
    assertEquals(Map.of(), CycleRules.notThereYet(results, false, "bak"), "a real cycle");
  }

  private static DatasetResult failed(Phase phase, String target, ErrorKind kind) {
    return new DatasetResult(phase, "h", "d", target, Status.FAILED, 0, "", "why", kind);
  }

  @Test
  void outcome_fromResultsAndStops() {
    CycleControl none = new CycleControl();
    assertEquals(
        Outcome.SUCCESS, outcome(List.of(result(Status.SENT), result(Status.SKIPPED)), none));
    assertEquals(
        Outcome.PARTIAL, outcome(List.of(result(Status.UP_TO_DATE), result(Status.FAILED)), none));
    assertEquals(
        Outcome.FAILED, outcome(List.of(result(Status.SKIPPED), result(Status.FAILED)), none));
    // Every host unreachable: the push finds the offsite copies up to date with last night's.
    // Catches that night reported partial, as if something had been backed up.
    assertEquals(
        Outcome.FAILED,
        outcome(List.of(result(Status.FAILED), pushed("bak/h/d", Status.UP_TO_DATE)), none));
    assertEquals(
        Outcome.PARTIAL,
        outcome(List.of(result(Status.FAILED), pushed("bak/h/d", Status.SENT)), none));
    assertEquals(
        Outcome.PARTIAL,
        outcome(List.of(result(Status.UP_TO_DATE), pushed("bak/h/d", Status.FAILED)), none));
    // A dataset of the backup server's own, pushed (not a backup copy): its offsite copy up to
    // date is its backup, as a pull's.
    assertEquals(
        Outcome.PARTIAL,
        outcome(List.of(result(Status.FAILED), pushed("tank/home", Status.UP_TO_DATE)), none));
    CycleControl suspended = new CycleControl();
    suspended.stop(CycleControl.StopReason.SUSPEND, false);
    assertEquals(Outcome.SUSPENDED, outcome(List.of(result(Status.SENT)), suspended));
    CycleControl cancelled = new CycleControl();
    cancelled.stop(CycleControl.StopReason.CANCEL, false);
    assertEquals(Outcome.CANCELLED, outcome(List.of(), cancelled));
    CycleControl interrupted = new CycleControl();
    interrupted.stop(CycleControl.StopReason.INTERRUPT, true);
    assertEquals(Outcome.INTERRUPTED, outcome(List.of(result(Status.SENT)), interrupted));
  }

  /** The outcome with pull.target {@code bak}. */
  static Outcome outcome(List<DatasetResult> results, CycleControl control) {
    return CycleRules.outcome(results, control, "bak");
  }

  /** A push result of the local {@code dataset}. */
  static DatasetResult pushed(String dataset, Status s) {
    return new DatasetResult(Phase.PUSH, "local", dataset, "off/x", s, 0, null, null, null);
  }

  @Test
  void selection_limitsToTheNamedSourcesDatasets() {
    SourceConfig storage = TestConfigs.localSource("host-storage", "tank/data", "tank/vm");
    CycleRequest r =
        new CycleRequest("c", null, Set.of("host-storage:tank/data", "other:x"), false);
    assertEquals(Set.of("tank/data"), CycleRules.selection(r, storage));
    assertEquals(Set.of(), CycleRules.selection(r, TestConfigs.localSource("nobody", "x")));
    assertEquals(null, CycleRules.selection(new CycleRequest("c", null, Set.of(), false), storage));
    assertEquals(
        Set.of("bak/host-storage/tank/data"), CycleRules.pushSelection(r, List.of(storage), "bak"));
  }

  /**
   * Source and dataset names may both contain ':' (an IPv6 host as the name, "nas:2"). Catches an
   * entry split at its first ':', which selected nothing and ended in a silent success.
   */
  @Test
  void selection_namesWithColons_matchedWhole() {
    SourceConfig nas = TestConfigs.localSource("nas", "pool/x");
    SourceConfig nas2 = TestConfigs.localSource("nas:2", "pool/x", "pool/y:z");
    SourceConfig v6 = TestConfigs.localSource("::1", "tank/data");
    CycleRequest r =
        new CycleRequest(
            "c", null, Set.of("nas:2:pool/x", "nas:2:pool/y:z", "::1:tank/data"), false);
    assertEquals(Set.of("pool/x", "pool/y:z"), CycleRules.selection(r, nas2));
    assertEquals(Set.of(), CycleRules.selection(r, nas), "nas:2:pool/x is not nas's pool/x");
    assertEquals(Set.of("tank/data"), CycleRules.selection(r, v6));
    assertEquals(
        Set.of("b/nas:2/pool/x", "b/nas:2/pool/y:z", "b/::1/tank/data"),
        CycleRules.pushSelection(r, List.of(nas, nas2, v6), "b"));
  }
}
