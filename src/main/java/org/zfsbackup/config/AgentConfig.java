package org.zfsbackup.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The whole configuration, validated and typed. Built only by {@link ConfigLoader}; nothing else in
 * the agent sees raw JSON. See {@code config/agent.example.yaml} for every key.
 *
 * @param mqtt        broker connection; empty when the file has no {@code mqtt} section (the
 *                    {@code run} and {@code plan} commands do not need one)
 * @param push        the offsite phase; empty = no push phase
 * @param stateFile   where the agent keeps what must survive restarts ({@code last_success_at})
 */
public record AgentConfig(
    Optional<MqttConfig> mqtt,
    CommandsConfig commands,
    PullConfig pull,
    Optional<PushConfig> push,
    PowerConfig power,
    ReplicationConfig replication,
    Path stateFile,
    String logLevel) {

  /** MQTT broker and topic. {@code password} is resolved from a file or the environment, never logged. */
  public record MqttConfig(
      String url,
      String clientId,
      Optional<String> username,
      Optional<Secret> password,
      Optional<Path> caFile,
      String topic,
      HomeAssistantConfig homeAssistant) {}

  public record HomeAssistantConfig(boolean enabled, String discoveryPrefix) {}

  /** argv prefixes; never run through a shell. {@code pv} counts bytes in the stream; empty = Java relay. */
  public record CommandsConfig(List<String> zfs, List<String> ssh, List<String> pv) {}

  /** Dataset D of source N lands at {@code <target>/<N>/<D>}. */
  public record PullConfig(String target, List<String> receiveOptions, List<SourceConfig> sources) {}

  /**
   * @param host empty = run zfs locally without ssh
   */
  public record SourceConfig(
      String name, Optional<String> host, Optional<String> user, Optional<Integer> port, List<String> datasets) {}

  /**
   * @param host empty = receive locally without ssh
   */
  public record PushConfig(
      Optional<String> host,
      Optional<String> user,
      Optional<Integer> port,
      String target,
      String stripPrefix,
      boolean raw,
      List<String> receiveOptions,
      List<String> datasets) {}

  /** Run after a graceful suspend. Empty = suspend only stops the agent's work, nothing is powered down. */
  public record PowerConfig(List<String> command) {}

  /**
   * @param holds          hold the incremental base on the source so pruning cannot break the chain
   * @param stallTimeout   a step that moves no bytes for this long is killed and reported
   * @param connectTimeout ssh ConnectTimeout, and the bound for listing a host
   * @param commandTimeout bound for short zfs commands (list, create, set, hold, release)
   */
  public record ReplicationConfig(
      boolean holds, Duration stallTimeout, Duration connectTimeout, Duration commandTimeout) {}

  /** A secret value whose {@code toString} never reveals it. */
  public record Secret(String value) {
    @Override
    public String toString() {
      return "Secret[****]";
    }
  }
}
