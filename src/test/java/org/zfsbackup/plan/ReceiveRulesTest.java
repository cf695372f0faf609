package org.zfsbackup.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.plan.ReplicationPlannerTest.snaps;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.zfsbackup.plan.ReceiveRules.Mode;
import org.zfsbackup.plan.ReceiveRules.Refusal;
import org.zfsbackup.plan.ReceiveRules.Target;

/** Catches any -F that could destroy something, and a rollback that is not provably harmless. */
class ReceiveRulesTest {
  static final ReplicationStep FULL = new ReplicationStep.Full(snaps("a:1:g1").get(0));
  static final ReplicationStep INC =
      new ReplicationStep.Incremental(snaps("a:1:g1").get(0), snaps("b:2:g2").get(0));

  /**
   * A placeholder is replaced only as the agent made it: unmounted, canmount=off and empty. Catches
   * a -F over files someone wrote into it (sweep 10: 3 MB lost without a word).
   */
  @Test
  void placeholderInUse_table() {
    long empty = 114688; // zfs-fuse's empty filesystem
    assertEquals(Optional.empty(), ReceiveRules.placeholderInUse("b/p", "off", "no", empty));
    assertEquals(
        Optional.empty(),
        ReceiveRules.placeholderInUse("b/p", "off", "no", ReceiveRules.EMPTY_REFERENCED_MAX));
    for (String[] row :
        new String[][] {
          {"off", "yes", "114688", "is mounted"},
          {"on", "no", "114688", "has canmount=on"},
          {"noauto", "no", "114688", "has canmount=noauto"},
          {"off", "no", "1048577", "holds 1048577 bytes of its own"},
          {"off", "no", "3276800", "holds 3276800 bytes"},
        }) {
      Optional<String> why =
          ReceiveRules.placeholderInUse("b/p", row[0], row[1], Long.parseLong(row[2]));
      assertTrue(
          why.orElse("").startsWith("b/p is the agent's placeholder but " + row[3]),
          why.toString());
      assertTrue(why.get().contains("nothing was received"), why.get());
      assertTrue(why.get().contains("zfs set canmount=off b/p"), why.get());
    }
  }

  @Test
  void mode_table() {
    record Row(ReplicationStep step, Target target, Class<? extends Mode> expected) {}
    List<Row> rows =
        List.of(
            new Row(FULL, Target.ABSENT, Mode.Plain.class),
            new Row(FULL, new Target(true, true, false), Mode.ReplacePlaceholder.class),
            // someone else's empty dataset: never replaced
            new Row(FULL, new Target(true, false, false), Mode.Refused.class),
            // a placeholder someone snapshotted: -F would destroy those snapshots
            new Row(FULL, new Target(true, true, true), Mode.Refused.class),
            new Row(FULL, new Target(true, false, true), Mode.Refused.class),
            // incrementals never use -F, whatever the target
            new Row(INC, new Target(true, false, true), Mode.Plain.class),
            new Row(INC, new Target(true, true, true), Mode.Plain.class));
    for (Row r : rows) {
      assertInstanceOf(r.expected(), ReceiveRules.mode("p/x", r.step(), r.target()), r.toString());
    }
  }

  @Test
  void mode_refusedNotAPlaceholder_namesTheManualFix() {
    Mode m = ReceiveRules.mode("p/x", FULL, new Target(true, false, false));
    String why = ((Mode.Refused) m).why();
    assertTrue(why.contains("zfs set org.zfsbackup:placeholder=p/x p/x"), why);
  }

  @Test
  void afterRefusal_baseStillNewest_headModified_rollBackToBase() {
    Snapshot base = snaps("b:2:g2").get(0);
    Refusal r = ReceiveRules.afterRefusal("p/x", base, snaps("a:1:g1", "b:2:g2"), true);
    assertEquals(new Refusal.RollBackHead(base), r);
  }

  @Test
  void afterRefusal_baseStillNewestButOtherError_unexplained() {
    Snapshot base = snaps("b:2:g2").get(0);
    Refusal r = ReceiveRules.afterRefusal("p/x", base, snaps("a:1:g1", "b:2:g2"), false);
    assertInstanceOf(Refusal.Unexplained.class, r);
  }

  @Test
  void afterRefusal_newerSnapshotOnTarget_changedNamingIt_neverRollBack() {
    Snapshot base = snaps("b:2:g2").get(0);
    Refusal r =
        ReceiveRules.afterRefusal("p/x", base, snaps("a:1:g1", "b:2:g2", "auto:3:g9"), true);
    String what = ((Refusal.TargetChanged) r).what();
    assertTrue(what.contains("@auto") && what.contains("@b"), what);
  }

  /**
   * The base renamed on the source since it was sent: the rollback and the advice name the target's
   * snapshot, which kept the old name. Catches a `zfs rollback DST@<source's new name>` that fails
   * every cycle ("dataset does not exist"; sweep 10).
   */
  @Test
  void afterRefusal_baseRenamedOnTheSource_saidAndRolledBackByTheTargetsName() {
    Snapshot renamed = snaps("b-renamed:2:g2").get(0);
    Refusal r = ReceiveRules.afterRefusal("p/x", renamed, snaps("a:1:g1", "b:7:g2"), true);
    assertEquals(new Refusal.RollBackHead(snaps("b:7:g2").get(0)), r);
    String what =
        ((Refusal.TargetChanged)
                ReceiveRules.afterRefusal(
                    "p/x", renamed, snaps("a:1:g1", "b:7:g2", "auto:8:g9"), true))
            .what();
    assertTrue(what.contains("zfs rollback -r p/x@b,") && !what.contains("b-renamed"), what);
  }

  @Test
  void afterRefusal_baseGone_changed() {
    Snapshot base = snaps("b:2:g2").get(0);
    Refusal r = ReceiveRules.afterRefusal("p/x", base, snaps("a:1:g1"), true);
    String what = ((Refusal.TargetChanged) r).what();
    assertTrue(what.contains("(the source's @b) is no longer on p/x"), what);
  }

  @Test
  void blockingAncestor_table() {
    Set<String> failed = Set.of("tank/a", "tank/b/c");
    assertEquals(Optional.of("tank/a"), ReceiveRules.blockingAncestor("tank/a/x", failed));
    assertEquals(Optional.of("tank/a"), ReceiveRules.blockingAncestor("tank/a/x/y", failed));
    assertEquals(Optional.of("tank/b/c"), ReceiveRules.blockingAncestor("tank/b/c/d", failed));
    assertEquals(Optional.empty(), ReceiveRules.blockingAncestor("tank/a", failed)); // itself
    assertEquals(Optional.empty(), ReceiveRules.blockingAncestor("tank/ab/x", failed));
    assertEquals(Optional.empty(), ReceiveRules.blockingAncestor("tank/b/x", failed));
  }

  /**
   * -F on a resume only into the agent's empty placeholder (OpenZFS 2.2+ requires it there).
   * Catches -F on an incremental's resume, which would destroy the target's newer snapshots when
   * the resumed receive ends.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "exists {0}, placeholder {1}, snapshots {2}")
  @org.junit.jupiter.params.provider.CsvSource({
    "true,  true,  false, true",
    "true,  true,  true,  false",
    "true,  false, true,  false",
    "true,  false, false, false",
    "false, false, false, false",
  })
  void resumeWithForce_onlyIntoAnEmptyPlaceholder(
      boolean exists, boolean placeholder, boolean snapshots, boolean force) {
    assertEquals(
        force,
        ReceiveRules.resumeWithForce(new ReceiveRules.Target(exists, placeholder, snapshots)));
  }
}
