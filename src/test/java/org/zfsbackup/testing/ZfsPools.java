package org.zfsbackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Throwaway file-backed ZFS pools (zfs-fuse here, kernel OpenZFS elsewhere) with unique names,
 * created with {@code mountpoint=none} (zfs-fuse manages about 1000 FUSE mounts at most). Close
 * destroys the pools before deleting their files, or they come back FAULTED at the next daemon
 * start.
 */
public final class ZfsPools implements AutoCloseable {
  private final Path dir;
  private final List<String> pools = new ArrayList<>();

  public ZfsPools() {
    Prerequisites.require(Prerequisites.root(), "root (ZFS tests create pools)");
    Prerequisites.requireProgram("zpool");
    Prerequisites.requireProgram("zfs");
    Prerequisites.require(
        Cmd.run("zpool", "list").code() == 0, "a running ZFS (zfs-fuse daemon or kernel module)");
    try {
      dir = Files.createTempDirectory("zba-pools");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Creates a pool of 256 MB (sparse) named {@code <prefix><random>}; returns its name. */
  public String create(String prefix) {
    String name = prefix + UUID.randomUUID().toString().substring(0, 6);
    Path file = dir.resolve(name + ".img");
    Cmd.ok("truncate", "-s", "256M", file.toString());
    Cmd.ok("zpool", "create", "-m", "none", name, file.toString());
    pools.add(name);
    return name;
  }

  public static String zfs(String... args) {
    List<String> argv = new ArrayList<>(List.of("zfs"));
    argv.addAll(List.of(args));
    return Cmd.ok(argv.toArray(String[]::new));
  }

  /** Creates a dataset (and parents) that cannot be mounted. */
  public static void dataset(String name) {
    zfs("create", "-p", "-o", "mountpoint=none", name);
  }

  /** Creates a dataset (and parents) that cannot be mounted unless it exists already. */
  public static void ensureDataset(String name) {
    if (!exists(name)) {
      dataset(name);
    }
  }

  /**
   * Writes {@code bytes} of data into {@code dataset} and snapshots it as {@code dataset@snap}: the
   * dataset is mounted on a temporary directory for the write, then unmounted again.
   */
  public void snapshotWithData(String dataset, String snap, int bytes) {
    try {
      Path mnt = Files.createTempDirectory(dir, "mnt");
      zfs("set", "mountpoint=" + mnt, dataset);
      Path f = mnt.resolve(snap + ".bin");
      byte[] data = new byte[bytes];
      new java.util.Random(snap.hashCode()).nextBytes(data);
      Files.write(f, data);
      Cmd.ok("sync");
      zfs("set", "mountpoint=none", dataset);
      zfs("snapshot", dataset + "@" + snap);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static void snapshot(String dataset, String snap) {
    zfs("snapshot", dataset + "@" + snap);
  }

  public static String get(String property, String name) {
    return zfs("get", "-H", "-p", "-o", "value", property, name).trim();
  }

  public static boolean exists(String name) {
    return Cmd.run("zfs", "get", "-H", "-o", "value", "guid", name).code() == 0;
  }

  /**
   * Every property of every dataset and snapshot below {@code root}: equal before and after =
   * untouched.
   */
  public static String fingerprint(String root) {
    return zfs("get", "-H", "-p", "-o", "name,property,value", "all", "-r", root);
  }

  /** {@code root} and every dataset below it (no snapshots), sorted by name. */
  public static List<String> datasets(String root) {
    String out = zfs("list", "-H", "-o", "name", "-t", "filesystem,volume", "-r", root);
    return out.lines().filter(l -> !l.isBlank()).sorted().toList();
  }

  /** Snapshot names of a dataset, in creation order. */
  public static List<String> snapshots(String dataset) {
    List<String> names = new ArrayList<>();
    String out =
        Cmd.ok("zfs", "get", "-H", "-p", "-o", "name,value", "createtxg", "-r", "-d", "1", dataset);
    List<String[]> rows = new ArrayList<>();
    for (String line : out.split("\n")) {
      String[] f = line.split("\t");
      if (f.length == 2 && f[0].startsWith(dataset + "@")) {
        rows.add(f);
      }
    }
    rows.sort((a, b) -> Long.compare(Long.parseLong(a[1]), Long.parseLong(b[1])));
    rows.forEach(r -> names.add(r[0].substring(dataset.length() + 1)));
    return names;
  }

  @Override
  public void close() {
    for (String pool : pools) {
      Cmd.run("zpool", "destroy", "-f", pool);
    }
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
  }
}
