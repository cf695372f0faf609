package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.testing.ZfsPools.dataset;
import static org.zfsbackup.testing.ZfsPools.datasets;
import static org.zfsbackup.testing.ZfsPools.snapshot;

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
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.testing.ZfsSshHosts;

/**
 * A plan (dry run) on real ZFS whose {@code push.datasets} names a backup dataset that the pull of
 * the same cycle would create: local source, backup and "offsite" pools, no ssh.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PlanPushIT {
  ZfsSshHosts hosts;

  @BeforeAll
  void setUp() {
    hosts = ZfsSshHosts.local("zpp");
  }

  @AfterAll
  void tearDown() {
    if (hosts != null) {
      hosts.close();
    }
  }

  static CycleReport cycle(AgentConfig config, boolean dryRun) {
    return BackupCycle.create(config)
        .run(new CycleRequest("pp", null, Set.of(), dryRun), EventSink.NONE, new CycleControl());
  }

  /**
   * Catches: the plan of a new installation with {@code push.datasets: [<pull.target>/src]} failing
   * that root as dataset_missing (exit 1, partial) when the run right after succeeds and pushes it;
   * and the plan creating anything.
   */
  @Test
  void pushRootThePullWouldCreate_plannedAsNotThereYet_thenRunPushesIt() {
    String data = hosts.src + "/pp/data";
    dataset(data);
    snapshot(data, "s1");
    String target = hosts.bak + "/pp";
    String offTarget = hosts.off + "/pp";
    dataset(target);
    dataset(offTarget);
    PushConfig defaults = hosts.push(offTarget, target);
    PushConfig push =
        new PushConfig(
            defaults.host(),
            defaults.user(),
            defaults.port(),
            offTarget,
            target,
            false,
            defaults.receiveOptions(),
            List.of(target + "/src"));
    AgentConfig cfg =
        TestConfigs.config(
            List.of("ssh"),
            target,
            List.of(TestConfigs.localSource("src", data)),
            Optional.of(push));

    CycleReport plan = cycle(cfg, true);
    assertEquals(Outcome.SUCCESS, plan.outcome(), plan.datasets().toString());
    CycleReport.DatasetResult root =
        plan.datasets().stream()
            .filter(d -> d.dataset().equals(target + "/src"))
            .findFirst()
            .orElseThrow();
    assertEquals(Status.SKIPPED, root.status(), root.toString());
    assertEquals(
        "not there yet: the pull of this cycle would create it, and a run pushes it then",
        root.message());
    assertEquals(List.of(target), datasets(target), "a plan creates nothing");

    CycleReport run = cycle(cfg, false);
    assertEquals(Outcome.SUCCESS, run.outcome(), run.datasets().toString());
    assertTrue(
        datasets(offTarget).stream().anyMatch(d -> d.endsWith("/pp/data")),
        datasets(offTarget).toString());
  }
}
