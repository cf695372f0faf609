package org.zfsbackup.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.CommandsConfig;
import org.zfsbackup.config.AgentConfig.PowerConfig;
import org.zfsbackup.config.AgentConfig.PullConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.ReplicationConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.SshSharing;

/** The {@code check} lines for ssh sharing, one per ssh host, with a fake ssh. */
class SharingCheckTest {
  @TempDir Path base;

  static AgentConfig config() {
    return new AgentConfig(
        Optional.empty(),
        new CommandsConfig(List.of("zfs"), List.of("ssh"), List.of()),
        new PullConfig(
            "backuppool/backups",
            List.of(),
            List.of(
                new SourceConfig(
                    "a",
                    Optional.of("host-a"),
                    Optional.of("zbackup"),
                    Optional.empty(),
                    List.of("tank")),
                new SourceConfig(
                    "a-again",
                    Optional.of("host-a"),
                    Optional.of("zbackup"),
                    Optional.empty(),
                    List.of("rpool")),
                new SourceConfig(
                    "here",
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    List.of("rpool")))),
        Optional.of(
            new PushConfig(
                Optional.of("host-b"),
                Optional.empty(),
                Optional.empty(),
                "off/backups",
                "backuppool/backups",
                true,
                List.of(),
                List.of("backuppool/backups"))),
        new PowerConfig(List.of(), Duration.ofSeconds(60), Duration.ofSeconds(3600)),
        new ReplicationConfig(
            true, Duration.ofSeconds(60), Duration.ofSeconds(1), Duration.ofSeconds(10), 4, true),
        Path.of("/tmp/state.json"),
        "info",
        Optional.empty());
  }

  /** host-a shares; host-b's ssh refuses the options. */
  static final class FakeSsh extends PreflightTest.FakeRunner {
    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      String control =
          argv.stream().filter(a -> a.startsWith("ControlPath=")).findFirst().orElse(null);
      if (control == null) {
        return super.run(argv, timeout);
      }
      calls.add(argv);
      if (argv.contains("-O")) {
        return new ProcessResult(argv, 0, "", "Exit request sent.", false, false);
      }
      if (argv.contains("host-b")) {
        return new ProcessResult(
            argv, 255, "", "Bad configuration option: controlmaster", false, false);
      }
      try {
        Files.createFile(Path.of(control.substring("ControlPath=".length())));
      } catch (IOException e) {
        throw new AssertionError(e);
      }
      return new ProcessResult(argv, 0, "", "", false, false);
    }
  }

  @Test
  void check_oneSharingLinePerSshHost_fallbackWarnsAndStillExits0() {
    FakeSsh ssh = new FakeSsh();
    SshSharing.Factory sharing =
        new SshSharing.Factory(Optional.of(base), ssh, Duration.ofSeconds(60));
    Preflight preflight =
        new Preflight(config(), ssh, (m, t) -> Optional.empty(), Duration.ofMillis(200), sharing);

    List<CheckItem> items = preflight.check();
    List<String> lines =
        items.stream().map(CheckItem::line).filter(l -> l.contains("ssh sharing")).toList();

    assertEquals(2, lines.size(), items.toString());
    assertEquals(
        "ok   ssh sharing zbackup@host-a: ok, one connection for every command of a cycle",
        lines.get(0));
    assertTrue(
        lines
            .get(1)
            .startsWith(
                "warn ssh sharing host-b: cannot share one ssh connection to host-b (ssh refused"
                    + " the sharing options: "),
        lines.get(1));
    assertTrue(lines.get(1).endsWith("every command opens its own connection"), lines.get(1));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    List<CheckItem> passing = items.stream().filter(i -> !i.name().equals("broker")).toList();
    assertTrue(
        Preflight.print(passing, true, new PrintStream(out, true, StandardCharsets.UTF_8)),
        "a fallback is a warning, not a failure: " + passing);
    assertEquals("", out.toString(StandardCharsets.UTF_8), "--quiet shows failures only");
    assertTrue(
        ssh.calls.stream()
            .anyMatch(c -> c.contains("-O") && c.contains("exit") && c.contains("host-a")),
        "the master opened by check is closed: " + ssh.calls);
    try (var left = Files.list(base)) {
      assertEquals(0, left.count(), "each check closes its masters and removes its directory");
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void check_sharingOff_noSharingLines() {
    Preflight preflight =
        new Preflight(
            config(),
            new PreflightTest.FakeRunner(),
            (m, t) -> Optional.empty(),
            Duration.ofMillis(200));
    assertTrue(preflight.check().stream().noneMatch(i -> i.name().startsWith("ssh sharing")));
  }
}
