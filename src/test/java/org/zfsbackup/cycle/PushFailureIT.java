package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.cycle.CycleResults.result;
import static org.zfsbackup.testing.ZfsPools.dataset;
import static org.zfsbackup.testing.ZfsPools.get;
import static org.zfsbackup.testing.ZfsPools.snapshot;
import static org.zfsbackup.testing.ZfsPools.snapshots;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.testing.ZfsPools;
import org.zfsbackup.testing.ZfsSshHosts;

/**
 * A failure in the push phase beside a healthy dataset, on real ZFS (file-backed zfs-fuse pools): a
 * local source, a local backup pool and a local "offsite" pool, no ssh.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PushFailureIT {
  ZfsSshHosts hosts;

  @BeforeAll
  void setUp() {
    hosts = ZfsSshHosts.local("zpf");
  }

  @AfterAll
  void tearDown() {
    if (hosts != null) {
      hosts.close();
    }
  }

  final List<CycleEvent> events = Collections.synchronizedList(new ArrayList<>());

  CycleReport cycle(AgentConfig config) {
    events.clear();
    CycleRequest request = new CycleRequest("push-failure", null, Set.of(), false);
    return BackupCycle.create(config).run(request, events::add, new CycleControl());
  }

  List<CycleEvent.Error> errorsAbout(String dataset) {
    return CycleResults.errors(events).stream().filter(x -> dataset.equals(x.dataset())).toList();
  }

  /**
   * Two datasets are pulled and pushed; then the offsite copy of one diverges (a snapshot taken
   * there) and both get a new snapshot. Catches: a push failure that stops the rest of the push
   * phase (the healthy one not pushed), or stops the cycle before it; a cycle with a failed push
   * reported {@code success} or {@code failed} instead of {@code partial}; the failure not
   * attributed to the push phase and its dataset, or not naming the offending snapshot; a diverged
   * offsite copy received into anyway (its own snapshot rolled back or destroyed).
   */
  @Test
  void oneOffsiteCopyDiverged_theOtherStillPushed_partial() {
    // "a-bad" before "b-good" in every order (name, creation, config): the failure comes first.
    String bad = hosts.src + "/pf/a-bad";
    String good = hosts.src + "/pf/b-good";
    dataset(bad);
    dataset(good);
    snapshot(good, "g1");
    hosts.pools.snapshotWithData(bad, "b1", 20_000);
    String target = hosts.bak + "/pf";
    String offTarget = hosts.off + "/pf";
    dataset(target);
    dataset(offTarget);
    PushConfig push = hosts.push(offTarget, target);
    AgentConfig cfg =
        TestConfigs.config(
            List.of("ssh"),
            target,
            List.of(TestConfigs.localSource("h", bad, good)),
            Optional.of(push));
    String goodLocal = target + "/h/" + good;
    String badLocal = target + "/h/" + bad;
    String goodOff = offTarget + "/h/" + good;
    String badOff = offTarget + "/h/" + bad;

    CycleReport first = cycle(cfg);
    assertEquals(Outcome.SUCCESS, first.outcome(), first.datasets().toString());
    assertEquals(List.of("b1"), snapshots(badOff), "set-up: both pushed once");
    assertEquals(List.of("g1"), snapshots(goodOff));

    snapshot(badOff, "offsite-change");
    String offsiteGuid = get("guid", badOff + "@offsite-change");
    snapshot(good, "g2");
    snapshot(bad, "b2");

    CycleReport r = cycle(cfg);
    assertEquals(Outcome.PARTIAL, r.outcome(), r.datasets().toString());
    // The pull phase is healthy for both.
    assertEquals(Status.SENT, result(r, Phase.PULL, good).status());
    assertEquals(Status.SENT, result(r, Phase.PULL, bad).status());
    assertEquals(List.of("b1", "b2"), snapshots(badLocal));
    // The push of the diverged one fails, naming the snapshot in the way, and changes nothing.
    DatasetResult failed = result(r, Phase.PUSH, badLocal);
    assertEquals(Status.FAILED, failed.status(), failed.toString());
    assertEquals(badOff, failed.target());
    assertTrue(failed.message().contains("@offsite-change"), failed.message());
    assertEquals(List.of("b1", "offsite-change"), snapshots(badOff), "the offsite copy kept");
    assertEquals(offsiteGuid, get("guid", badOff + "@offsite-change"));
    List<CycleEvent.Error> errors = errorsAbout(badLocal);
    assertEquals(1, errors.size(), errors.toString());
    assertEquals("push", errors.get(0).phase().wire());
    assertTrue(errors.get(0).message().contains("@offsite-change"), errors.get(0).message());
    // The healthy one is pushed all the same, and really arrived.
    DatasetResult pushed = result(r, Phase.PUSH, goodLocal);
    assertEquals(Status.SENT, pushed.status(), pushed.toString());
    assertEquals(goodOff, pushed.target());
    assertEquals("incremental @g1..@g2", pushed.plan());
    assertEquals(List.of("g1", "g2"), snapshots(goodOff));
    assertEquals(get("guid", good + "@g2"), get("guid", goodOff + "@g2"));
    assertEquals(List.of(), errorsAbout(goodLocal));
    assertEquals(List.of(), errorsAbout(good));
    assertTrue(r.datasets().indexOf(failed) < r.datasets().indexOf(pushed), "after the failure");
  }

  /**
   * A backup copy that diverged (a snapshot taken on the backup server) is refused by the pull and
   * then held back by the push of the same cycle. Catches: the push carrying the foreign snapshot
   * offsite and moving its hold onto it, after which the documented fix ({@code zfs rollback -r} to
   * the common snapshot) fails with "dataset is busy" and the offsite copy diverges too; a
   * held-back copy reported as failed twice, or not at all; the healthy dataset not pushed.
   */
  @Test
  void backupCopyDiverged_notPushedThatCycle_andTheDocumentedFixWorks() {
    String bad = hosts.src + "/pf2/a-bad";
    String good = hosts.src + "/pf2/b-good";
    dataset(bad);
    dataset(good);
    snapshot(bad, "b1");
    snapshot(good, "g1");
    String target = hosts.bak + "/pf2";
    String offTarget = hosts.off + "/pf2";
    dataset(target);
    dataset(offTarget);
    AgentConfig cfg =
        TestConfigs.config(
            List.of("ssh"),
            target,
            List.of(TestConfigs.localSource("h", bad, good)),
            Optional.of(hosts.push(offTarget, target)));
    String badLocal = target + "/h/" + bad;
    String badOff = offTarget + "/h/" + bad;
    String goodLocal = target + "/h/" + good;
    assertEquals(Outcome.SUCCESS, cycle(cfg).outcome(), "set-up: both pulled and pushed once");

    snapshot(badLocal, "backup-change"); // someone snapshotted the backup
    snapshot(bad, "b2");
    snapshot(good, "g2");
    CycleReport r = cycle(cfg);
    assertEquals(Outcome.PARTIAL, r.outcome(), r.datasets().toString());
    DatasetResult pull = result(r, Phase.PULL, bad);
    assertEquals(Status.FAILED, pull.status(), pull.toString());
    assertEquals(org.zfsbackup.event.ErrorKind.DIVERGED, pull.kind());
    DatasetResult push = result(r, Phase.PUSH, badLocal);
    assertEquals(Status.SKIPPED, push.status(), push.toString());
    assertTrue(
        push.message().contains("its pull was refused this cycle (diverged)"), push.message());
    assertEquals(List.of(), errorsAbout(badLocal), "one error, the pull's");
    assertEquals(List.of("b1"), snapshots(badOff), "nothing carried offsite");
    assertEquals("0", get("userrefs", badLocal + "@backup-change"), "no hold moved onto it");
    assertEquals(Status.SENT, result(r, Phase.PUSH, goodLocal).status(), "the healthy one pushed");
    // The hold taken on @b2 before the streams is let go: it did not become the base (a leak
    // would stay for ever on zfs-fuse), and the base keeps its own.
    assertEquals("0", get("userrefs", bad + "@b2"), "the early hold of a failed dataset is let go");
    assertEquals("1", get("userrefs", bad + "@b1"), "its base stays held");
    assertEquals("1", get("userrefs", good + "@g2"), "the healthy one's new base is held");
    assertEquals("0", get("userrefs", good + "@g1"), "and its old one released");

    // README, Troubleshooting, diverged: roll the copy back to the common snapshot, run again.
    ZfsPools.zfs("rollback", "-r", badLocal + "@b1");
    CycleReport again = cycle(cfg);
    assertEquals(Outcome.SUCCESS, again.outcome(), again.datasets().toString());
    assertEquals(List.of("b1", "b2"), snapshots(badLocal));
    assertEquals(List.of("b1", "b2"), snapshots(badOff));
  }
}
