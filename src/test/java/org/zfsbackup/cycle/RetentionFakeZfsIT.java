package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.zfsbackup.testing.FakeZfs.concat;
import static org.zfsbackup.testing.FakeZfs.ds;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.KeepPolicy;
import org.zfsbackup.config.AgentConfig.RetentionConfig;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.testing.FakeZfs;
import org.zfsbackup.testing.TestConfigs;

/**
 * Pruning through the real process runner against the fake {@code zfs}
 * (src/test/resources/fake/fake-zfs), for what zfs-fuse cannot do: OpenZFS takes the snapshots of
 * one dataset as a comma list in one {@code zfs destroy ds@a,b,c} (zfs-destroy(8)), which zfs-fuse
 * refuses. The fake accepts any destroy and logs its argv.
 */
class RetentionFakeZfsIT {
  static final List<String> SNAPS =
      List.of(
          "autosnap_2026-01-01_00:00:00_daily",
          "autosnap_2026-01-02_00:00:00_daily",
          "autosnap_2026-01-03_00:00:00_daily",
          "autosnap_2026-01-04_00:00:00_daily");

  @TempDir Path dir;

  /** A dataset's listing lines with SNAPS, each with userrefs 0 (no hold). */
  static String[] withSnaps(String name, long txg) {
    List<String> lines = new ArrayList<>(List.of(ds(name, txg, SNAPS.toArray(String[]::new))));
    SNAPS.forEach(s -> lines.add(name + "@" + s + "\tuserrefs\t0"));
    return lines.toArray(String[]::new);
  }

  /** Catches: one destroy per snapshot on OpenZFS, or the newest (the base) in the list. */
  @Test
  void openZfs_oneDestroyForTheDataset() throws IOException {
    FakeZfs.list(dir, "src/data", withSnaps("src/data", 1));
    FakeZfs.list(
        dir,
        "bak",
        concat(ds("bak", 1), ds("bak/h", 2), ds("bak/h/src", 3), withSnaps("bak/h/src/data", 4)));
    AgentConfig c =
        TestConfigs.config(
            List.of("ssh"),
            FakeZfs.command(dir),
            List.of(),
            "bak",
            List.of(TestConfigs.localSource("h", "src/data")),
            Optional.empty(),
            Duration.ofSeconds(30));
    RetentionConfig keepLast1 =
        new RetentionConfig(
            Optional.of(new KeepPolicy(1, 0, 0, 0, 0, 0)),
            Optional.empty(),
            "name",
            Optional.of("UTC"));
    AgentConfig config = TestConfigs.withRetention(c, Optional.of(keepLast1));
    CycleReport r =
        new BackupCycle(config, new RealProcessRunner(List.of()), Clock.systemUTC())
            .run(new CycleRequest("f", null, Set.of(), false), e -> {}, new CycleControl());
    List<List<String>> destroys =
        FakeZfs.argv(dir).stream().filter(a -> a.get(0).equals("destroy")).toList();
    assertEquals(
        List.of(List.of("destroy", "bak/h/src/data@" + String.join(",", SNAPS.subList(0, 3)))),
        destroys,
        r.toString());
    assertEquals(3, r.prunedCount());
    assertTrue(r.warnings().isEmpty(), r.warnings().toString());
  }
}
