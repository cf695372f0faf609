package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.zfsbackup.testing.ZfsPools.dataset;
import static org.zfsbackup.testing.ZfsPools.datasets;
import static org.zfsbackup.testing.ZfsPools.get;
import static org.zfsbackup.testing.ZfsPools.snapshot;
import static org.zfsbackup.testing.ZfsPools.snapshots;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.testing.ZfsSshHosts;

/**
 * A run limited to some datasets (MQTT's {@code "datasets": ["source:dataset"]}, here a {@link
 * CycleRequest} with {@code only}) on real ZFS: local sources, a local backup pool and a local
 * "offsite" pool, no ssh.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LimitedRunIT {
  ZfsSshHosts hosts;

  @BeforeAll
  void setUp() {
    hosts = ZfsSshHosts.local("zlr");
  }

  @AfterAll
  void tearDown() {
    if (hosts != null) {
      hosts.close();
    }
  }

  static CycleReport cycle(AgentConfig config, Set<String> only) {
    return BackupCycle.create(config)
        .run(new CycleRequest("limited", null, only, false), EventSink.NONE, new CycleControl());
  }

  /** {@code root} and the datasets below it that lead to each of {@code leaves}, sorted. */
  static List<String> tree(String root, String... leaves) {
    Set<String> all = new TreeSet<>(List.of(root));
    for (String leaf : leaves) {
      for (int i = leaf.indexOf('/', root.length() + 1); i > 0; i = leaf.indexOf('/', i + 1)) {
        all.add(leaf.substring(0, i));
      }
      all.add(leaf);
    }
    return new ArrayList<>(all);
  }

  static List<String> rows(CycleReport r) {
    return r.datasets().stream()
        .map(d -> d.phase().wire() + " " + d.source() + " " + d.dataset() + " " + d.status().wire())
        .toList();
  }

  /**
   * Source {@code src} has {@code a} (with a child) and {@code b}, source {@code other} has {@code
   * c}; the backup pool holds {@code retired} already; the run is limited to {@code src:a}.
   * Catches: a limit ignored by the pull (b or c pulled) or by the push (anything but a and its
   * child pushed, retired included), a limit that drops the children, a limit that holds what it
   * leaves out; and, through the full run at the end, a fixture in which b, c and retired would not
   * have been replicated anyway.
   */
  @Test
  void limitedToOneDataset_onlyItAndItsChildrenPulledAndPushed() {
    String a = hosts.src + "/lim/a";
    String kid = a + "/kid";
    String b = hosts.src + "/lim/b";
    String c = hosts.src + "/other/c";
    dataset(kid);
    dataset(b);
    dataset(c);
    for (String ds : List.of(a, kid, b, c)) {
      snapshot(ds, "s1");
    }
    String target = hosts.bak + "/lim";
    String offTarget = hosts.off + "/lim";
    dataset(target);
    dataset(offTarget);
    // Already on the backup pool, outside the limit (a source no longer configured): a full push
    // sends it, a limited one must not.
    String retired = target + "/retired";
    dataset(retired);
    snapshot(retired, "r1");
    PushConfig push = hosts.push(offTarget, target);
    AgentConfig cfg =
        TestConfigs.config(
            List.of("ssh"),
            target,
            List.of(TestConfigs.localSource("src", a, b), TestConfigs.localSource("other", c)),
            Optional.of(push));

    CycleReport r = cycle(cfg, Set.of("src:" + a));
    assertEquals(Outcome.SUCCESS, r.outcome(), r.datasets().toString());
    String aLocal = target + "/src/" + a;
    String kidLocal = target + "/src/" + kid;
    assertEquals(
        List.of(
            "pull src " + a + " sent",
            "pull src " + kid + " sent",
            "push local " + aLocal + " sent",
            "push local " + kidLocal + " sent"),
        rows(r));
    // On the real pools: a and its child arrived on both sides, nothing else did.
    assertEquals(tree(target, aLocal, kidLocal, retired), datasets(target));
    String aOff = offTarget + "/src/" + a;
    String kidOff = offTarget + "/src/" + kid;
    assertEquals(tree(offTarget, aOff, kidOff), datasets(offTarget));
    assertEquals(List.of("s1"), snapshots(kidOff));
    assertEquals(get("guid", kid + "@s1"), get("guid", kidOff + "@s1"));
    // What was left out was not held either (a hold is a change on the source).
    assertEquals("1", get("userrefs", a + "@s1"));
    assertEquals("0", get("userrefs", b + "@s1"));
    assertEquals("0", get("userrefs", c + "@s1"));

    // The control: the same config, not limited, replicates b and c too.
    CycleReport all = cycle(cfg, Set.of());
    assertEquals(Outcome.SUCCESS, all.outcome(), all.datasets().toString());
    String bLocal = target + "/src/" + b;
    String cLocal = target + "/other/" + c;
    assertEquals(tree(target, aLocal, kidLocal, bLocal, cLocal, retired), datasets(target));
    assertEquals(
        tree(
            offTarget,
            aOff,
            kidOff,
            offTarget + "/src/" + b,
            offTarget + "/other/" + c,
            offTarget + "/retired"),
        datasets(offTarget));
  }

  /**
   * A limited run stopped before it listed anything: its results name what it would have pulled and
   * pushed, skipped. Catches the push reported as the whole backup root (`skipped: not started`),
   * which the limited run would never push, on the dashboards' current dataset too.
   */
  @Test
  void limitedRunStoppedBeforeListing_namesOnlyItsDatasets() {
    String a = hosts.src + "/stop/a";
    String b = hosts.src + "/stop/b";
    dataset(a);
    dataset(b);
    String target = hosts.bak + "/stop";
    String offTarget = hosts.off + "/stop";
    dataset(target);
    dataset(offTarget);
    AgentConfig cfg =
        TestConfigs.config(
            List.of("ssh"),
            target,
            List.of(TestConfigs.localSource("src", a, b)),
            Optional.of(hosts.push(offTarget, target)));
    CycleControl control = new CycleControl();
    control.stop(CycleControl.StopReason.CANCEL, false);
    CycleReport r =
        BackupCycle.create(cfg)
            .run(
                new CycleRequest("stopped", null, Set.of("src:" + a), false),
                EventSink.NONE,
                control);
    assertEquals(
        List.of("pull src " + a + " skipped", "push local " + target + "/src/" + a + " skipped"),
        rows(r));
  }
}
