package org.zfsbackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.CommandsConfig;
import org.zfsbackup.config.AgentConfig.PowerConfig;
import org.zfsbackup.config.AgentConfig.PullConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.ReplicationConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;

/** Builds engine configs for tests without going through the file loader. */
public final class TestConfigs {
  private TestConfigs() {}

  /** zfs-fuse has no {@code receive -u}: the tests receive with no options. */
  public static final List<String> ZFS_FUSE_RECEIVE = List.of();

  public static SourceConfig sshSource(String name, SshServer ssh, String... datasets) {
    return new SourceConfig(
        name,
        Optional.of("127.0.0.1"),
        Optional.of("root"),
        Optional.of(ssh.port),
        List.of(datasets));
  }

  public static SourceConfig sshSource(String name, int port, String... datasets) {
    return new SourceConfig(
        name, Optional.of("127.0.0.1"), Optional.of("root"), Optional.of(port), List.of(datasets));
  }

  public static SourceConfig localSource(String name, String... datasets) {
    return new SourceConfig(
        name, Optional.empty(), Optional.empty(), Optional.empty(), List.of(datasets));
  }

  public static AgentConfig config(
      List<String> ssh, String target, List<SourceConfig> sources, Optional<PushConfig> push) {
    return config(
        ssh, List.of("zfs"), List.of("pv"), target, sources, push, Duration.ofSeconds(60));
  }

  public static AgentConfig config(
      List<String> ssh,
      List<String> zfs,
      List<String> pv,
      String target,
      List<SourceConfig> sources,
      Optional<PushConfig> push,
      Duration stall) {
    return new AgentConfig(
        Optional.empty(),
        new CommandsConfig(zfs, ssh, pv),
        new PullConfig(target, ZFS_FUSE_RECEIVE, sources),
        push,
        new PowerConfig(List.of(), Duration.ofSeconds(60), Duration.ofSeconds(3600)),
        new ReplicationConfig(true, stall, Duration.ofSeconds(5), Duration.ofSeconds(60), 4, true),
        freshStateFile(),
        "info",
        Optional.empty());
  }

  /** {@code config} with {@code replication.parallel_sources} set to {@code n}. */
  public static AgentConfig parallel(AgentConfig c, int n) {
    ReplicationConfig r = c.replication();
    return new AgentConfig(
        c.mqtt(),
        c.commands(),
        c.pull(),
        c.push(),
        c.power(),
        new ReplicationConfig(
            r.holds(), r.stallTimeout(), r.connectTimeout(), r.commandTimeout(), n, r.resumable()),
        c.stateFile(),
        c.logLevel(),
        c.retention());
  }

  /**
   * A state file of this config's own: the cycle lock lives beside it, so two tests (or two builds
   * on one machine) never share a lock by accident.
   */
  public static Path freshStateFile() {
    try {
      Path dir = Files.createTempDirectory("zba-state");
      dir.toFile().deleteOnExit();
      return dir.resolve("state.json");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
