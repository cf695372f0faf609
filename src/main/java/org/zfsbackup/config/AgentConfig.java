package org.zfsbackup.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The whole configuration, validated and typed. Built only by {@link ConfigLoader}; nothing else in
 * the agent sees raw JSON. Each key is a component, named in snake_case in the file; its default
 * is the YAML value in {@code @JsonProperty(defaultValue)}, an absent section gets the defaults of
 * its keys, and {@code required} keys have none. The rules types cannot say are in {@link
 * ConfigRules}. docs/configuration.md lists every key.
 *
 * @param mqtt broker connection; empty when the file has no {@code mqtt} section (the {@code run}
 *     and {@code plan} commands do not need one)
 * @param push the offsite phase; empty = no push phase
 * @param stateFile where the agent keeps what must survive restarts ({@code last_success_at})
 */
public record AgentConfig(
    Optional<MqttConfig> mqtt,
    CommandsConfig commands,
    @JsonProperty(required = true) PullConfig pull,
    Optional<PushConfig> push,
    PowerConfig power,
    ReplicationConfig replication,
    @JsonProperty(defaultValue = "/var/lib/zfs-backup-agent/state.json") Path stateFile,
    @JsonProperty(defaultValue = "info") String logLevel) {

  public AgentConfig {
    logLevel = logLevel == null ? null : logLevel.trim().toLowerCase(Locale.ROOT);
  }

  /**
   * MQTT broker and topic. {@code password} is read from {@code password_file} or the environment
   * (see {@link ConfigLoader}), never logged. {@code clientId} defaults to {@code
   * zfs-backup-agent-<hostname>}.
   */
  public record MqttConfig(
      @JsonProperty(required = true) String url,
      String clientId,
      Optional<String> username,
      @JsonProperty("password_file") Optional<Secret> password,
      Optional<Path> caFile,
      @JsonProperty(defaultValue = "servers/host-backups") String topic,
      HomeAssistantConfig homeAssistant) {}

  public record HomeAssistantConfig(
      @JsonProperty(defaultValue = "true") boolean enabled,
      @JsonProperty(defaultValue = "homeassistant") String discoveryPrefix) {}

  /**
   * argv prefixes; never run through a shell. {@code pv} counts bytes in the stream; empty = Java
   * relay.
   */
  public record CommandsConfig(
      @JsonProperty(defaultValue = "[zfs]") List<String> zfs,
      @JsonProperty(defaultValue = "[ssh, -o, BatchMode=yes]") List<String> ssh,
      @JsonProperty(defaultValue = "[pv]") List<String> pv) {}

  /** Dataset D of source N lands at {@code <target>/<N>/<D>}. */
  public record PullConfig(
      @JsonProperty(required = true) String target,
      @JsonProperty(defaultValue = "[-u]") List<String> receiveOptions,
      @JsonProperty(required = true) List<SourceConfig> sources) {}

  /**
   * @param name defaults to {@code host}
   * @param host empty = run zfs locally without ssh
   */
  public record SourceConfig(
      String name,
      Optional<String> host,
      Optional<String> user,
      Optional<Integer> port,
      @JsonProperty(required = true) List<String> datasets) {}

  /**
   * @param host empty = receive locally without ssh
   * @param stripPrefix defaults to {@code pull.target}
   * @param datasets defaults to {@code [pull.target]}
   */
  public record PushConfig(
      Optional<String> host,
      Optional<String> user,
      Optional<Integer> port,
      @JsonProperty(required = true) String target,
      String stripPrefix,
      @JsonProperty(defaultValue = "true") boolean raw,
      @JsonProperty(defaultValue = "[-u]") List<String> receiveOptions,
      List<String> datasets) {}

  /**
   * Run after a graceful suspend. Empty = suspend only stops the agent's work, nothing is powered
   * down.
   */
  public record PowerConfig(
      @JsonProperty(defaultValue = "[systemctl, poweroff]") List<String> command) {}

  /**
   * Durations are whole seconds in the file ({@code *_s}).
   *
   * @param holds hold the incremental base on the source so pruning cannot break the chain
   * @param stallTimeout a step that moves no bytes for this long is killed and reported
   * @param connectTimeout ssh ConnectTimeout, and the bound for listing a host
   * @param commandTimeout bound for short zfs commands (list, create, set, hold, release)
   */
  public record ReplicationConfig(
      @JsonProperty(defaultValue = "true") boolean holds,
      @JsonProperty(value = "stall_timeout_s", defaultValue = "600") Duration stallTimeout,
      @JsonProperty(value = "connect_timeout_s", defaultValue = "15") Duration connectTimeout,
      @JsonProperty(value = "command_timeout_s", defaultValue = "120") Duration commandTimeout) {}

  /** A secret value whose {@code toString} never reveals it. */
  public record Secret(String value) {
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    public Secret {}

    @Override
    public String toString() {
      return "Secret[****]";
    }
  }
}
