package org.zfsbackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.CommandsConfig;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.config.AgentConfig.PowerConfig;
import org.zfsbackup.config.AgentConfig.PullConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.ReplicationConfig;
import org.zfsbackup.config.AgentConfig.RetentionConfig;
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

  /** {@code c} with {@code mqtt} in place of its own section. */
  public static AgentConfig withMqtt(AgentConfig c, Optional<MqttConfig> mqtt) {
    return with(c, p -> p.mqtt = mqtt);
  }

  /** {@code c} with {@code pull} in place of its own section. */
  public static AgentConfig withPull(AgentConfig c, PullConfig pull) {
    return with(c, p -> p.pull = pull);
  }

  /** {@code c} with {@code pull.receive_options} set to {@code receiveOptions}. */
  public static AgentConfig withReceiveOptions(AgentConfig c, List<String> receiveOptions) {
    return withPull(c, new PullConfig(c.pull().target(), receiveOptions, c.pull().sources()));
  }

  /** {@code c} with {@code push} in place of its own section. */
  public static AgentConfig withPush(AgentConfig c, Optional<PushConfig> push) {
    return with(c, p -> p.push = push);
  }

  /** {@code c} with {@code power} in place of its own section. */
  public static AgentConfig withPower(AgentConfig c, PowerConfig power) {
    return with(c, p -> p.power = power);
  }

  /** {@code c} with {@code replication} in place of its own section. */
  public static AgentConfig withReplication(AgentConfig c, ReplicationConfig replication) {
    return with(c, p -> p.replication = replication);
  }

  /** {@code c} with {@code stateFile} in place of its own (the cycle lock lives beside it). */
  public static AgentConfig withStateFile(AgentConfig c, Path stateFile) {
    return with(c, p -> p.stateFile = stateFile);
  }

  /** {@code c} with {@code retention} in place of its own section. */
  public static AgentConfig withRetention(AgentConfig c, Optional<RetentionConfig> retention) {
    return with(c, p -> p.retention = retention);
  }

  /** {@code c} with {@code replication.parallel_sources} set to {@code n}. */
  public static AgentConfig parallel(AgentConfig c, int n) {
    ReplicationConfig r = c.replication();
    return withReplication(c, replication(r, r.holds(), n, r.resumable()));
  }

  /** {@code c} with {@code replication.holds} set to {@code holds}. */
  public static AgentConfig withHolds(AgentConfig c, boolean holds) {
    ReplicationConfig r = c.replication();
    return withReplication(c, replication(r, holds, r.parallelSources(), r.resumable()));
  }

  /** {@code c} with {@code replication.resumable} set to {@code resumable}. */
  public static AgentConfig withResumable(AgentConfig c, boolean resumable) {
    ReplicationConfig r = c.replication();
    return withReplication(c, replication(r, r.holds(), r.parallelSources(), resumable));
  }

  /** {@code r} with the settings the tests change; its timeouts kept. */
  private static ReplicationConfig replication(
      ReplicationConfig r, boolean holds, int parallelSources, boolean resumable) {
    return new ReplicationConfig(
        holds,
        r.stallTimeout(),
        r.connectTimeout(),
        r.commandTimeout(),
        parallelSources,
        resumable);
  }

  private static AgentConfig with(AgentConfig c, Consumer<Parts> change) {
    Parts p = new Parts(c);
    change.accept(p);
    return p.build();
  }

  /**
   * An {@link AgentConfig}'s sections, to change some and build the copy: records have no withers.
   */
  private static final class Parts {
    Optional<MqttConfig> mqtt;
    CommandsConfig commands;
    PullConfig pull;
    Optional<PushConfig> push;
    PowerConfig power;
    ReplicationConfig replication;
    Path stateFile;
    String logLevel;
    Optional<RetentionConfig> retention;

    Parts(AgentConfig c) {
      mqtt = c.mqtt();
      commands = c.commands();
      pull = c.pull();
      push = c.push();
      power = c.power();
      replication = c.replication();
      stateFile = c.stateFile();
      logLevel = c.logLevel();
      retention = c.retention();
    }

    AgentConfig build() {
      return new AgentConfig(
          mqtt, commands, pull, push, power, replication, stateFile, logLevel, retention);
    }
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
