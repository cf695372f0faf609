package org.zfsbackup.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReplicationPlannerTest {

  /** The snapshot DSL: {@code "name:createtxg:guid"}. */
  static List<Snapshot> snaps(String... specs) {
    return Arrays.stream(specs)
        .map(s -> s.split(":"))
        .map(f -> new Snapshot(f[0], f[2], Long.parseLong(f[1])))
        .toList();
  }

  static String steps(PlanOutcome o) {
    return ((PlanOutcome.Send) o).toString();
  }

  @Test
  void plan_emptyTarget_fullOfEarliestThenIncrementalToLatest() {
    PlanOutcome o = ReplicationPlanner.plan(snaps("a:1:g1", "b:2:g2", "c:3:g3"), List.of());
    assertEquals("full @a, incremental @a..@c", steps(o));
    assertNull(((PlanOutcome.Send) o).base());
  }

  @Test
  void plan_emptyTargetSingleSnapshot_fullOnly() {
    assertEquals("full @a", steps(ReplicationPlanner.plan(snaps("a:1:g1"), List.of())));
  }

  @Test
  void plan_commonBase_incrementalFromLatestCommon() {
    PlanOutcome o =
        ReplicationPlanner.plan(
            snaps("a:1:g1", "b:2:g2", "c:3:g3", "d:4:g4"), snaps("a:10:g1", "b:11:g2"));
    assertEquals("incremental @b..@d", steps(o));
    assertEquals("b", ((PlanOutcome.Send) o).base().name());
  }

  @Test
  void plan_latestAlreadyOnTarget_upToDate() {
    PlanOutcome o = ReplicationPlanner.plan(snaps("a:1:g1", "b:2:g2"), snaps("a:5:g1", "b:6:g2"));
    assertEquals("b", assertInstanceOf(PlanOutcome.UpToDate.class, o).latest().name());
  }

  @Test
  void plan_noSourceSnapshots_skipped() {
    assertInstanceOf(
        PlanOutcome.NoSourceSnapshots.class, ReplicationPlanner.plan(List.of(), snaps("a:1:g1")));
  }

  @Test
  void plan_namesOutOfAlphabeticalOrder_ordersByCreatetxg() {
    // "zeta" was taken first, "alpha" last: by name the latest would be "zeta".
    PlanOutcome o =
        ReplicationPlanner.plan(snaps("alpha:30:g3", "zeta:10:g1", "mid:20:g2"), List.of());
    assertEquals("full @zeta, incremental @zeta..@alpha", steps(o));
    PlanOutcome inc =
        ReplicationPlanner.plan(
            snaps("alpha:30:g3", "zeta:10:g1", "mid:20:g2"), snaps("zeta:5:g1"));
    assertEquals("incremental @zeta..@alpha", steps(inc));
  }

  @Test
  void plan_targetNewerThanBase_divergedNamesTheSnapshots() {
    PlanOutcome o =
        ReplicationPlanner.plan(
            snaps("a:1:g1", "b:2:g2", "c:3:g3"), snaps("a:5:g1", "b:6:g2", "x:7:gx", "y:8:gy"));
    PlanOutcome.Diverged d = assertInstanceOf(PlanOutcome.Diverged.class, o);
    assertEquals("b", d.base().name());
    assertEquals(List.of("x", "y"), d.newerOnTarget().stream().map(Snapshot::name).toList());
    assertEquals(true, o.toString().contains("@x, @y"));
    // Says why, for a user migrating from a tool without holds (the source pruned the snapshot the
    // old tool received last), and what to do.
    assertEquals(true, o.toString().contains("pruned on the source"), o.toString());
    assertEquals(true, o.toString().contains("roll the target back to @b"), o.toString());
  }

  /** Diverged after the base was renamed on the source: the advice names the target's snapshot. */
  @Test
  void plan_diverged_baseRenamedOnTheSource_namedAsOnTheTarget() {
    PlanOutcome o =
        ReplicationPlanner.plan(snaps("a:1:g1", "b-renamed:2:g2"), snaps("b:6:g2", "x:7:gx"));
    PlanOutcome.Diverged d = assertInstanceOf(PlanOutcome.Diverged.class, o);
    assertEquals("b", d.base().name());
    assertEquals(true, o.toString().contains("roll the target back to @b "), o.toString());
  }

  @Test
  void plan_targetNewerEvenWhenSourceHasNothingNew_diverged() {
    assertInstanceOf(
        PlanOutcome.Diverged.class,
        ReplicationPlanner.plan(snaps("a:1:g1"), snaps("a:5:g1", "local:6:gl")));
  }

  @Test
  void plan_targetOlderExtraSnapshots_stillIncremental() {
    // The source pruned "old"; the target still has it. It is older than the base: no divergence.
    PlanOutcome o = ReplicationPlanner.plan(snaps("b:2:g2", "c:3:g3"), snaps("old:4:g0", "b:6:g2"));
    assertEquals("incremental @b..@c", steps(o));
  }

  @Test
  void plan_targetSnapshotsButNoneInCommon_noCommonSnapshot() {
    PlanOutcome o = ReplicationPlanner.plan(snaps("a:1:g1", "b:2:g2"), snaps("p:1:gp", "q:2:gq"));
    PlanOutcome.NoCommonSnapshot n = assertInstanceOf(PlanOutcome.NoCommonSnapshot.class, o);
    assertEquals(List.of("p", "q"), n.targetSnapshots().stream().map(Snapshot::name).toList());
  }

  @Test
  void plan_sameNameDifferentGuid_isNotCommon() {
    PlanOutcome o = ReplicationPlanner.plan(snaps("a:1:g1", "b:2:g2"), snaps("a:1:OTHER"));
    assertInstanceOf(PlanOutcome.NoCommonSnapshot.class, o);
  }

  @Test
  void plan_sameNameDifferentGuidAfterBase_diverged() {
    PlanOutcome o =
        ReplicationPlanner.plan(snaps("a:1:g1", "b:2:g2"), snaps("a:3:g1", "b:4:OTHER"));
    PlanOutcome.Diverged d = assertInstanceOf(PlanOutcome.Diverged.class, o);
    assertEquals("a", d.base().name());
  }

  @Test
  void plan_inputOrderDoesNotMatter() {
    PlanOutcome o =
        ReplicationPlanner.plan(snaps("c:3:g3", "a:1:g1", "b:2:g2"), snaps("b:9:g2", "a:8:g1"));
    assertEquals("incremental @b..@c", steps(o));
  }
}
