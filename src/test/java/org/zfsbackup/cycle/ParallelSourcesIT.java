package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.testing.ZfsPools.dataset;
import static org.zfsbackup.testing.ZfsPools.get;
import static org.zfsbackup.testing.ZfsPools.snapshot;
import static org.zfsbackup.testing.ZfsPools.snapshots;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.StepStatus;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.exec.SshSharing;
import org.zfsbackup.testing.SshServer;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.testing.ZfsPools;
import org.zfsbackup.testing.ZfsSshHosts;

/**
 * Several sources at once ({@code replication.parallel_sources}) and the bookkeeping in batches, on
 * real ZFS (zfs-fuse) over three real sshd on 127.0.0.1 (three hosts, each with its own log of
 * accepted connections). Streams are slowed with {@code pv -L} so that they overlap and a stop can
 * land while several are in flight.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ParallelSourcesIT {
  ZfsSshHosts zfsHosts;
  ZfsPools pools;
  final List<SshServer> hosts = new ArrayList<>();
  String src;
  String bak;
  String off;
  Path base;

  @BeforeAll
  void setUp() throws IOException {
    zfsHosts = ZfsSshHosts.overSsh("zp", "INFO");
    pools = zfsHosts.pools;
    hosts.add(zfsHosts.ssh);
    for (int i = 1; i < 3; i++) {
      hosts.add(new SshServer("INFO"));
    }
    src = zfsHosts.src;
    bak = zfsHosts.bak;
    off = zfsHosts.off;
    base = Files.createTempDirectory("zba-par");
  }

  @AfterAll
  void tearDown() {
    // The two extra sshd, then the fixture's (its own sshd before its pools).
    hosts.stream().skip(1).forEach(SshServer::close);
    if (zfsHosts != null) {
      zfsHosts.close();
    }
  }

  /** One {@code commands.ssh} for the three servers: each has its own throwaway key. */
  List<String> sshCommand() {
    List<String> cmd = new ArrayList<>(hosts.get(0).sshCommand());
    for (SshServer h : hosts.subList(1, hosts.size())) {
      cmd.addAll(List.of("-i", h.dir().resolve("id").toString()));
    }
    return cmd;
  }

  /**
   * Sources a, b, c on the three hosts, each with {@code root/<name>} and its children. The pull
   * target is created first when missing: the agent never creates a target root.
   */
  AgentConfig config(String root, List<String> pv, int parallel) {
    List<SourceConfig> sources = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      String name = String.valueOf((char) ('a' + i));
      sources.add(TestConfigs.sshSource(name, hosts.get(i), root + "/" + name));
    }
    String target = bak + "/" + root.substring(root.indexOf('/') + 1);
    ZfsPools.ensureDataset(target);
    AgentConfig c =
        TestConfigs.config(
            sshCommand(),
            List.of("zfs"),
            pv,
            target,
            sources,
            Optional.empty(),
            Duration.ofSeconds(60));
    return TestConfigs.parallel(c, parallel);
  }

  /** The events, and the most streams in flight at once (started, not yet done or failed). */
  static final class Sink implements org.zfsbackup.event.EventSink {
    final List<CycleEvent> events = Collections.synchronizedList(new ArrayList<>());
    final Map<String, Boolean> inFlight = new HashMap<>();
    int most;
    int mostPush;
    Consumer<Integer> onStart = n -> {};

    @Override
    public void accept(CycleEvent e) {
      events.add(e);
      if (e instanceof CycleEvent.Progress p) {
        int now;
        synchronized (this) {
          String key = p.phase() + " " + p.source() + " " + p.dataset();
          if (p.status() == StepStatus.STARTED) {
            inFlight.put(key, true);
          } else if (p.status() == StepStatus.DONE || p.status() == StepStatus.FAILED) {
            inFlight.remove(key);
          }
          most = Math.max(most, inFlight.size());
          if (p.phase() == CycleEvent.Phase.PUSH) {
            mostPush = Math.max(mostPush, inFlight.size());
          }
          now = inFlight.size();
        }
        if (p.status() == StepStatus.STARTED) {
          onStart.accept(now);
        }
      }
    }
  }

  CycleReport cycle(AgentConfig cfg, ProcessRunner runner, Sink sink, CycleControl control) {
    return new BackupCycle(
            cfg,
            runner,
            Clock.systemUTC(),
            new SshSharing.Factory(Optional.of(base), runner, SshSharing.PERSIST))
        .run(new CycleRequest("par", null, Set.of(), false), sink, control);
  }

  /** Under {@code root}: sources a, b, c, each a parent with {@code n} children of one snapshot. */
  void sources(String root, int n, int bytes) {
    for (char s = 'a'; s <= 'c'; s++) {
      String top = root + "/" + s;
      dataset(top);
      pools.snapshotWithData(top, "s0", bytes);
      for (int i = 1; i <= n; i++) {
        dataset(top + "/d" + i);
        pools.snapshotWithData(top + "/d" + i, "s0", bytes);
      }
    }
  }

  List<String> order(CycleReport r) {
    return r.datasets().stream().map(d -> d.source() + ":" + d.dataset()).toList();
  }

  /**
   * Catches: sources still pulled one after the other (at most one stream in flight), a report in
   * completion order (source a's stream is the longest, so a ends last), a parent received after
   * its child; and, as the control, parallel_sources 1 keeping today's order.
   */
  @Test
  void threeHosts_sideBySide_reportInConfigOrder_parentsFirst() {
    String root = src + "/side";
    sources(root, 1, 150_000);
    // a's parent is larger: a ends last.
    pools.snapshotWithData(root + "/a", "s1", 600_000);
    ProcessRunner runner = new RealProcessRunner(List.of("pv", "-L", "300k"));
    Sink sink = new Sink();
    CycleReport r =
        cycle(config(root, List.of("pv", "-L", "300k"), 4), runner, sink, new CycleControl());

    assertEquals(Outcome.SUCCESS, r.outcome(), r.toString());
    assertTrue(sink.most >= 2, "several streams at once: at most " + sink.most);
    List<String> expected = new ArrayList<>();
    for (char s = 'a'; s <= 'c'; s++) {
      expected.add(s + ":" + root + "/" + s);
      expected.add(s + ":" + root + "/" + s + "/d1");
    }
    assertEquals(expected, order(r), "config order, each host's parents first");
    List<String> finished =
        sink.events.stream()
            .filter(e -> e instanceof CycleEvent.Progress p && p.status() == StepStatus.DONE)
            .map(e -> ((CycleEvent.Progress) e).source())
            .toList();
    assertEquals("a", finished.get(finished.size() - 1), "a ended last: " + finished);
    String dst = bak + "/side/a/" + root + "/a";
    assertEquals(List.of("s0", "s1"), snapshots(dst));

    // The control: one at a time.
    String one = src + "/oneby";
    sources(one, 1, 50_000);
    Sink serial = new Sink();
    CycleReport r1 = cycle(config(one, List.of("pv"), 1), runner, serial, new CycleControl());
    assertEquals(Outcome.SUCCESS, r1.outcome(), r1.toString());
    assertEquals(1, serial.most, "parallel_sources 1: one stream at a time");
  }

  /**
   * A graceful stop with two hosts' streams in flight: both finish, nothing new starts (the rest of
   * those hosts and the third host are skipped, not started), and the report keeps config order.
   * Catches a stop that only reaches one of the threads, or that kills the streams in flight.
   */
  @Test
  void suspendMidCycle_streamsInFlightFinish_nothingNewStarts() {
    String root = src + "/susp";
    sources(root, 2, 600_000);
    // pv -L 200k: each stream lasts about 3 s, so the second starts while the first runs.
    ProcessRunner runner = new RealProcessRunner(List.of("pv", "-L", "200k"));
    CycleControl control = new CycleControl();
    Sink sink = new Sink();
    sink.onStart =
        n -> {
          if (n >= 2) {
            control.stop(CycleControl.StopReason.SUSPEND, false);
          }
        };
    CycleReport r = cycle(config(root, List.of("pv", "-L", "200k"), 2), runner, sink, control);

    assertEquals(Outcome.SUSPENDED, r.outcome(), r.toString());
    List<DatasetResult> sent =
        r.datasets().stream().filter(d -> d.status() == Status.SENT).toList();
    assertEquals(2, sent.size(), "the two in flight finished: " + r.datasets());
    for (DatasetResult d : sent) {
      assertEquals(List.of("s0"), snapshots(d.target()), "received whole: " + d);
    }
    assertEquals(
        Set.of("a", "b"),
        Set.copyOf(sent.stream().map(DatasetResult::source).toList()),
        "parallel_sources 2: hosts a and b were in flight");
    assertTrue(
        r.datasets().stream()
            .filter(d -> d.status() != Status.SENT)
            .allMatch(d -> d.status() == Status.SKIPPED && d.message().contains("not started")),
        r.datasets().toString());
    // c never started: its configured root is reported (not listed, so not expanded), as today.
    assertEquals(
        List.of("a", "a", "a", "b", "b", "b", "c"),
        r.datasets().stream().map(DatasetResult::source).toList());
  }

  /**
   * A forced cancel with two streams in flight kills both at once; both fail as interrupted, the
   * rest is not started. Catches a kill that reaches only one of the streams in flight.
   */
  @Test
  void forcedCancelMidCycle_killsEveryStreamInFlight() {
    String root = src + "/kill";
    sources(root, 1, 1_000_000);
    // pv -L 100k: a stream of 1 MB lasts about 10 s; the kill comes at once.
    ProcessRunner runner = new RealProcessRunner(List.of("pv", "-L", "100k"));
    CycleControl control = new CycleControl();
    Sink sink = new Sink();
    sink.onStart =
        n -> {
          if (n >= 2) {
            Thread t =
                new Thread(
                    () -> {
                      sleep(500);
                      control.stop(CycleControl.StopReason.CANCEL, true);
                    });
            t.setDaemon(true);
            t.start();
          }
        };
    long t0 = System.nanoTime();
    CycleReport r = cycle(config(root, List.of("pv", "-L", "100k"), 2), runner, sink, control);
    long ms = (System.nanoTime() - t0) / 1_000_000;

    assertEquals(Outcome.CANCELLED, r.outcome(), r.toString());
    List<DatasetResult> failed =
        r.datasets().stream().filter(d -> d.status() == Status.FAILED).toList();
    assertEquals(2, failed.size(), "the streams in flight were killed: " + r.datasets());
    assertTrue(
        failed.stream().allMatch(d -> d.message().contains("forced stop")), failed.toString());
    assertTrue(
        r.datasets().stream().noneMatch(d -> d.status() == Status.SENT), r.datasets().toString());
    assertTrue(ms < 9_000, "not waiting for the 10 s streams: " + ms + " ms");
    assertEquals(
        List.of("a", "a", "b", "b", "c"),
        r.datasets().stream().map(DatasetResult::source).toList());
  }

  /**
   * The push phase with three independent trees ({@code push.datasets}: one per source's backup):
   * pushed side by side, reported in config order. Catches a push that still handles its trees one
   * after the other, or a tree pushed twice.
   */
  @Test
  void pushOfThreeIndependentTrees_sideBySide_inConfigOrder() {
    String root = src + "/ptree";
    sources(root, 0, 400_000);
    String target = bak + "/ptree";
    List<String> trees = List.of(target + "/a", target + "/b", target + "/c");
    dataset(off + "/ptree"); // the push target root: the agent never creates it
    AgentConfig pull = config(root, List.of("pv", "-L", "200k"), 4);
    AgentConfig cfg =
        TestConfigs.withPush(
            pull,
            Optional.of(
                new AgentConfig.PushConfig(
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    off + "/ptree",
                    target,
                    false,
                    TestConfigs.ZFS_FUSE_RECEIVE,
                    trees)));
    ProcessRunner runner = new RealProcessRunner(List.of("pv", "-L", "200k"));
    Sink sink = new Sink();
    CycleReport r = cycle(cfg, runner, sink, new CycleControl());

    assertEquals(Outcome.SUCCESS, r.outcome(), r.toString());
    // The parents the pull created (no snapshots) are skipped; the datasets are sent.
    List<DatasetResult> pushed =
        r.datasets().stream()
            .filter(d -> d.phase() == CycleEvent.Phase.PUSH && d.status() != Status.SKIPPED)
            .toList();
    assertEquals(
        List.of(
            off + "/ptree/a/" + root + "/a",
            off + "/ptree/b/" + root + "/b",
            off + "/ptree/c/" + root + "/c"),
        pushed.stream().map(DatasetResult::target).toList(),
        "each pushed once, in config order: " + r.datasets());
    assertTrue(pushed.stream().allMatch(d -> d.status() == Status.SENT), pushed.toString());
    assertTrue(sink.mostPush >= 2, "trees pushed side by side: at most " + sink.mostPush);
    assertEquals(List.of("s0"), snapshots(off + "/ptree/c/" + root + "/c"));
  }

  /**
   * The recorded calls to {@code host} (by the ssh port in their argv) that name {@code zfsVerb}.
   */
  static long count(RecordingRunner runner, SshServer host, String zfsVerb) {
    return runner.commands().stream()
        .filter(c -> c.contains(String.valueOf(host.port)) && c.contains(zfsVerb))
        .count();
  }

  /**
   * The nightly case, three hosts of five datasets each with one new snapshot: per host one hold
   * and one release call (not one each per dataset), no size estimate for the incrementals, at most
   * 4 connections per host; the new bases held and the old ones released on the real pool ({@code
   * userrefs}). Catches per-dataset bookkeeping coming back, and a release of the old base without
   * the new one held.
   */
  @Test
  void nightlyCycle_threeHosts_oneHoldAndOneReleaseCallPerHost() {
    String root = src + "/night";
    sources(root, 4, 10_000);
    RecordingRunner runner = new RecordingRunner(new RealProcessRunner(List.of("pv")));
    AgentConfig cfg = config(root, List.of("pv"), 4);
    CycleReport first = cycle(cfg, runner, new Sink(), new CycleControl());
    assertEquals(Outcome.SUCCESS, first.outcome(), first.toString());
    for (char s = 'a'; s <= 'c'; s++) {
      for (String d : List.of("", "/d1", "/d2", "/d3", "/d4")) {
        snapshot(root + "/" + s + d, "s1");
      }
    }

    runner.clear();
    long[] c0 = hosts.stream().mapToLong(SshServer::acceptedConnections).toArray();
    CycleReport night = cycle(cfg, runner, new Sink(), new CycleControl());

    assertEquals(Outcome.SUCCESS, night.outcome(), night.toString());
    assertEquals(15, night.count(Status.SENT), night.toString());
    for (int i = 0; i < 3; i++) {
      SshServer h = hosts.get(i);
      long connections = h.acceptedConnections() - c0[i];
      assertEquals(1, count(runner, h, "hold"), "one hold call for the host: " + runner.commands());
      assertEquals(1, count(runner, h, "release"), "one release call: " + runner.commands());
      assertEquals(
          0, count(runner, h, "-nP") + count(runner, h, "-n"), "no estimate: incrementals");
      assertTrue(connections <= 4, "host " + i + ": " + connections + " connections");
    }
    assertEquals("1", get("userrefs", root + "/b/d3@s1"), "the new base is held");
    assertEquals("0", get("userrefs", root + "/b/d3@s0"), "the old one released");
    assertFalse(
        runner.commands().stream().anyMatch(c -> c.contains("set")),
        "incrementals into datasets with canmount=off: no set: " + runner.commands());
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
