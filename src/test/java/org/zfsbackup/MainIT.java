package org.zfsbackup;

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
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.Cli;
import org.zfsbackup.testing.ZfsPools;

/**
 * The {@code run} and {@code plan} commands end to end through {@link Main#run}, in-process, on
 * real ZFS (file-backed zfs-fuse pools) with a local source and a YAML config file of the test's
 * own: exit codes, the lines printed, and what {@code --quiet} leaves out. zfs-fuse has no {@code
 * receive -u}, so each config sets {@code receive_options: []}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MainIT {
  /** {@code 12.3 KiB (12595 bytes)} or {@code 812 B}, as {@code CliCycle} prints byte counts. */
  static final String BYTES = "([0-9]+ B|[0-9]+\\.[0-9] [KMGT]iB \\([0-9]+ bytes\\))";

  static final String SECONDS = " in [0-9]+\\.[0-9]{2} s";

  @TempDir Path dir;
  ZfsPools pools;
  String src;
  String bak;

  @BeforeAll
  void setUp() {
    pools = new ZfsPools();
    src = pools.create("zmsrc");
    bak = pools.create("zmbak");
  }

  @AfterAll
  void tearDown() {
    if (pools != null) {
      pools.close();
    }
  }

  static Cli main(String... args) {
    return Cli.run(Map.of(), args);
  }

  /**
   * A config file pulling {@code datasets} from the local source {@code here} into {@code
   * <bak>/<name>} (created here), with a state file (so a cycle lock) of its own.
   */
  String config(String name, String... datasets) throws IOException {
    dataset(bak + "/" + name);
    StringBuilder yaml = new StringBuilder();
    yaml.append("pull:\n");
    yaml.append("  target: \"").append(bak).append('/').append(name).append("\"\n");
    yaml.append("  receive_options: []\n");
    yaml.append("  sources:\n");
    yaml.append("    - name: here\n");
    yaml.append("      datasets:\n");
    for (String d : datasets) {
      yaml.append("        - \"").append(d).append("\"\n");
    }
    yaml.append("state_file: \"").append(dir.resolve(name + "/state.json")).append("\"\n");
    Path file = dir.resolve(name + ".yaml");
    Files.writeString(file, yaml);
    return file.toString();
  }

  /** Where the config of {@link #config} puts {@code dataset}. */
  String copy(String name, String dataset) {
    return bak + "/" + name + "/here/" + dataset;
  }

  static void assertMatches(String regex, String actual) {
    assertTrue(Pattern.matches(regex, actual), "expected /" + regex + "/ but was: " + actual);
  }

  /**
   * {@code run SOURCE:DATASET} sends that configured dataset (with its children) and leaves the
   * others alone, as the scripts' dataset arguments did; {@code plan} the same.
   */
  @Test
  void runLimitedToOneDataset_sendsItAlone() throws IOException {
    String a = src + "/limit/a";
    String b = src + "/limit/b";
    dataset(a);
    dataset(b);
    snapshot(a, "s1");
    snapshot(b, "s1");
    String cfg = config("limit", a, b);

    Cli plan = main("plan", "here:" + b, "--config", cfg);
    assertEquals(0, plan.code(), plan.toString());
    assertEquals(
        "pull here " + b + " -> " + copy("limit", b) + ": would send full @s1",
        plan.outLines().get(0));
    assertEquals(2, plan.outLines().size(), plan.out());

    Cli run = main("run", "--quiet", "here:" + b, "--config", cfg);
    assertEquals(0, run.code(), run.toString());
    assertEquals(List.of("s1"), snapshots(copy("limit", b)));
    assertFalse(ZfsPools.exists(copy("limit", a)), "the other dataset was left alone");
  }

  /**
   * Catches: a plan that changes anything, or prints other lines, or exits non-zero on success; a
   * run that does not send, prints no per-dataset line or summary, writes to stderr on success, or
   * does not exit 0; an up-to-date run reported as anything else.
   */
  @Test
  void planThenRunThenRunAgain_exit0_eachDatasetAndTheSummaryPrinted() throws IOException {
    String ds = src + "/flow/data";
    String kid = ds + "/kid";
    dataset(kid);
    pools.snapshotWithData(ds, "a", 50_000);
    snapshot(ds, "b");
    snapshot(kid, "k1");
    String cfg = config("flow", ds);
    String to = copy("flow", ds);
    String kidTo = copy("flow", kid);
    String untouched = ZfsPools.fingerprint(bak + "/flow");

    Cli plan = main("plan", "--config", cfg);
    assertEquals(0, plan.code(), plan.toString());
    assertEquals("", plan.err());
    List<String> lines = plan.outLines();
    assertEquals(3, lines.size(), plan.out());
    assertEquals(
        "pull here " + ds + " -> " + to + ": would send full @a, incremental @a..@b", lines.get(0));
    assertEquals("pull here " + kid + " -> " + kidTo + ": would send full @k1", lines.get(1));
    assertMatches(
        "plan success: 2 datasets, 2 to send, 0 up to date, 0 skipped, 0 failed, 0 B" + SECONDS,
        lines.get(2));
    assertEquals(untouched, ZfsPools.fingerprint(bak + "/flow"), "plan changed nothing");
    assertEquals("0", get("userrefs", ds + "@b"), "plan placed no hold");

    Cli run = main("run", "--config", cfg);
    assertEquals(0, run.code(), run.toString());
    assertEquals("", run.err());
    lines = run.outLines();
    // Live lines as each step starts, then one line per dataset, then the summary.
    assertTrue(lines.contains("... pull here " + ds + " -> " + to + ": full @a"), run.out());
    assertTrue(lines.contains("... pull here " + kid + " -> " + kidTo + ": full @k1"), run.out());
    assertMatches(
        Pattern.quote("pull here " + ds + " -> " + to + ": sent (full @a, incremental @a..@b), ")
            + BYTES,
        lines.get(lines.size() - 3));
    assertMatches(
        Pattern.quote("pull here " + kid + " -> " + kidTo + ": sent (full @k1), ") + BYTES,
        lines.get(lines.size() - 2));
    assertMatches(
        "cycle success: 2 datasets, 2 sent, 0 up to date, 0 skipped, 0 failed, " + BYTES + SECONDS,
        lines.get(lines.size() - 1));
    assertEquals(List.of("a", "b"), snapshots(to));
    assertEquals(List.of("k1"), snapshots(kidTo));
    assertEquals(get("guid", ds + "@b"), get("guid", to + "@b"));

    Cli again = main("run", "--config", cfg);
    assertEquals(0, again.code(), again.toString());
    assertEquals("", again.err());
    assertEquals(
        List.of(
            "pull here " + ds + " -> " + to + ": up to date at @b",
            "pull here " + kid + " -> " + kidTo + ": up to date at @k1"),
        again.outLines().subList(0, 2),
        again.out());
    assertMatches(
        "cycle success: 2 datasets, 0 sent, 2 up to date, 0 skipped, 0 failed, 0 B" + SECONDS,
        again.outLines().get(2));
    assertEquals(3, again.outLines().size(), again.out());
  }

  /** Catches: {@code --quiet} printing anything on success (cron would mail it), or not sending. */
  @Test
  void runQuiet_success_exit0AndNothingPrinted() throws IOException {
    String ds = src + "/quiet/data";
    dataset(ds);
    snapshot(ds, "a");
    String cfg = config("quiet", ds);

    Cli run = main("run", "--quiet", "--config", cfg);
    assertEquals(new Cli(0, "", ""), run);
    assertEquals(List.of("a"), snapshots(copy("quiet", ds)), "sent all the same");

    snapshot(ds, "b");
    Cli shortForm = main("run", "-q", "--config", cfg);
    assertEquals(new Cli(0, "", ""), shortForm);
    assertEquals(List.of("a", "b"), snapshots(copy("quiet", ds)));
  }

  /**
   * One dataset fails (its copy has a snapshot of the same name but another guid: no common
   * snapshot) beside one that is sent. Catches: exit 0 for a partial cycle; {@code --quiet}
   * printing the healthy dataset or anything on stdout; the failure not printed, or not on stderr;
   * the healthy dataset not sent because of its neighbour.
   */
  @Test
  void runWithAFailedDataset_exit1_quietPrintsOnlyTheFailure() throws IOException {
    String good = src + "/fail/good";
    String bad = src + "/fail/bad";
    dataset(good);
    dataset(bad);
    snapshot(good, "g1");
    snapshot(bad, "a");
    String cfg = config("fail", good, bad);
    String badTo = copy("fail", bad);
    dataset(badTo);
    snapshot(badTo, "a"); // same name, another guid
    String badGuid = get("guid", badTo + "@a");

    Cli quiet = main("run", "--quiet", "--config", cfg);
    assertEquals(1, quiet.code(), quiet.toString());
    assertEquals("", quiet.out());
    List<String> err = quiet.errLines();
    assertEquals(2, err.size(), quiet.err());
    assertTrue(
        err.get(0).startsWith("pull here " + bad + " -> " + badTo + ": FAILED: "), quiet.err());
    assertTrue(err.get(0).contains("@a"), "names the snapshot: " + err.get(0));
    assertMatches(
        "cycle partial: 2 datasets, 1 sent, 0 up to date, 0 skipped, 1 failed, " + BYTES + SECONDS,
        err.get(1));
    assertFalse(quiet.err().contains(good), "the healthy dataset is not printed: " + quiet.err());
    assertEquals(List.of("g1"), snapshots(copy("fail", good)), "the healthy one was sent");
    assertEquals(List.of("a"), snapshots(badTo), "the failed copy was left alone");
    assertEquals(badGuid, get("guid", badTo + "@a"));

    // Without --quiet: each dataset on stdout but the failure, on stderr like the summary.
    Cli loud = main("run", "--config", cfg);
    assertEquals(1, loud.code(), loud.toString());
    assertEquals(
        List.of("pull here " + good + " -> " + copy("fail", good) + ": up to date at @g1"),
        loud.outLines());
    assertEquals(2, loud.errLines().size(), loud.err());
    assertTrue(
        loud.errLines().get(0).startsWith("pull here " + bad + " -> " + badTo + ": FAILED: "),
        loud.err());
    assertMatches(
        "cycle partial: 2 datasets, 0 sent, 1 up to date, 0 skipped, 1 failed, 0 B" + SECONDS,
        loud.errLines().get(1));
  }
}
