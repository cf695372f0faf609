package org.zfsbackup.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.zfsbackup.config.AgentConfig.PushConfig;

/**
 * Scenarios for the fake {@code zfs} of src/test/resources/fake/fake-zfs, called as {@code bash
 * fake-zfs SCENARIO_DIR zfs-args...}: its listings ({@code SCENARIO_DIR/list/<root>}) and the argv
 * it logged ({@code SCENARIO_DIR/argv.log}). See the script's header for the files it reads.
 */
public final class FakeZfs {
  private FakeZfs() {}

  /** The fake as the build copies it (target/test-classes), absolute. */
  public static Path path() {
    return Path.of("target/test-classes/fake/fake-zfs").toAbsolutePath();
  }

  /** The {@code commands.zfs} argv that runs the fake on the scenario in {@code dir}. */
  public static List<String> command(Path dir) {
    return List.of("bash", path().toString(), dir.toString());
  }

  /** Writes the listing the fake prints for {@code get ... -r root}, one line each. */
  public static void list(Path dir, String root, String... lines) throws IOException {
    Path listDir = Files.createDirectories(dir.resolve("list"));
    Files.writeString(listDir.resolve(root.replace('/', '_')), String.join("\n", lines) + "\n");
  }

  /**
   * A dataset's listing lines (guid and createtxg {@code txg}, canmount off) and its snapshots',
   * with createtxg {@code txg+1}, {@code txg+2}, ... A snapshot's guid depends on its name only:
   * the same snapshot has the same guid on every side.
   */
  public static String[] ds(String name, long txg, String... snaps) {
    List<String> l =
        new ArrayList<>(
            List.of(
                name + "\tguid\t" + txg, name + "\tcreatetxg\t" + txg, name + "\tcanmount\toff"));
    int i = 1;
    for (String s : snaps) {
      l.add(name + "@" + s + "\tguid\t" + (s.hashCode() & 0xffffff));
      l.add(name + "@" + s + "\tcreatetxg\t" + (txg + i++));
    }
    return l.toArray(String[]::new);
  }

  /**
   * A local raw push ({@code send -w}, {@code receive -u}) of everything below {@code bak} to
   * {@code target}, {@code bak} stripped from the names: {@code bak/h/src/data} goes to {@code
   * target/h/src/data}.
   */
  public static PushConfig rawPushFromBak(String target) {
    return new PushConfig(
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        target,
        "bak",
        true,
        List.of("-u"),
        List.of("bak"));
  }

  public static String[] concat(String[]... parts) {
    return Arrays.stream(parts).flatMap(Arrays::stream).toArray(String[]::new);
  }

  /** Every argv the fake was called with so far, in order. */
  public static List<List<String>> argv(Path dir) throws IOException {
    return Files.readAllLines(dir.resolve("argv.log")).stream()
        .map(l -> List.of(l.split("\\|")))
        .toList();
  }
}
