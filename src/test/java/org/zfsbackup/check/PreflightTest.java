package org.zfsbackup.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.CommandsConfig;
import org.zfsbackup.config.AgentConfig.HomeAssistantConfig;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.config.AgentConfig.PowerConfig;
import org.zfsbackup.config.AgentConfig.PullConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.ReplicationConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;

/**
 * The check items with a fake process runner and broker probe: which commands run, how each outcome
 * becomes a line, and that the whole check is bounded. The real processes and broker are in {@code
 * PreflightIT}.
 */
class PreflightTest {
  private static final Duration SMALL_MARGIN = Duration.ofMillis(200);

  private static final MqttConfig MQTT =
      new MqttConfig(
          "tcp://broker.lan:1883",
          "agent",
          Optional.of("backup"),
          Optional.empty(),
          Optional.empty(),
          "servers/host-backups",
          new HomeAssistantConfig(true, "homeassistant", 36));

  private static AgentConfig config(
      Optional<MqttConfig> mqtt, List<SourceConfig> sources, Optional<PushConfig> push) {
    return new AgentConfig(
        mqtt,
        new CommandsConfig(List.of("zfs"), List.of("ssh", "-o", "BatchMode=yes"), List.of("pv")),
        new PullConfig("backuppool/backups", List.of("-u"), sources),
        push,
        new PowerConfig(List.of(), Duration.ofSeconds(60), Duration.ofSeconds(3600)),
        new ReplicationConfig(
            true, Duration.ofSeconds(600), Duration.ofSeconds(1), Duration.ofSeconds(120), 4, true),
        Path.of("/tmp/state.json"),
        "info",
        Optional.empty());
  }

  private static SourceConfig remote(String name, String host, String... datasets) {
    return new SourceConfig(
        name, Optional.of(host), Optional.of("zbackup"), Optional.of(2222), List.of(datasets));
  }

  private static final Optional<PushConfig> PUSH =
      Optional.of(
          new PushConfig(
              Optional.of("host-albion"),
              Optional.empty(),
              Optional.empty(),
              "offsitepool/backups",
              "backuppool/backups",
              true,
              List.of("-u"),
              List.of("backuppool/backups")));

  private static AgentConfig typical() {
    return config(
        Optional.of(MQTT),
        List.of(
            remote("host-storage", "host-storage", "tank/data", "fastpool/compositions"),
            new SourceConfig(
                "here",
                Optional.empty(),
                Optional.empty(),
                Optional.empty(),
                List.of("rpool/home"))),
        PUSH);
  }

  /** Answers by the host found in argv ({@code local} when no ssh); records every argv. */
  static class FakeRunner implements ProcessRunner {
    final List<List<String>> calls = new CopyOnWriteArrayList<>();
    final Map<String, Function<List<String>, ProcessResult>> byHost = new ConcurrentHashMap<>();

    FakeRunner answer(String host, int exit, String stderr) {
      byHost.put(host, argv -> new ProcessResult(argv, exit, "", stderr, false, false));
      return this;
    }

    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      calls.add(argv);
      String host = argv.get(0).equals("ssh") ? argv.get(argv.indexOf("--") - 1) : "local";
      return byHost
          .getOrDefault(host, a -> new ProcessResult(a, 0, "ok\n", "", false, false))
          .apply(argv);
    }

