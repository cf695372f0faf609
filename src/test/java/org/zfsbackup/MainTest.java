package org.zfsbackup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.zfsbackup.testing.LogCapture;

/** The CLI in-process: usage errors map to exit code 2 in one place. */
class MainTest {
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();
  @TempDir Path dir;

  /**
   * Main configures logging ({@code --quiet} sets ERROR and adds a filter): restored for the tests
   * that follow.
   */
  final Level rootLevel = root().getLevel();

  final List<TurboFilter> filters = List.copyOf(root().getLoggerContext().getTurboFilterList());

  static Logger root() {
    return (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
  }

  @AfterEach
  void restoreLogging() {
    root().setLevel(rootLevel);
    root().getLoggerContext().getTurboFilterList().retainAll(filters);
  }

  int main(String... args) {
    return Main.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8),
        Map.of());
  }

  String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  /**
   * Catches: the load's warning (a password file others can read) printed by {@code run --quiet} on
   * a good night, before --quiet took effect: cron mailed it every time.
   */
  @Test
  void quiet_coversWhatTheLoadSays() throws IOException {
    Path pass = Files.writeString(dir.resolve("mqtt.pass"), "s3cret\n");
    Files.setPosixFilePermissions(
        pass, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    Path config =
        Files.writeString(
            dir.resolve("agent.yaml"),
            "mqtt:\n  url: tcp://localhost:1883\n  username: u\n  password_file: "
                + pass
                + "\npull:\n  target: p/b\n  sources:\n    - {name: s, datasets: [p/x]}\n");
    try (LogCapture logs = LogCapture.of(org.zfsbackup.config.ConfigLoader.class)) {
      // An unconfigured dataset: exit 2 after the load, before anything runs.
      assertEquals(2, main("plan", "--config", config.toString(), "-q", "s:p/other"));
      assertEquals(List.of(), logs.messages());
      assertEquals(2, main("plan", "--config", config.toString(), "s:p/other"));
      assertEquals(1, logs.messages().size(), logs.messages().toString());
    }
  }

  @Test
  void help_listsCommandsOptionsAndExitCodes() {
    assertEquals(0, main("--help"));
    for (String s :
        new String[] {
          "agent", "run", "plan", "check", "--config", "--quiet", "--version", "Exit codes"
        }) {
      assertTrue(out().contains(s), s);
    }
  }

  @Test
  void version_printsIt() {
    assertEquals(0, main("--version"));
    assertTrue(out().startsWith("zfs-backup-agent "));
  }

  @Test
  void unknownCommand_exit2WithOneLineHint() {
    assertEquals(2, main("frobnicate"));
    assertTrue(err().contains("unknown command 'frobnicate'"));
    assertTrue(err().contains("--help"));
  }

  @Test
  void unknownOption_exit2() {
    assertEquals(2, main("run", "--fast"));
    assertTrue(err().contains("unknown option '--fast'"));
  }

  @Test
  void configWithoutPath_exit2() {
    assertEquals(2, main("run", "--config"));
    assertTrue(err().contains("--config needs a path"));
  }

  /** Catches: the next option taken as the path (and then "config file --quiet not found"). */
  @Test
  void configFollowedByAnOption_exit2() {
    assertEquals(2, main("run", "--config", "--quiet"));
    assertTrue(err().contains("--config needs a path"), err());
  }

  /** Catches an empty path read as the working directory ("bad configuration : ..."). */
  @Test
  void configWithAnEmptyPath_exit2() {
    assertEquals(2, main("run", "--config", ""));
    assertTrue(err().contains("--config needs a path"), err());
    assertEquals(2, main("run", "--config="));
    assertTrue(err().contains("--config needs a path"), err());
  }

  @Test
  void missingConfigFile_exit2NamingThePath() {
    assertEquals(2, main("run", "--config", "/nonexistent/agent.yaml"));
    assertTrue(err().contains("/nonexistent/agent.yaml"), err());
  }

  // Catches: a second --config silently winning over the first.
  @Test
  void parse_configGivenTwice_usageError() {
    for (List<String> args :
        List.of(
            List.of("plan", "--config", "a.yaml", "--config", "b.yaml"),
            List.of("plan", "--config=a.yaml", "-c", "b.yaml"))) {
      Main.UsageException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              Main.UsageException.class, () -> Main.parse(args));
      assertTrue(e.getMessage().contains("--config given more than once"), e.getMessage());
    }
  }

  @Test
  void parse_defaultsToAgentAndConfigPath() {
    Main.Invocation inv = Main.parse(java.util.List.of("-q"));
    assertEquals("agent", inv.command());
    assertEquals("config/agent.yaml", inv.configPath().toString());
    assertTrue(inv.quiet());
    assertEquals(
        "/x.yaml",
        Main.parse(java.util.List.of("plan", "--config=/x.yaml")).configPath().toString());
  }

  /** {@code run}/{@code plan} take the datasets to limit the cycle to; other commands none. */
  @Test
  void parse_runAndPlanTakeDatasets_othersNoArgument() {
    assertEquals(
        List.of("h:tank/a", "h:tank/b"),
        Main.parse(List.of("run", "h:tank/a", "-q", "h:tank/b")).datasets());
    assertEquals(List.of("h:tank/a"), Main.parse(List.of("plan", "h:tank/a")).datasets());
    assertEquals(List.of(), Main.parse(List.of("run")).datasets());
    // A source may be named -n (a valid dataset name component): after "--" it is no option.
    Main.Invocation dashed = Main.parse(List.of("plan", "-q", "--", "-n:tank/a", "--config"));
    assertEquals(List.of("-n:tank/a", "--config"), dashed.datasets());
    assertTrue(dashed.quiet());
    assertEquals("run", Main.parse(List.of("--", "run", "-q")).command());
    assertThrows(Main.UsageException.class, () -> Main.parse(List.of("plan", "-n:tank/a")));
    for (String command : List.of("check", "agent")) {
      Main.UsageException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              Main.UsageException.class, () -> Main.parse(List.of(command, "h:tank/a")));
      assertTrue(e.getMessage().contains("unexpected argument 'h:tank/a'"), e.getMessage());
    }
  }

  /**
   * A dataset that is not exactly a configured {@code source-name:dataset}: exit 2, saying why as
   * MQTT's {@code datasets} does, and nothing run (the config's zfs does not even exist).
   */
  @Test
  void runLimitedToAnUnconfiguredDataset_exit2NothingRun() throws IOException {
    String cfg = configWithoutZfs();
    assertEquals(2, main("run", "h:tank/data/child", "--config", cfg));
    assertTrue(
        err().contains("dataset 'h:tank/data/child' is not configured: it is inside 'h:tank/data'"),
        err());
    assertEquals("", out());
    assertEquals(2, main("plan", "tank/data", "--config", cfg));
    assertTrue(err().contains("entries are \"source-name:dataset\""), err());
  }

  /** A config whose zfs cannot start: every cycle fails without touching anything. */
  String configWithoutZfs() throws IOException {
    Path file = dir.resolve("agent.yaml");
    Files.writeString(
        file,
        "commands:\n"
            + "  zfs: [\""
            + dir.resolve("no-such-zfs")
            + "\"]\n"
            + "pull:\n"
            + "  target: bak/t\n"
            + "  sources:\n"
            + "    - name: h\n"
            + "      datasets: [tank/data]\n"
            + "state_file: \""
            + dir.resolve("state.json")
            + "\"\n");
    return file.toString();
  }

  /**
   * Catches: a failed run exiting 0 or 2; {@code --quiet} hiding the failure or printing anything
   * on stdout; the failure or the summary not on stderr; the failure logged as well (twice in a
   * cron mail). (The success paths, on real ZFS: MainIT.)
   */
  @Test
  void runQuiet_datasetFails_exit1_onlyTheFailureAndTheSummaryOnStderr() throws IOException {
    try (LogCapture logged = LogCapture.root()) {
      assertEquals(1, main("run", "--quiet", "--config", configWithoutZfs()));
      // Each failure once, for cron: the report's line, not the log's line that repeats it.
      assertEquals(List.of(), logged.messages());
    }
    assertEquals("", out());
    List<String> lines = err().lines().toList();
    assertEquals(2, lines.size(), err());
    assertTrue(lines.get(0).startsWith("pull h tank/data -> bak/t/h/tank/data: FAILED: "), err());
    assertTrue(lines.get(0).contains("no-such-zfs"), "says why: " + lines.get(0));
    assertTrue(
        Pattern.matches(
            "cycle failed: 1 dataset, 0 sent, 0 up to date, 0 skipped, 1 failed, 0 B in [0-9.]+ s",
            lines.get(1)),
        lines.get(1));
  }

  /** Catches: a plan that cannot decide exiting 0, or printing its refusal on stdout. */
  @Test
  void plan_datasetCannotBeListed_exit1_refusalOnStderr() throws IOException {
    assertEquals(1, main("plan", "--config", configWithoutZfs()));
    assertEquals("", out());
    assertTrue(err().startsWith("pull h tank/data -> bak/t/h/tank/data: refused: "), err());
    assertTrue(err().contains("plan failed: 1 dataset, 0 to send, "), err());
  }
}
