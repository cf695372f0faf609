package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.cycle.CycleResults.errors;
import static org.zfsbackup.cycle.CycleResults.result;
import static org.zfsbackup.testing.ZfsPools.dataset;
import static org.zfsbackup.testing.ZfsPools.get;
import static org.zfsbackup.testing.ZfsPools.snapshot;
import static org.zfsbackup.testing.ZfsPools.snapshots;
import static org.zfsbackup.testing.ZfsPools.zfs;

import java.time.Clock;
import java.time.Duration;
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
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.testing.FreePort;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.testing.ZfsPools;
import org.zfsbackup.testing.ZfsSshHosts;

/**
 * The replication rules against real ZFS (file-backed zfs-fuse pools) over a real sshd on
 * 127.0.0.1: one test per rule. Sources are pulled over ssh, the backup pool is local, the
 * "offsite" pool is reached over ssh again. zfs-fuse has no {@code receive -u}: these tests receive
 * with no options ({@link TestConfigs#ZFS_FUSE_RECEIVE}); {@link FakeZfsIT} covers {@code -u} and
 * raw sends.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReplicationIT {
  ZfsSshHosts hosts;

  @BeforeAll
  void setUp() {
    hosts = ZfsSshHosts.overSsh("z");
  }

  @AfterAll
  void tearDown() {
    if (hosts != null) {
      hosts.close();
    }
  }

  final List<CycleEvent> events = Collections.synchronizedList(new ArrayList<>());
  RecordingRunner runner;

  CycleReport cycle(AgentConfig config) {
    return cycle(config, new RecordingRunner(new RealProcessRunner(List.of("pv"))));
  }

  CycleReport cycle(AgentConfig config, RecordingRunner recording) {
    events.clear();
    runner = recording;
    return new BackupCycle(config, runner, Clock.systemUTC())
        .run(new CycleRequest("test", null, Set.of(), false), events::add, new CycleControl());
  }

  /**
   * A pull into {@code target}, which is created first when missing (the agent never creates it).
   */
  AgentConfig pull(String target, SourceConfig... sources) {
    ZfsPools.ensureDataset(target);
    return TestConfigs.config(hosts.ssh.sshCommand(), target, List.of(sources), Optional.empty());
  }

  /**
   * A real runner whose streams' send side goes through {@code onSend} (to act, or to change it).
   */
  RecordingRunner streamsThrough(java.util.function.UnaryOperator<List<String>> onSend) {
    return new RecordingRunner(new RealProcessRunner(List.of("pv"))) {
      @Override
      public org.zfsbackup.exec.PipeResult pipe(
          List<String> send, List<String> receive, ByteProgress p, Duration stall, KillSwitch k) {
        return super.pipe(onSend.apply(send), receive, p, stall, k);
      }
    };
  }

  /** A runner whose streams' send side runs in {@code sh -c script} (the send's argv is "$@"). */
  RecordingRunner sendsThroughShell(String script) {
    return streamsThrough(
        send -> {
          List<String> wrapped = new ArrayList<>(List.of("sh", "-c", script, "sh"));
          wrapped.addAll(send);
          return wrapped;
        });
  }

  /** The ssh processes the last cycle started. */
  long ssh() {
    return runner.commands().stream().filter(c -> c.get(0).equals("ssh")).count();
  }

  @Test
  void initialThenIncrementalThenUpToDate() {
    String ds = hosts.src + "/init/data";
    dataset(ds);
    hosts.pools.snapshotWithData(ds, "a", 200_000);
    hosts.pools.snapshotWithData(ds, "b", 100_000);
    hosts.pools.snapshotWithData(ds, "c", 100_000);
    String target = hosts.bak + "/init";
    AgentConfig cfg = pull(target, TestConfigs.sshSource("host-one", hosts.ssh, ds));

    CycleReport first = cycle(cfg);
    String dst = target + "/host-one/" + ds;
    assertEquals(Outcome.SUCCESS, first.outcome(), first.toString());
    assertEquals(Status.SENT, result(first, ds).status());
    assertEquals("full @a, incremental @a..@c", result(first, ds).plan());
    assertEquals(List.of("a", "b", "c"), snapshots(dst));
    assertEquals(get("guid", ds + "@c"), get("guid", dst + "@c"));
    assertTrue(result(first, ds).bytes() > 400_000, "bytes counted: " + result(first, ds).bytes());
    // Received datasets and the parents the agent created end with canmount=off.
    assertEquals("off", get("canmount", dst));
    assertEquals("off", get("canmount", target + "/host-one"));
    assertEquals("off", get("canmount", target + "/host-one/" + hosts.src + "/init"));
    // Progress events: started, done per step, with bytes.
    List<CycleEvent.Progress> done =
        events.stream()
            .filter(
                e -> e instanceof CycleEvent.Progress p && p.status() == CycleEvent.StepStatus.DONE)
            .map(e -> (CycleEvent.Progress) e)
            .toList();
    assertEquals(2, done.size());
    assertTrue(done.get(0).bytes() > 200_000);

    hosts.pools.snapshotWithData(ds, "d", 50_000);
    CycleReport second = cycle(cfg);
    assertEquals("incremental @c..@d", result(second, ds).plan());
    assertEquals(List.of("a", "b", "c", "d"), snapshots(dst));

    CycleReport third = cycle(cfg);
    assertEquals(Status.UP_TO_DATE, result(third, ds).status());
    assertEquals(0, runner.pipes().size(), "an up-to-date cycle sends nothing");
    assertEquals(1, ssh(), "one ssh listing for the host, nothing else: " + runner.commands());
  }

  @Test
  void holdsPlacedOnTheNewBaseAndReleasedFromTheOld() {
    String ds = hosts.src + "/holds/data";
    dataset(ds);
    snapshot(ds, "a");
    snapshot(ds, "b");
    AgentConfig cfg = pull(hosts.bak + "/holds", TestConfigs.sshSource("h", hosts.ssh, ds));
    cycle(cfg);
    assertEquals(
        "0", get("userrefs", ds + "@a"), "the first base is released after the incremental");
    assertEquals("1", get("userrefs", ds + "@b"));
    // The held base cannot be destroyed on the source, so pruning cannot break the chain.
    assertTrue(org.zfsbackup.testing.Cmd.run("zfs", "destroy", ds + "@b").code() != 0);
    snapshot(ds, "c");
    cycle(cfg);
    assertEquals("0", get("userrefs", ds + "@b"));
    assertEquals("1", get("userrefs", ds + "@c"));
  }

  /**
   * A source's pruner (zfs-auto-snapshot keeps its newest "frequent" snapshot about an hour)
   * destroys a dataset's new base while the host's pass is still streaming another dataset, which
   * can take hours. The base is held from before the first stream, so zfs refuses and the next
   * cycle goes on incrementally. Held only at the end of the pass, it was destroyed, and the next
   * cycle found the backup diverged (and, once pushed, the offsite copy too).
   */
  @Test
  void newBaseHeldBeforeTheStreams_aPrunerDuringThePassCannotDestroyIt() {
    String a = hosts.src + "/pruned/a";
    String b = hosts.src + "/pruned/b";
    for (String ds : List.of(a, b)) {
      dataset(ds);
      snapshot(ds, "f1");
    }
    AgentConfig cfg = pull(hosts.bak + "/pruned", TestConfigs.sshSource("h", hosts.ssh, a, b));
    assertEquals(Outcome.SUCCESS, cycle(cfg).outcome());
    snapshot(a, "f2");
    snapshot(b, "f2");
    List<Integer> pruner = Collections.synchronizedList(new ArrayList<>());
    RecordingRunner pruning =
        streamsThrough(
            send -> {
              if (String.join(" ", send).contains(b + "@")) { // a is done, b's stream starts
                pruner.add(org.zfsbackup.testing.Cmd.run("zfs", "destroy", a + "@f2").code());
              }
              return send;
            });
    CycleReport second = cycle(cfg, pruning);
    assertEquals(Outcome.SUCCESS, second.outcome(), second.toString());
    assertEquals(1, pruner.size(), runner.commands().toString());
    assertTrue(pruner.get(0) != 0, "the new base is held: zfs refuses to destroy it");
    assertEquals("1", get("userrefs", a + "@f2"));
    assertEquals("0", get("userrefs", a + "@f1"), "the old base is released");
    List<List<String>> commands = runner.commands();
    List<List<String>> holdCalls =
        commands.stream().filter(c -> c.contains("hold") || c.contains("release")).toList();
    assertEquals(2, holdCalls.size(), "one hold, one release for the pass: " + commands);
    assertTrue(
        commands.indexOf(holdCalls.get(0)) < commands.indexOf(runner.pipes().get(0).send()),
        "held before the first stream: " + commands);

    snapshot(a, "f3");
    CycleReport third = cycle(cfg);
    assertEquals("incremental @f2..@f3", result(third, a).plan(), third.toString());
    assertEquals(Status.SENT, result(third, a).status());
  }

  /**
   * An {@code -I} stream cut after its first snapshot (the link dropped): ZFS keeps the snapshots
   * it received whole, so the target's newest common snapshot is now that one, and the hold moves
   * onto it. A pruner on the source then cannot destroy it, and the next cycle goes on from it.
   * With the hold left on the step's old base, the pruner destroyed it, and the next cycle found
   * the target diverged. The cut is a test's {@code head -c} on the send side.
   */
  @Test
  void incrementalCutInTheMiddle_theHoldMovesToWhatTheTargetKept() {
    String ds = hosts.src + "/cut/data";
    dataset(ds);
    snapshot(ds, "s1");
    // Without resumable receives (zfs-fuse has none): on OpenZFS the cut would keep a saved state
    // whose snapshot stays held, and the next cycle would resume it (FakeZfsResumeIT).
    AgentConfig cfg =
        TestConfigs.withResumable(
            pull(hosts.bak + "/cut", TestConfigs.sshSource("h", hosts.ssh, ds)), false);
    assertEquals(Outcome.SUCCESS, cycle(cfg).outcome());
    hosts.pools.snapshotWithData(ds, "s2", 300_000);
    hosts.pools.snapshotWithData(ds, "s3", 300_000);
    RecordingRunner cutting = sendsThroughShell("\"$@\" | head -c 450000");
    CycleReport cutCycle = cycle(cfg, cutting);
    assertEquals(Status.FAILED, result(cutCycle, ds).status(), cutCycle.toString());
    String dst = hosts.bak + "/cut/h/" + ds;
    assertEquals(List.of("s1", "s2"), snapshots(dst), "ZFS kept the snapshot received whole");
    assertEquals("1", get("userrefs", ds + "@s2"), "the hold moved onto it");
    assertEquals("0", get("userrefs", ds + "@s1"));
    assertEquals("0", get("userrefs", ds + "@s3"), "the early hold on the newest let go");
    assertTrue(
        org.zfsbackup.testing.Cmd.run("zfs", "destroy", ds + "@s2").code() != 0,
        "a pruner cannot destroy it");

    CycleReport next = cycle(cfg);
    assertEquals("incremental @s2..@s3", result(next, ds).plan(), next.toString());
    assertEquals(Status.SENT, result(next, ds).status());
  }

  /**
   * A send that fails after its receive had the whole {@code -I} stream (as ssh exits 255 when the
   * link drops after the last byte): the target has the step's last snapshot, so that is the one
   * the source keeps held. Catches the hold moved onto the snapshot before it and the target's
   * newest let go: a pruner could then destroy it, and the next cycle found the target diverged.
   */
  @Test
  void sendFailsAfterItsReceiveHadItAll_theHoldStaysOnTheTargetsNewest() {
    String ds = hosts.src + "/late/data";
    dataset(ds);
    snapshot(ds, "s1");
    AgentConfig cfg = pull(hosts.bak + "/late", TestConfigs.sshSource("h", hosts.ssh, ds));
    assertEquals(Outcome.SUCCESS, cycle(cfg).outcome());
    snapshot(ds, "s2");
    snapshot(ds, "s3");
    RecordingRunner failingLate = sendsThroughShell("\"$@\"; exit 255");
    CycleReport failed = cycle(cfg, failingLate);
    assertEquals(Status.FAILED, result(failed, ds).status(), failed.toString());
    String dst = hosts.bak + "/late/h/" + ds;
    assertEquals(List.of("s1", "s2", "s3"), snapshots(dst), "the receive had it all");
    assertEquals("1", get("userrefs", ds + "@s3"), "the target's newest stays held");
    assertEquals("0", get("userrefs", ds + "@s2"));
    assertEquals("0", get("userrefs", ds + "@s1"), "the old base let go");

    CycleReport next = cycle(cfg);
    assertEquals(Status.UP_TO_DATE, result(next, ds).status(), next.toString());
    assertEquals("1", get("userrefs", ds + "@s3"));
  }

  /**
   * The same for a first full stream (a long first seed over a WAN, the stream most expensive to
   * lose): the target has the full's snapshot, so it is held as the new base. Catches it left
   * unheld (the early hold on the newest let go): a pruner took it, the oldest, and the next cycle
   * found no common snapshot, a full reseed on both tiers.
   */
  @Test
  void fullStreamSendFailsAfterItsReceiveHadItAll_itsSnapshotIsHeldAsTheBase() {
    String ds = hosts.src + "/latefull/data";
    dataset(ds);
    snapshot(ds, "s1");
    snapshot(ds, "s2");
    AgentConfig cfg = pull(hosts.bak + "/latefull", TestConfigs.sshSource("h", hosts.ssh, ds));
    CycleReport failed = cycle(cfg, sendsThroughShell("\"$@\"; exit 255"));
    assertEquals(Status.FAILED, result(failed, ds).status(), failed.toString());
    String dst = hosts.bak + "/latefull/h/" + ds;
    assertEquals(List.of("s1"), snapshots(dst), "the receive had the full stream");
    assertEquals("1", get("userrefs", ds + "@s1"), "held: the target's base");
    assertEquals("0", get("userrefs", ds + "@s2"), "the early hold on the newest let go");
    assertTrue(
        org.zfsbackup.testing.Cmd.run("zfs", "destroy", ds + "@s1").code() != 0,
        "a pruner cannot destroy it");

    CycleReport next = cycle(cfg);
    assertEquals("incremental @s1..@s2", result(next, ds).plan(), next.toString());
    assertEquals(Status.SENT, result(next, ds).status());
    assertEquals("0", get("userrefs", ds + "@s1"));
    assertEquals("1", get("userrefs", ds + "@s2"));
  }

  /**
   * A base without a hold (after migrating from the scripts, or a hold someone released) whose
   * dataset has new snapshots is held before the streams, as an up-to-date one is: a pruner at the
   * start of the pass cannot take it, and the incremental goes through. Once it is no longer the
   * base its hold goes; when the stream fails, it stays. Catches it held only when up to date: the
   * pruner destroyed it before the dataset's own stream (hours into a pass), and the next cycle
   * found no common snapshot.
   */
  @Test
  void baseWithoutAHoldAndNewSnapshots_heldBeforeTheStreams() {
    String ds = hosts.src + "/unheldbase/data";
    dataset(ds);
    snapshot(ds, "m1");
    AgentConfig cfg = pull(hosts.bak + "/unheldbase", TestConfigs.sshSource("h", hosts.ssh, ds));
    assertEquals(Outcome.SUCCESS, cycle(cfg).outcome());
    String tag = BackupCycle.HOLD_PREFIX + hosts.bak + "/unheldbase";
    org.zfsbackup.testing.Cmd.run("zfs", "release", tag, ds + "@m1");
    snapshot(ds, "m2");

    // The stream fails at once: the base stays held for the next cycle, the newest is let go.
    CycleReport failed = cycle(cfg, sendsThroughShell("exit 1"));
    assertEquals(Status.FAILED, result(failed, ds).status(), failed.toString());
    assertEquals("1", get("userrefs", ds + "@m1"), "the base held: " + runner.commands());
    assertEquals("0", get("userrefs", ds + "@m2"));

    org.zfsbackup.testing.Cmd.run("zfs", "release", tag, ds + "@m1"); // unheld again
    List<Integer> pruner = Collections.synchronizedList(new ArrayList<>());
    RecordingRunner pruning =
        streamsThrough(
            send -> {
              pruner.add(org.zfsbackup.testing.Cmd.run("zfs", "destroy", ds + "@m1").code());
              return send;
            });
    CycleReport second = cycle(cfg, pruning);
    assertEquals(Status.SENT, result(second, ds).status(), second.toString());
    assertEquals("incremental @m1..@m2", result(second, ds).plan());
    assertTrue(pruner.get(0) != 0, "the base was held before the stream: " + runner.commands());
    assertEquals("0", get("userrefs", ds + "@m1"), "no longer the base: let go");
    assertEquals("1", get("userrefs", ds + "@m2"));
    assertTrue(errors(events).isEmpty(), errors(events).toString());
  }

  /**
   * A hold of the agent's tag left on a snapshot that is no longer a base (a crash before the end
   * of a pass, a release that failed) is released at the next pass that ends the dataset sent;
   * another tool's hold on it is left alone. zfs-fuse has no `zfs holds` to ask which snapshots
   * carry the tag, so there the tag is released without asking. Catches it pinned for ever (the
   * source's pruner refused that snapshot every night).
   */
  @Test
  void staleHoldOfOurTag_releasedAtTheNextPass_anotherToolsHoldLeftAlone() {
    String ds = hosts.src + "/stale/data";
    dataset(ds);
    snapshot(ds, "s0");
    snapshot(ds, "s1");
    AgentConfig cfg = pull(hosts.bak + "/stale", TestConfigs.sshSource("h", hosts.ssh, ds));
    assertEquals(Outcome.SUCCESS, cycle(cfg).outcome());
    String tag = BackupCycle.HOLD_PREFIX + hosts.bak + "/stale";
    org.zfsbackup.testing.Cmd.run("zfs", "hold", tag, ds + "@s0"); // left by a crash
    org.zfsbackup.testing.Cmd.run("zfs", "hold", "another-tool", ds + "@s0");
    assertEquals("2", get("userrefs", ds + "@s0"));
    snapshot(ds, "s2");

    CycleReport next = cycle(cfg);
    assertEquals(Status.SENT, result(next, ds).status(), next.toString());
    assertEquals("1", get("userrefs", ds + "@s0"), "only the other tool's hold is left");
    assertEquals("0", get("userrefs", ds + "@s1"));
    assertEquals("1", get("userrefs", ds + "@s2"));
    assertTrue(errors(events).isEmpty(), errors(events).toString());
    org.zfsbackup.testing.Cmd.run("zfs", "release", "another-tool", ds + "@s0");
    assertEquals("0", get("userrefs", ds + "@s0"), "and it was the other tool's");
  }

  /**
   * {@code replication.holds} turned off after it was on: the agent's holds from before are
   * released at the next pass (sent or up to date), another tool's stays, and none is placed again.
   * Catches them left for ever, each pinning its snapshot on the source (sweep 10: "dataset is
   * busy" for the source's pruner, the opposite of what turning holds off is for).
   */
  @Test
  void holdsTurnedOff_theAgentsEarlierHoldsReleased_anotherToolsLeftAlone() {
    String ds = hosts.src + "/off/data";
    String other = hosts.src + "/off/other";
    dataset(ds);
    dataset(other);
    snapshot(ds, "s0");
    snapshot(other, "o0");
    AgentConfig on = pull(hosts.bak + "/off", TestConfigs.sshSource("h", hosts.ssh, ds, other));
    assertEquals(Outcome.SUCCESS, cycle(on).outcome());
    assertEquals("1", get("userrefs", ds + "@s0"), "held while holds are on");
    assertEquals("1", get("userrefs", other + "@o0"));
    org.zfsbackup.testing.Cmd.run("zfs", "hold", "another-tool", ds + "@s0");
    snapshot(ds, "s1"); // one dataset sent, the other up to date

    AgentConfig off = TestConfigs.withHolds(on, false);
    CycleReport next = cycle(off);
    assertEquals(Status.SENT, result(next, ds).status(), next.toString());
    assertEquals(Status.UP_TO_DATE, result(next, other).status(), next.toString());
    assertEquals("1", get("userrefs", ds + "@s0"), "only the other tool's hold is left");
    assertEquals("0", get("userrefs", ds + "@s1"), "none placed");
    assertEquals("0", get("userrefs", other + "@o0"));
    assertTrue(errors(events).isEmpty(), errors(events).toString());
    org.zfsbackup.testing.Cmd.run("zfs", "release", "another-tool", ds + "@s0");
  }

  @Test
  void upToDateBasesWithoutAnyHold_heldInOneCall_andNeverAgain() {
    // As after migrating from zfs-pull-backups.py, which placed no holds: the backup is already up
    // to date, so no send will hold the base; the cycle holds the unheld bases itself.
    String a = hosts.src + "/migrated/a";
    String b = hosts.src + "/migrated/b";
    String c = hosts.src + "/migrated/c";
    for (String ds : List.of(a, b, c)) {
      dataset(ds);
      snapshot(ds, "s1");
    }
    AgentConfig cfg =
        pull(
            hosts.bak + "/migrated",
            TestConfigs.sshSource("h", hosts.ssh, hosts.src + "/migrated"));
    cycle(cfg);
    String tag = BackupCycle.HOLD_PREFIX + hosts.bak + "/migrated";
    for (String ds : List.of(a, b)) {
      org.zfsbackup.testing.Cmd.run(
          "zfs", "release", tag, ds + "@s1"); // the state a migration starts from
      assertEquals("0", get("userrefs", ds + "@s1"));
    }
    org.zfsbackup.testing.Cmd.run("zfs", "release", tag, c + "@s1");
    org.zfsbackup.testing.Cmd.run(
        "zfs", "hold", "sanoid-or-someone", c + "@s1"); // held, by another tool

    CycleReport up = cycle(cfg);
    assertEquals(Status.UP_TO_DATE, result(up, a).status());
    assertEquals(0, runner.pipes().size());
    assertEquals("1", get("userrefs", a + "@s1"), "held again");
    assertEquals("1", get("userrefs", b + "@s1"));
    assertEquals(
        "1", get("userrefs", c + "@s1"), "a base held by anyone is protected already: left alone");
    assertEquals(
        List.of(List.of("hold", tag, a + "@s1", b + "@s1")),
        runner.commands().stream()
            .filter(cmd -> cmd.contains("hold"))
            .map(cmd -> cmd.subList(cmd.indexOf("hold"), cmd.size()))
            .toList(),
        "one hold call for both: " + runner.commands());
    assertEquals(2, ssh(), "the listing and one hold: " + runner.commands());
    assertTrue(errors(events).isEmpty(), errors(events).toString());

    cycle(cfg);
    assertEquals(1, ssh(), "every base held: the listing alone: " + runner.commands());
    org.zfsbackup.testing.Cmd.run("zfs", "release", "sanoid-or-someone", c + "@s1");
  }

  @Test
  void childWithSpacesInItsNames_replicatedOverSshBesideItsParent() {
    // ZFS allows spaces in names: one such child must neither fail its host nor break the ssh
    // command line (each remote argument is quoted).
    String ds = hosts.src + "/spaces/data";
    String child = ds + "/my photos";
    dataset(ds);
    dataset(child);
    snapshot(ds, "a");
    hosts.pools.snapshotWithData(child, "before trip", 50_000);
    String target = hosts.bak + "/spaces";
    CycleReport r = cycle(pull(target, TestConfigs.sshSource("h", hosts.ssh, ds)));
    assertEquals(Outcome.SUCCESS, r.outcome(), r.datasets().toString());
    assertEquals(Status.SENT, result(r, child).status());
    assertEquals(List.of("before trip"), snapshots(target + "/h/" + child));
    assertEquals("1", get("userrefs", child + "@before trip"), "held like any other");
    assertEquals(
        Status.UP_TO_DATE,
        result(cycle(pull(target, TestConfigs.sshSource("h", hosts.ssh, ds))), child).status());
  }

  /**
   * Catches: names that fit on the source but not below the target (over ZFS's 255 characters, for
   * the dataset or for dataset@snapshot) planned "would send", then failing every night with zfs's
   * "invalid name", which does not say why.
   */
  @Test
  void namesTooLongOnTheTarget_failNamingThem_nothingSent_theirParentGoesOn() {
    String ds = hosts.src + "/long";
    String target = hosts.bak + "/long";
    int longer = (target + "/h/").length();
    String deep = nameOfLength(ds + "/a", 256 - longer); // 256 on the target
    String lateSnap = nameOfLength(ds + "/b", 250 - longer); // 250 fits; @ssssssss does not
    dataset(deep);
    dataset(lateSnap);
    snapshot(ds, "s");
    snapshot(deep, "s");
    snapshot(lateSnap, "s");
    snapshot(lateSnap, "ssssssss");
    AgentConfig cfg = pull(target, TestConfigs.sshSource("h", hosts.ssh, ds));

    CycleReport plan =
        new BackupCycle(cfg, new RealProcessRunner(List.of("pv")), Clock.systemUTC())
            .run(new CycleRequest("plan", null, Set.of(), true), e -> {}, new CycleControl());
    assertEquals(Status.FAILED, result(plan, deep).status(), "plan says so before a run");
    CycleReport r = cycle(cfg);

    assertEquals(Outcome.PARTIAL, r.outcome(), r.datasets().toString());
    assertEquals(Status.SENT, result(r, ds).status());
    String why = ", and ZFS allows 255: nothing was sent; a shorter pull.target or source name";
    assertEquals(
        "a name on the target would be 256 characters"
            + why
            + " would fit it. The name: '"
            + target
            + "/h/"
            + deep
            + "'",
        result(r, deep).message());
    assertEquals(
        "a name on the target would be 259 characters"
            + why
            + " would fit it. The name: '"
            + target
            + "/h/"
            + lateSnap
            + "@ssssssss'",
        result(r, lateSnap).message());
    assertEquals(
        List.of("name_too_long", "name_too_long"),
        errors(events).stream()
            .map(e -> e.kind().wire())
            .filter(k -> !k.equals("warning"))
            .toList());
    assertEquals(1, runner.pipes().size(), "only the parent's stream");
    String parentDst = target + "/h/" + ds;
    assertTrue(
        ZfsPools.datasets(target).stream().allMatch(d -> parentDst.startsWith(d)),
        "no placeholder below the target for either: " + ZfsPools.datasets(target));
    assertTrue(ZfsPools.exists(parentDst));
  }

  /** {@code parent} and components of 'c' below it, {@code length} characters in all. */
  static String nameOfLength(String parent, int length) {
    StringBuilder name = new StringBuilder(parent);
    while (length - name.length() > 70) {
      name.append('/').append("c".repeat(60));
    }
    String last = "c".repeat(length - name.length() - 1);
    return name.append('/').append(last).toString();
  }

  /**
   * A snapshot name destroyed on the source and taken again (@before-upgrade at the next upgrade)
   * while the backup keeps the old one: the dataset fails snapshot_name_taken naming the rename,
   * nothing is sent (plan says so too); once the backup's is renamed, the next cycle goes on and
   * both are kept. Catches "would send", then "destination already exists" every night (sweep 10).
   */
  @Test
  void snapshotNameTakenAgainOnTheSource_failsNamingTheRename_goesOnOnceRenamed() {
    String ds = hosts.src + "/reuse/data";
    dataset(ds);
    snapshot(ds, "daily-1");
    snapshot(ds, "before-upgrade");
    snapshot(ds, "daily-2");
    AgentConfig cfg = pull(hosts.bak + "/reuse", TestConfigs.sshSource("h", hosts.ssh, ds));
    assertEquals(Outcome.SUCCESS, cycle(cfg).outcome());
    String dst = hosts.bak + "/reuse/h/" + ds;
    zfs("destroy", ds + "@before-upgrade");
    snapshot(ds, "daily-3");
    snapshot(ds, "before-upgrade");

    CycleReport r = cycle(cfg);
    DatasetResult d = result(r, ds);
    assertEquals(Status.FAILED, d.status(), r.toString());
    assertEquals(ErrorKind.SNAPSHOT_NAME_TAKEN, d.kind(), d.toString());
    java.util.regex.Matcher rename =
        java.util.regex.Pattern.compile(
                "zfs rename \\Q" + dst + "@before-upgrade\\E (\\S+@(before-upgrade-[0-9]+));")
            .matcher(d.message());
    assertTrue(rename.find(), d.message());
    assertEquals(List.of("daily-1", "before-upgrade", "daily-2"), snapshots(dst), "nothing sent");

    zfs("rename", dst + "@before-upgrade", rename.group(1));
    r = cycle(cfg);
    assertEquals(Status.SENT, result(r, ds).status(), r.toString());
    assertEquals(
        List.of("daily-1", rename.group(2), "daily-2", "daily-3", "before-upgrade"),
        snapshots(dst));
  }

  @Test
  void snapshotNamesOutOfAlphabeticalOrder_orderedByCreation() {
    String ds = hosts.src + "/names/data";
    dataset(ds);
    snapshot(ds, "zulu");
    snapshot(ds, "alpha");
    AgentConfig cfg = pull(hosts.bak + "/names", TestConfigs.sshSource("h", hosts.ssh, ds));
    CycleReport r = cycle(cfg);
    assertEquals("full @zulu, incremental @zulu..@alpha", result(r, ds).plan());
    snapshot(ds, "mike");
    CycleReport r2 = cycle(cfg);
    assertEquals("incremental @alpha..@mike", result(r2, ds).plan());
    assertEquals(List.of("zulu", "alpha", "mike"), snapshots(hosts.bak + "/names/h/" + ds));
  }

  @Test
  void childWithItsOwnSnapshots_eachSentOnItsOwn() {
    // The case where `zfs send -R` failed: the child's snapshots differ from the parent's.
    String parent = hosts.src + "/kids/tank";
    String child = parent + "/child";
    dataset(child);
    snapshot(parent, "p1");
    snapshot(child, "c1");
    snapshot(child, "c2");
    CycleReport r = cycle(pull(hosts.bak + "/kids", TestConfigs.sshSource("h", hosts.ssh, parent)));
    assertEquals(Outcome.SUCCESS, r.outcome(), r.toString());
    assertEquals(
        List.of(parent, child), r.datasets().stream().map(DatasetResult::dataset).toList());
    assertEquals(List.of("p1"), snapshots(hosts.bak + "/kids/h/" + parent));
    assertEquals(List.of("c1", "c2"), snapshots(hosts.bak + "/kids/h/" + child));
    assertTrue(runner.commands().stream().noneMatch(c -> c.contains("-R")), "never zfs send -R");
  }

  @Test
  void datasetListedTwice_sentOnceParentsFirst() {
    String parent = hosts.src + "/twice/tank";
    String child = parent + "/data";
    dataset(child);
    snapshot(parent, "s1");
    snapshot(child, "s1");
    CycleReport r =
        cycle(
            pull(
                hosts.bak + "/twice", TestConfigs.sshSource("h", hosts.ssh, child, parent, child)));
    assertEquals(
        List.of(parent, child), r.datasets().stream().map(DatasetResult::dataset).toList());
    assertEquals(2, runner.pipes().size());
  }

  @Test
  void datasetWithoutSnapshots_skippedAndReported() {
    String ds = hosts.src + "/nosnap/data";
    dataset(ds);
    CycleReport r = cycle(pull(hosts.bak + "/nosnap", TestConfigs.sshSource("h", hosts.ssh, ds)));
    assertEquals(Status.SKIPPED, result(r, ds).status());
    assertTrue(result(r, ds).message().contains("no snapshots"));
    assertEquals(Outcome.SUCCESS, r.outcome());
    assertTrue(
        events.stream()
            .anyMatch(
                e ->
                    e instanceof CycleEvent.Progress p
                        && p.status() == CycleEvent.StepStatus.SKIPPED
                        && p.dataset().equals(ds)));
  }

  @Test
  void divergedTarget_failsNamingSnapshotsAndLeavesTargetUntouched() {
    String ds = hosts.src + "/div/data";
    dataset(ds);
    snapshot(ds, "a");
    String target = hosts.bak + "/div";
    AgentConfig cfg = pull(target, TestConfigs.sshSource("h", hosts.ssh, ds));
    cycle(cfg);
    String dst = target + "/h/" + ds;
    snapshot(dst, "local-change");
    snapshot(ds, "b");
    String before = ZfsPools.fingerprint(target);
    CycleReport r = cycle(cfg);
    assertEquals(Status.FAILED, result(r, ds).status());
    assertEquals(Outcome.FAILED, r.outcome());
    assertTrue(result(r, ds).message().contains("@local-change"), result(r, ds).message());
    assertEquals("diverged", errors(events).get(0).kind().wire());
    assertEquals(before, ZfsPools.fingerprint(target), "nothing on the target changed");
    assertEquals(0, runner.pipes().size());
  }

  @Test
  void noCommonSnapshot_failsAndLeavesTargetUntouched() {
    String ds = hosts.src + "/nocommon/data";
    dataset(ds);
    snapshot(ds, "a");
    String target = hosts.bak + "/nocommon";
    String dst = target + "/h/" + ds;
    dataset(dst);
    snapshot(dst, "a"); // same name, another guid
    String before = ZfsPools.fingerprint(target);
    CycleReport r = cycle(pull(target, TestConfigs.sshSource("h", hosts.ssh, ds)));
    assertEquals(Status.FAILED, result(r, ds).status());
    assertEquals("no_common_snapshot", errors(events).get(0).kind().wire());
    assertTrue(result(r, ds).message().contains("@a"));
    assertEquals(before, ZfsPools.fingerprint(target));
  }

  @Test
  void unreachableHostBesideALiveOne_liveOneStillReplicated() {
    String ds = hosts.src + "/unreach/data";
    dataset(ds);
    snapshot(ds, "a");
    int closed = FreePort.find();
    long t0 = System.nanoTime();
    CycleReport r =
        cycle(
            pull(
                hosts.bak + "/unreach",
                TestConfigs.sshSource("dead", closed, "tank/data"),
                TestConfigs.sshSource("live", hosts.ssh, ds)));
    assertEquals(Outcome.PARTIAL, r.outcome());
    DatasetResult dead =
        r.datasets().stream().filter(d -> d.source().equals("dead")).findFirst().orElseThrow();
    assertEquals(Status.FAILED, dead.status());
    assertEquals(Status.SENT, result(r, ds).status());
    CycleEvent.Error e = errors(events).get(0);
    assertEquals("host_unreachable", e.kind().wire());
    assertEquals(255, e.exitCode());
    assertTrue(e.stderr() != null && e.stderr().contains("onnect"), e.stderr());
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(30).toNanos());
  }

  @Test
  void missingSourceDataset_failsThatOneOnly() {
    String ds = hosts.src + "/missing/data";
    dataset(ds);
    snapshot(ds, "a");
    CycleReport r =
        cycle(
            pull(
                hosts.bak + "/missing",
                TestConfigs.sshSource("h", hosts.ssh, hosts.src + "/missing/nope", ds)));
    assertEquals(Status.FAILED, result(r, hosts.src + "/missing/nope").status());
    assertEquals(Status.SENT, result(r, ds).status());
    assertEquals("dataset_missing", errors(events).get(0).kind().wire());
    assertTrue(
        errors(events)
            .get(0)
            .message()
            .endsWith("(destroyed or renamed there, or its pool not imported)"),
        errors(events).get(0).message());
  }

  @Test
  void push_stripsPrefixCreatesMissingParentsOverSsh() {
    String ds = hosts.src + "/push/data";
    dataset(ds);
    snapshot(ds, "a");
    snapshot(ds, "b");
    String target = hosts.bak + "/push";
    String offTarget = hosts.off + "/backups";
    dataset(target);
    dataset(offTarget);
    PushConfig push = hosts.push(offTarget, target);
    AgentConfig cfg =
        TestConfigs.config(
            hosts.ssh.sshCommand(),
            target,
            List.of(TestConfigs.localSource("host-storage", ds)),
            Optional.of(push));
    CycleReport r = cycle(cfg);
    assertEquals(Outcome.SUCCESS, r.outcome(), r.toString());
    String local = target + "/host-storage/" + ds;
    String remote = offTarget + "/host-storage/" + ds;
    DatasetResult pushed =
        r.datasets().stream()
            .filter(d -> d.phase() == CycleEvent.Phase.PUSH && d.dataset().equals(local))
            .findFirst()
            .orElseThrow();
    assertEquals(remote, pushed.target());
    assertEquals(Status.SENT, pushed.status());
    assertEquals(List.of("a", "b"), snapshots(remote));
    assertEquals("off", get("canmount", remote));
    assertEquals("off", get("canmount", offTarget + "/host-storage"));
    // The parent the push created is marked as the agent's placeholder (with its own name).
    assertEquals(
        offTarget + "/host-storage", get("org.zfsbackup:placeholder", offTarget + "/host-storage"));
    // The local parents the pull created have no snapshots: skipped and reported, not failed.
    assertEquals(
        Status.SKIPPED,
        r.datasets().stream()
            .filter(d -> d.phase() == CycleEvent.Phase.PUSH && d.dataset().equals(target))
            .findFirst()
            .orElseThrow()
            .status());
    // The push holds its base on the local backup with its own tag, beside the pull's hold on the
    // source.
    assertEquals("1", get("userrefs", local + "@b"));
    assertEquals("1", get("userrefs", ds + "@b"));
    // A second cycle: up to date on both sides.
    CycleReport again = cycle(cfg);
    assertEquals(0, runner.pipes().size());
    assertEquals(Outcome.SUCCESS, again.outcome());
  }
}
