package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
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

  /** A listing as the fake prints it: guid, createtxg, userrefs 0 (no hold) per snapshot. */
  void list(String root, String... datasets) throws IOException {
    List<String> lines = new ArrayList<>();
    long txg = 1;
    for (String ds : datasets) {
      lines.addAll(List.of(ds + "\tguid\t" + txg, ds + "\tcreatetxg\t" + txg++));
      if (ds.endsWith("/data")) {
        for (String s : SNAPS) {
          lines.add(ds + "@" + s + "\tguid\t" + (s.hashCode() & 0xffffff));
          lines.add(ds + "@" + s + "\tcreatetxg\t" + txg++);
          lines.add(ds + "@" + s + "\tuserrefs\t0");
        }
      }
    }
    Files.createDirectories(dir.resolve("list"));
    Files.writeString(
        dir.resolve("list").resolve(root.replace('/', '_')), String.join("\n", lines) + "\n");
  }

  /** Catches: one destroy per snapshot on OpenZFS, or the newest (the base) in the list. */
  @Test
  void openZfs_oneDestroyForTheDataset() throws IOException {
    list("src/data", "src/data");
    list("bak", "bak", "bak/h", "bak/h/src", "bak/h/src/data");
    Path fake = Path.of("target/test-classes/fake/fake-zfs").toAbsolutePath();
    AgentConfig c =
        TestConfigs.config(
            List.of("ssh"),
            List.of("bash", fake.toString(), dir.toString()),
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
        Files.readAllLines(dir.resolve("argv.log")).stream()
            .map(l -> List.of(l.split("\\|")))
            .filter(a -> a.get(0).equals("destroy"))
            .toList();
    assertEquals(
        List.of(List.of("destroy", "bak/h/src/data@" + String.join(",", SNAPS.subList(0, 3)))),
        destroys,
        r.toString());
    assertEquals(3, r.prunedCount());
    assertTrue(r.warnings().isEmpty(), r.warnings().toString());
  }
}
