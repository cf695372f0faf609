package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.cycle.CycleResults.result;
import static org.zfsbackup.testing.ZfsPools.dataset;
import static org.zfsbackup.testing.ZfsPools.snapshot;
import static org.zfsbackup.testing.ZfsPools.snapshots;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.KeepPolicy;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.RetentionConfig;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.testing.ZfsPools;
import org.zfsbackup.testing.ZfsSshHosts;

/**
 * Retention against real ZFS (zfs-fuse pools) and a real sshd: a source pulled over ssh, the backup
 * pool local, the offsite pool pushed to over ssh. zfs-fuse's {@code creation} is always "now", so
 * the policy dates snapshots by their sanoid names ({@code time_from: name}), spanning months.
 * Holds are off, so what keeps the incremental and push bases is retention's own rule, not zfs
 * refusing to destroy a held snapshot. zfs-fuse refuses {@code destroy ds@a,b}: these tests also go
 * through the one-per-snapshot fallback.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RetentionIT {
  static final String JAN10 = "autosnap_2026-01-10_00:00:00_daily";
  static final String JAN20 = "autosnap_2026-01-20_00:00:00_daily";
  static final String FEB05 = "autosnap_2026-02-05_00:00:00_daily";
  static final String MANUAL = "manual-before-upgrade";
  static final String FEB15 = "autosnap_2026-02-15_00:00:00_daily";
  static final String MAR01 = "autosnap_2026-03-01_00:00:00_daily";
  static final String MAR10 = "autosnap_2026-03-10_00:00:00_daily";
  static final String MAR11 = "autosnap_2026-03-11_00:00:00_daily";
  static final String MAR12 = "autosnap_2026-03-12_00:00:00_daily";
  static final List<String> SOURCE =
      List.of(JAN10, JAN20, FEB05, MANUAL, FEB15, MAR01, MAR10, MAR11);

  ZfsSshHosts hosts;
  final List<CycleEvent> events = Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  void setUp() {
    hosts = ZfsSshHosts.overSsh("zr");
  }

  @AfterAll
  void tearDown() {
    if (hosts != null) {
      hosts.close();
    }
  }

  /** backup: the newest of the last 2 months; offsite: the newest snapshot only. */
  static RetentionConfig policy() {
    return new RetentionConfig(
        Optional.of(new KeepPolicy(0, 0, 0, 0, 2, 0)),
        Optional.of(new KeepPolicy(1, 0, 0, 0, 0, 0)),
        "name",
        Optional.of("UTC"));
  }

  /**
   * Pull {@code ds} over ssh into {@code <bak>/<name>}, push that to {@code <off>/<name>}. Both
   * target roots are created first when missing: the agent never creates a target root.
   */
  AgentConfig config(String name, Optional<RetentionConfig> retention, String... datasets) {
    String target = hosts.bak + "/" + name;
    for (String root : List.of(target, hosts.off + "/" + name)) {
      ZfsPools.ensureDataset(root);
    }
    PushConfig push = hosts.push(hosts.off + "/" + name, target);
    AgentConfig c =
        TestConfigs.config(
            hosts.ssh.sshCommand(),
            target,
            List.of(TestConfigs.sshSource("h", hosts.ssh, datasets)),
            Optional.of(push));
    return TestConfigs.withRetention(TestConfigs.withHolds(c, false), retention);
  }

  CycleReport cycle(AgentConfig config, boolean dryRun) {
    events.clear();
    return new BackupCycle(config, new RealProcessRunner(List.of("pv")), Clock.systemUTC())
        .run(new CycleRequest("t", null, Set.of(), dryRun), events::add, new CycleControl());
  }

  String sourceWithSnapshots(String name) {
    String ds = hosts.src + "/" + name + "/data";
    dataset(ds);
    SOURCE.forEach(s -> snapshot(ds, s));
    return ds;
  }

  /**
   * Every property of {@code root} and below but the pool's free space, which pruning a sibling
   * changes.
   */
  static String untouched(String root) {
    return ZfsPools.fingerprint(root)
        .lines()
        .filter(l -> !l.contains("\tavailable\t"))
        .reduce("", (a, b) -> a + b + "\n");
  }

  List<CycleEvent.Progress> prunedEvents() {
    return events.stream()
        .filter(e -> e instanceof CycleEvent.Progress p && p.status() == StepStatus.PRUNED)
        .map(e -> (CycleEvent.Progress) e)
        .toList();
  }

  /**
   * Catches: a policy not applied on either tier, the wrong snapshots kept (restic semantics over
   * names), an undatable snapshot destroyed, the source touched, the base of the next incremental
   * destroyed (the second cycle would then fail or send in full), and pruned snapshots missing from
   * the events and the report.
   */
  @Test
  void policy_prunesBothTiers_keepsBasesAndUndatable_nextCycleStillIncremental() {
    String ds = sourceWithSnapshots("both");
    AgentConfig cfg = config("both", Optional.of(policy()), ds);
    String backup = hosts.bak + "/both/h/" + ds;
    String offsite = hosts.off + "/both/h/" + ds;

    CycleReport first = cycle(cfg, false);
    assertEquals(Outcome.SUCCESS, first.outcome(), first.toString());
    // backup: March's and February's newest, the undatable one; offsite: the newest, the undatable.
    assertEquals(List.of(MANUAL, FEB15, MAR11), snapshots(backup));
    assertEquals(List.of(MANUAL, MAR11), snapshots(offsite));
    assertEquals(SOURCE, snapshots(ds), "the source is never pruned");
    assertEquals(5 + 6, first.prunedCount());
    List<CycleEvent.Progress> pruned = prunedEvents();
    assertEquals(2, pruned.size(), pruned.toString());
    CycleEvent.Progress offsiteEvent = pruned.get(0);
    assertEquals(Phase.PUSH, offsiteEvent.phase());
    assertEquals(offsite, offsiteEvent.target());
    assertEquals(List.of(JAN10, JAN20, FEB05, FEB15, MAR01, MAR10), offsiteEvent.pruned());
    CycleEvent.Progress backupEvent = pruned.get(1);
    assertEquals(Phase.PULL, backupEvent.phase());
    assertEquals(ds, backupEvent.dataset());
    assertEquals(backup, backupEvent.target());
    assertEquals(List.of(JAN10, JAN20, FEB05, MAR01, MAR10), backupEvent.pruned());

    // The next cycle sends incrementally from the bases retention kept, on both tiers.
    snapshot(ds, MAR12);
    CycleReport second = cycle(cfg, false);
    assertEquals(Outcome.SUCCESS, second.outcome(), second.toString());
    assertEquals("incremental @" + MAR11 + "..@" + MAR12, result(second, Phase.PULL, ds).plan());
    assertEquals(
        "incremental @" + MAR11 + "..@" + MAR12, result(second, Phase.PUSH, backup).plan());
    // MAR11 is no base any more: the policy alone decides it.
    assertEquals(List.of(MANUAL, FEB15, MAR12), snapshots(backup));
    assertEquals(List.of(MANUAL, MAR12), snapshots(offsite));
    assertEquals(2, second.prunedCount());

    // A snapshot whose name is older than the others, taken last: the policy (by time) would drop
    // it, but it is the newest and the base of the next incremental on both tiers, so it stays.
    String backdated = "autosnap_2025-12-31_00:00:00_daily";
    snapshot(ds, backdated);
    CycleReport third = cycle(cfg, false);
    assertEquals(Outcome.SUCCESS, third.outcome(), third.toString());
    assertEquals(List.of(MANUAL, FEB15, MAR12, backdated), snapshots(backup));
    assertEquals(List.of(MANUAL, MAR12, backdated), snapshots(offsite));
    String mar13 = "autosnap_2026-03-13_00:00:00_daily";
    snapshot(ds, mar13);
    CycleReport fourth = cycle(cfg, false);
    assertEquals(Outcome.SUCCESS, fourth.outcome(), fourth.toString());
    assertEquals(
        "incremental @" + backdated + "..@" + mar13, result(fourth, Phase.PULL, ds).plan());
    assertEquals(
        "incremental @" + backdated + "..@" + mar13, result(fourth, Phase.PUSH, backup).plan());
    assertEquals(List.of(MANUAL, FEB15, mar13), snapshots(backup));
    assertEquals(List.of(MANUAL, mar13), snapshots(offsite));
  }

  /**
   * Catches: a dry run (the {@code plan} command) that destroys, or that does not say what a real
   * run would destroy.
   */
  @Test
  void dryRun_listsWhatWouldBeDestroyed_destroysNothing() {
    String ds = sourceWithSnapshots("dry");
    cycle(config("dry", Optional.empty(), ds), false); // replicated, nothing pruned
    String backup = hosts.bak + "/dry/h/" + ds;
    assertEquals(SOURCE, snapshots(backup));
    String beforeBak = untouched(hosts.bak + "/dry");
    String beforeOff = untouched(hosts.off + "/dry");

    CycleReport plan = cycle(config("dry", Optional.of(policy()), ds), true);
    assertEquals(beforeBak, untouched(hosts.bak + "/dry"), "a plan destroys nothing");
    assertEquals(beforeOff, untouched(hosts.off + "/dry"));
    assertEquals(5 + 6, plan.prunedCount());
    CycleReport.Pruned backupTier =
        plan.pruned().stream().filter(p -> p.phase() == Phase.PULL).findFirst().orElseThrow();
    assertEquals(List.of(JAN10, JAN20, FEB05, MAR01, MAR10), backupTier.snapshots());

    // And that is what the real run then destroys.
    cycle(config("dry", Optional.of(policy()), ds), false);
    assertEquals(List.of(MANUAL, FEB15, MAR11), snapshots(backup));
  }

  /**
   * The agent's configuration file edited since it started, with another retention (the operator
   * loosened it): the agent's cycle still replicates, says so in a warning (MQTT's error topic and
   * the report), and prunes nothing; with the file back as loaded, it prunes again. Catches the 88
   * snapshots destroyed under the policy the operator had just changed (sweep 10).
   */
  @Test
  void agentsFileEditedToAnotherRetention_warnsAndPrunesNothing_backAsLoaded_prunes(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws java.io.IOException {
    String ds = sourceWithSnapshots("drift");
    AgentConfig running = config("drift", Optional.of(policy()), ds);
    java.nio.file.Path file = dir.resolve("agent.yaml");
    String asLoaded = "pull: {target: t/x, sources: [{name: h, datasets: [a/b]}]}\n";
    java.nio.file.Files.writeString(file, asLoaded);
    ConfigDrift drift = new ConfigDrift(file, java.util.Map.of(), running);
    java.nio.file.Files.writeString(file, asLoaded + "retention: {backup: {keep_last: 50}}\n");
    String backup = hosts.bak + "/drift/h/" + ds;

    events.clear();
    CycleReport r =
        new BackupCycle(running, new RealProcessRunner(List.of("pv")), Clock.systemUTC())
            .watching(drift)
            .run(new CycleRequest("t", null, Set.of(), false), events::add, new CycleControl());
    assertEquals(Status.SENT, r.datasets().get(0).status(), r.toString());
    assertEquals(SOURCE, snapshots(backup), "nothing pruned");
    assertEquals(0, r.prunedCount());
    String warning =
        events.stream()
            .filter(e -> e instanceof CycleEvent.Error err && err.dataset() == null)
            .map(e -> ((CycleEvent.Error) e).message())
            .findFirst()
            .orElseThrow(() -> new AssertionError("no warning: " + events));
    assertTrue(warning.contains("changed since the agent started"), warning);
    assertTrue(warning.contains("prunes nothing"), warning);
    assertTrue(r.warnings().contains(warning), r.warnings().toString());

    java.nio.file.Files.writeString(file, asLoaded); // as it was loaded: no drift
    r =
        new BackupCycle(running, new RealProcessRunner(List.of("pv")), Clock.systemUTC())
            .watching(drift)
            .run(new CycleRequest("t", null, Set.of(), false), events::add, new CycleControl());
    assertEquals(List.of(MANUAL, FEB15, MAR11), snapshots(backup), "pruned by the policy loaded");
    assertTrue(r.warnings().isEmpty(), r.warnings().toString());
  }

  /**
   * The agent's file edited to another retention while the cycle streams: asked again before
   * pruning, the cycle warns and prunes nothing. Catches a cycle that checked only at its start and
   * pruned 3 snapshots under the policy just changed (verify 15).
   */
  @Test
  void agentsFileEditedWhileTheCycleStreams_warnsBeforePruning_prunesNothing(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws java.io.IOException {
    String ds = sourceWithSnapshots("drift2");
    AgentConfig running = config("drift2", Optional.of(policy()), ds);
    java.nio.file.Path file = dir.resolve("agent.yaml");
    String asLoaded = "pull: {target: t/x, sources: [{name: h, datasets: [a/b]}]}\n";
    java.nio.file.Files.writeString(file, asLoaded);
    ConfigDrift drift = new ConfigDrift(file, java.util.Map.of(), running);
    RecordingRunner editing =
        new RecordingRunner(new RealProcessRunner(List.of("pv"))) {
          @Override
          public org.zfsbackup.exec.PipeResult pipe(
              List<String> send,
              List<String> receive,
              ByteProgress p,
              java.time.Duration stall,
              KillSwitch k) {
            try { // the operator saves the file while the stream runs
              java.nio.file.Files.writeString(
                  file, asLoaded + "retention: {backup: {keep_last: 50}}\n");
            } catch (java.io.IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
            return super.pipe(send, receive, p, stall, k);
          }
        };
    events.clear();
    CycleReport r =
        new BackupCycle(running, editing, Clock.systemUTC())
            .watching(drift)
            .run(new CycleRequest("t", null, Set.of(), false), events::add, new CycleControl());
    assertEquals(Status.SENT, r.datasets().get(0).status(), r.toString());
    assertEquals(SOURCE, snapshots(hosts.bak + "/drift2/h/" + ds), "nothing pruned");
    assertEquals(0, r.prunedCount());
    assertTrue(
        r.warnings().stream().anyMatch(w -> w.contains("prunes nothing")), r.warnings().toString());
  }

  /**
   * Catches: pruning a dataset whose replication was refused (diverged) this cycle; its sibling,
   * replicated, is still pruned.
   */
  @Test
  void divergedDataset_isNotPruned_siblingIs() {
    String ds = sourceWithSnapshots("div");
    String sibling = hosts.src + "/div/other";
    dataset(sibling);
    SOURCE.forEach(s -> snapshot(sibling, s));
    cycle(config("div", Optional.empty(), ds, sibling), false);
    String backup = hosts.bak + "/div/h/" + ds;
    snapshot(backup, "local-change");
    snapshot(ds, MAR12);
    String before = untouched(backup);

    CycleReport r = cycle(config("div", Optional.of(policy()), ds, sibling), false);
    assertEquals(Status.FAILED, result(r, Phase.PULL, ds).status());
    assertEquals(before, untouched(backup), "the diverged dataset is left alone");
    assertEquals(List.of(MANUAL, FEB15, MAR11), snapshots(hosts.bak + "/div/h/" + sibling));
    assertTrue(
        r.pruned().stream().noneMatch(p -> p.target().equals(backup)), r.pruned().toString());
  }

  /**
   * Catches: a snapshot that cannot be destroyed (here: it has a clone) failing its dataset or
   * stopping the others; it is a {@code destroy_failed} warning and stays.
   */
  @Test
  void destroyFailure_isAWarning_theRestIsPruned() {
    String ds = sourceWithSnapshots("busy");
    cycle(config("busy", Optional.empty(), ds), false);
    String backup = hosts.bak + "/busy/h/" + ds;
    ZfsPools.zfs("clone", "-o", "mountpoint=none", backup + "@" + JAN20, hosts.bak + "/busy-clone");
    try {
      CycleReport r = cycle(config("busy", Optional.of(policy()), ds), false);
      assertEquals(Outcome.SUCCESS, r.outcome(), r.toString());
      assertEquals(List.of(JAN20, MANUAL, FEB15, MAR11), snapshots(backup));
      assertTrue(
          r.warnings().stream().anyMatch(w -> w.contains(backup + "@" + JAN20)),
          r.warnings().toString());
      assertTrue(
          events.stream()
              .anyMatch(
                  e ->
                      e instanceof CycleEvent.Error err
                          && err.message().startsWith("destroy_failed: ")),
          events.toString());
    } finally {
      Cmd.run("zfs", "destroy", hosts.bak + "/busy-clone");
    }
  }
}