    @Override
    public PipeResult pipe(
        List<String> send, List<String> receive, ByteProgress p, Duration s, KillSwitch c) {
      throw new AssertionError("check never streams");
    }
  }

  private static final BrokerProbe BROKER_OK = (mqtt, timeout) -> Optional.empty();

  private static String print(List<CheckItem> items, boolean quiet, boolean[] passed) {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    passed[0] = Preflight.print(items, quiet, new PrintStream(buf, true, StandardCharsets.UTF_8));
    return buf.toString(StandardCharsets.UTF_8);
  }

  /** A dataset listed twice in one source is one (CONTRACT), in check's counts too (review). */
  @Test
  void check_datasetListedTwice_countedOnce() {
    AgentConfig twice =
        config(
            Optional.of(MQTT),
            List.of(remote("host-storage", "host-storage", "tank/data", "tank/data")),
            PUSH);
    List<String> lines =
        new Preflight(twice, new FakeRunner(), BROKER_OK, SMALL_MARGIN)
            .check().stream().map(CheckItem::line).toList();
    assertTrue(lines.get(0).startsWith("ok   config: 1 source, 1 dataset,"), lines.toString());
    assertTrue(
        lines.stream().anyMatch(l -> l.endsWith("(zbackup@host-storage:2222): 1 dataset present")),
        lines.toString());
  }

  @Test
  void check_everythingAnswers_oneOkLinePerItemAndExit0() {
    FakeRunner runner = new FakeRunner();

    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();
    boolean[] passed = new boolean[1];
    String out = print(items, false, passed);

    assertEquals(
        """
        ok   config: 2 sources, 3 datasets, push to host-albion:offsitepool/backups
        ok   broker tcp://broker.lan:1883: connected as backup
        ok   source host-storage (zbackup@host-storage:2222): 2 datasets present
        ok   source here (local): 1 dataset present
        ok   backup root backuppool/backups: present
        ok   byte counter: pv works
        ok   offsite host-albion target offsitepool/backups: present
        ok   state file: /tmp/state.json writable
        """,
        out);
    assertTrue(passed[0], "every item passed: Main exits 0");
  }

  /** A full pool (or quota) fails every receive: check says so instead of "present". */
  @Test
  void check_targetRootWithNoSpaceLeft_fails_elseSaysHowMuch() {
    FakeRunner runner =
        new FakeRunner() {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            if (!argv.contains("available")) {
              return super.run(argv, timeout);
            }
            String bytes = argv.contains("backuppool/backups") ? "0\n" : "1610612736\n";
            return new ProcessResult(argv, 0, bytes, "", false, false);
          }
        };
    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();
    boolean[] passed = new boolean[1];
    String out = print(items, false, passed);

    assertTrue(
        out.contains(
            "FAIL backup root backuppool/backups: present, but no space is left below it"
                + " (available 0): every receive would fail."),
        out);
    assertTrue(
        out.contains(
            "ok   offsite host-albion target offsitepool/backups: present, 1.5 GiB available"),
        out);
    assertFalse(passed[0]);
  }

  @Test
  void check_pvMissing_byteCounterFails() {
    FakeRunner runner =
        new FakeRunner() {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            return argv.get(0).equals("pv")
                ? new ProcessResult(argv, -1, "", "No such file or directory", true, false)
                : super.run(argv, timeout);
          }
        };
    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();
    boolean[] passed = new boolean[1];
    String out = print(items, true, passed);
    assertEquals(
        "FAIL byte counter: cannot run 'pv' (install pv, or set commands.pv: []): No such file or directory\n",
        out);
    assertFalse(passed[0], "an item failed: Main exits 1");
  }

  @Test
  void check_sources_listTheirDatasetsThroughSshOrLocally() {
    FakeRunner runner = new FakeRunner();

    new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();

    assertTrue(
        runner.calls.contains(
            List.of(
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=1",
                "-p",
                "2222",
                "-l",
                "zbackup",
                "host-storage",
                "--",
                "zfs",
                "list",
                "-H",
                "-o",
                "name",
                "tank/data",
                "fastpool/compositions")),
        runner.calls.toString());
    assertTrue(
        runner.calls.contains(List.of("zfs", "list", "-H", "-o", "name", "rpool/home")),
        runner.calls.toString());
    assertTrue(
        runner.calls.contains(List.of("zfs", "list", "-H", "-o", "name", "backuppool/backups")));
    assertTrue(
        runner.calls.contains(
            List.of(
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=1",
                "host-albion",
                "--",
                "zfs",
                "list",
                "-H",
                "-o",
                "name",
                "offsitepool/backups")),
        runner.calls.toString());
    assertTrue(
        runner.calls.contains(List.of("pv", "-C", "-f", "-n", "-b", "-i", "1")),
        "pv runs with the flags the streams use");
    assertTrue(
        runner.calls.contains(
            List.of("zfs", "get", "-H", "-o", "value", "keystatus", "backuppool/backups")),
        runner.calls.toString());
    assertTrue(
        runner.calls.contains(
            List.of("zfs", "get", "-H", "-p", "-o", "value", "available", "backuppool/backups")),
        runner.calls.toString());
    assertEquals(9, runner.calls.size(), "the two roots' keystatus and space too");
  }

  // Catches: check passing an encrypted root whose key is not loaded after a reboot, where every
  // receive (pull) or every placeholder zfs create (push) of the next cycle fails.
  @Test
  void check_encryptedRootKeyNotLoaded_fails() {
    FakeRunner runner =
        new FakeRunner() {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            return argv.contains("keystatus")
                ? new ProcessResult(argv, 0, "unavailable\n", "", false, false)
                : super.run(argv, timeout);
          }
        };
    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();
    boolean[] passed = new boolean[1];
    String out = print(items, true, passed);
    assertTrue(
        out.contains(
            "FAIL backup root backuppool/backups: its encryption key is not loaded: receives and"
                + " the parents the agent creates below it would fail. Load it after every boot:"
                + " zfs load-key on its encryption root (zfs get encryptionroot"
                + " backuppool/backups)"),
        out);
    assertFalse(passed[0]);
    // typical() pushes raw: the offsite root takes raw streams without its key, so only a warning.
    CheckItem offsite =
        items.stream().filter(i -> i.name().startsWith("offsite")).findFirst().orElseThrow();
    assertTrue(offsite.ok() && offsite.warning(), offsite.toString());
    assertTrue(offsite.detail().contains("raw streams are received without it"), offsite.detail());
  }

  @Test
  void check_sshFails_sourceFailsWithSshReasonAndExit1() {
    FakeRunner runner =
        new FakeRunner()
            .answer(
                "host-storage",
                255,
                "ssh: connect to host host-storage port 2222: Connection refused\n");

    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();
    boolean[] passed = new boolean[1];
    String out = print(items, false, passed);

    assertTrue(
        out.contains(
            "FAIL source host-storage (zbackup@host-storage:2222): ssh failed: ssh: connect to host host-storage port 2222:"
                + " Connection refused\n"),
        out);
    assertTrue(
        out.contains("ok   source here (local)"), "one failure does not hide the others:\n" + out);
    assertFalse(passed[0], "an item failed: Main exits 1");
  }

  @Test
  void check_zfsMissingOnHost_saysZfsNotFound() {
    FakeRunner runner =
        new FakeRunner().answer("host-storage", 127, "bash: line 1: zfs: command not found");

    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();

    assertEquals(
        "zfs not found on zbackup@host-storage:2222: bash: line 1: zfs: command not found",
        items.get(2).detail());
  }

  @Test
  void check_datasetMissing_showsZfsMessageOnOneLine() {
    FakeRunner runner =
        new FakeRunner()
            .answer(
                "host-storage",
                1,
                "tank/data\ncannot open 'fastpool/compositions': dataset does not exist\n");

    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();

    assertEquals(
        "zfs list exited with 1: tank/data; cannot open 'fastpool/compositions': dataset does not exist",
        items.get(2).detail());
  }

  @Test
  void check_backupRootMissing_failsThatLine() {
    FakeRunner runner =
        new FakeRunner()
            .answer("local", 1, "cannot open 'backuppool/backups': dataset does not exist");

    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();

    CheckItem root =
        items.stream().filter(i -> i.name().startsWith("backup root")).findFirst().orElseThrow();
    assertEquals(
        "FAIL backup root backuppool/backups: does not exist: a cycle would create nothing"
            + " and send nothing there. Create it (with the encryption you want), import its pool, or"
            + " correct pull.target",
        root.line());
  }

  @Test
  void check_localZfsCannotStart_saysSo() {
    ProcessRunner runner =
        new FakeRunner() {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            return new ProcessResult(
                argv,
                -1,
                "",
                "Cannot run program \"zfs\": error=2, No such file or directory",
                true,
                false);
          }
        };
    AgentConfig c = config(Optional.of(MQTT), List.of(remote("a", "a", "tank")), Optional.empty());

    List<CheckItem> items = new Preflight(c, runner, BROKER_OK, SMALL_MARGIN).check();

    assertEquals(
        "FAIL backup root backuppool/backups: cannot start 'zfs': Cannot run program \"zfs\": error=2,"
            + " No such file or directory",
        items.get(3).line());
  }

  @Test
  void check_brokerRefuses_brokerLineFails() {
    BrokerProbe refusing = (mqtt, timeout) -> Optional.of("credentials refused (not authorized)");

    List<CheckItem> items =
        new Preflight(typical(), new FakeRunner(), refusing, SMALL_MARGIN).check();

    assertEquals(
        "FAIL broker tcp://broker.lan:1883: credentials refused (not authorized)",
        items.get(1).line());
  }

  @Test
  void check_noMqttSection_brokerWarnsAndPasses() {
    AgentConfig c = config(Optional.empty(), List.of(remote("a", "a", "tank")), Optional.empty());

    List<CheckItem> items = new Preflight(c, new FakeRunner(), BROKER_OK, SMALL_MARGIN).check();

    assertEquals(
        "warn broker: no mqtt section in the configuration (run and plan work without one;"
            + " the agent command needs one)",
        items.get(1).line());
    assertTrue(items.stream().allMatch(CheckItem::ok), items.toString());
  }

  /**
   * Catches: a state file that cannot be written passing the preflight (the agent then loses
   * last_success_at at each restart, with one log line).
   */
  @Test
  void stateItem_directoryOrNoWhereToCreateIt_fails(@TempDir Path dir) throws IOException {
    assertEquals(
        "ok   state file: " + dir.resolve("a/b.json") + " writable",
        StateFileCheck.item(dir.resolve("a/b.json")).line());
    Files.createDirectories(dir.resolve("state.json"));
    assertTrue(
        StateFileCheck.item(dir.resolve("state.json"))
            .line()
            .startsWith("FAIL state file: " + dir.resolve("state.json") + " is a directory: "));
    Files.writeString(dir.resolve("file"), "");
    assertTrue(
        StateFileCheck.item(dir.resolve("file/state.json"))
            .line()
            .startsWith("FAIL state file: no directory to create " + dir.resolve("file")));
    assertEquals(List.of("file", "state.json"), names(dir), "the check left nothing behind");
    // A directory this user may not create (the dedicated user before the unit's first start,
    // whose StateDirectory= makes it as root): a warning, not a failure.
    assertTrue(
        StateFileCheck.item(dir.resolve("sub/state.json"), d -> false)
            .line()
            .startsWith("warn state file: " + dir.resolve("sub") + " does not exist yet"));
  }

  private static List<String> names(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void check_noPush_hasNoOffsiteLine() {
    AgentConfig c = config(Optional.of(MQTT), List.of(remote("a", "a", "tank")), Optional.empty());

    List<CheckItem> items = new Preflight(c, new FakeRunner(), BROKER_OK, SMALL_MARGIN).check();

    assertEquals(6, items.size()); // config, broker, source, backup root, byte counter, state
    assertTrue(items.stream().noneMatch(i -> i.name().startsWith("offsite")));
    assertTrue(items.get(0).detail().endsWith("no push"));
  }

  @Test
  void print_quiet_printsOnlyFailures() {
    List<CheckItem> items =
        List.of(CheckItem.ok("config", "fine"), CheckItem.fail("source a (a)", "ssh failed"));
    boolean[] passed = new boolean[1];

    assertEquals("FAIL source a (a): ssh failed\n", print(items, true, passed));
    assertFalse(passed[0], "an item failed: Main exits 1");
  }

  @Test
  void print_quietAndAllOk_printsNothingAndExit0() {
    boolean[] passed = new boolean[1];

    assertEquals("", print(List.of(CheckItem.ok("config", "fine")), true, passed));
    assertTrue(passed[0], "every item passed: Main exits 0");
  }

  @Test
  void check_itemsRunInParallel_totalTimeIsNotTheSum() {
    ProcessRunner slow =
        new FakeRunner() {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            sleep(400);
            return new ProcessResult(argv, 0, "", "", false, false);
          }
        };
    AgentConfig c =
        config(
            Optional.of(MQTT),
            List.of(remote("a", "a", "tank"), remote("b", "b", "tank"), remote("c", "c", "tank")),
            PUSH);

    long start = System.nanoTime();
    List<CheckItem> items = new Preflight(c, slow, BROKER_OK, SMALL_MARGIN).check();
    long ms = (System.nanoTime() - start) / 1_000_000;

    assertTrue(items.stream().allMatch(CheckItem::ok), items.toString());
    assertTrue(ms < 1500, "5 items of 400 ms each took " + ms + " ms");
  }

  @Test
  void check_itemThatNeverReturns_failsAtTheDeadline() throws InterruptedException {
    CountDownLatch never = new CountDownLatch(1);
    FakeRunner hanging = new FakeRunner();
    hanging.byHost.put(
        "host-storage",
        argv -> {
          try {
            never.await(); // ignores its timeout: the backstop must still end the check
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return new ProcessResult(argv, -1, "", "", false, true);
        });
    BrokerProbe stuckBroker =
        (mqtt, timeout) -> {
          sleep(60_000);
          return Optional.empty();
        };
    Preflight preflight = new Preflight(typical(), hanging, stuckBroker, SMALL_MARGIN);

    long start = System.nanoTime();
    List<CheckItem> items = preflight.check();
    long ms = (System.nanoTime() - start) / 1_000_000;

    assertTrue(ms < preflight.deadline().toMillis() + 1000, "took " + ms + " ms");
    assertEquals("FAIL broker tcp://broker.lan:1883: no answer within 1 s", items.get(1).line());
    assertEquals(
        "FAIL source host-storage (zbackup@host-storage:2222): no answer within 1 s",
        items.get(2).line());
    assertTrue(items.get(3).ok(), "the others still report: " + items);
  }

  @Test
  void check_processTimedOut_saysNoAnswer() {
    FakeRunner runner = new FakeRunner();
    runner.byHost.put("host-albion", argv -> new ProcessResult(argv, -1, "", "", false, true));

    List<CheckItem> items = new Preflight(typical(), runner, BROKER_OK, SMALL_MARGIN).check();

    assertEquals(
        "FAIL offsite host-albion target offsitepool/backups: no answer within 1 s",
        items.get(6).line());
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
