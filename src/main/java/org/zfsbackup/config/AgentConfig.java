package org.zfsbackup.config;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.zfsbackup.config.ConfigRules.Check;
import org.zfsbackup.config.ConfigRules.Rule;
import org.zfsbackup.zfs.Endpoint;

/**
 * The whole configuration, validated and typed. Built only by {@link ConfigLoader}; nothing else in
 * the agent sees raw JSON. A key is a component, in snake_case in the file, with its default as a
 * YAML value in {@code @JsonProperty(defaultValue)} (an absent section gets its keys' defaults) and
 * the format of its value in {@link Check}. docs/configuration.md lists every key.
 *
 * @param mqtt broker connection; empty when the file has no {@code mqtt} section (the {@code run}
 *     and {@code plan} commands do not need one)
 * @param push the offsite phase; empty = no push phase
 * @param stateFile where the agent keeps what must survive restarts ({@code last_success_at})
 * @param retention what the backup server and the offsite host keep; empty = keep everything
 */
public record AgentConfig(
    Optional<MqttConfig> mqtt,
    CommandsConfig commands,
    @JsonProperty(required = true) PullConfig pull,
    Optional<PushConfig> push,
    PowerConfig power,
    ReplicationConfig replication,
    @JsonProperty(defaultValue = "/var/lib/zfs-backup-agent/state.json") Path stateFile,
    @Check(Rule.LOG_LEVEL) @JsonProperty(defaultValue = "info") String logLevel,
    Optional<RetentionConfig> retention) {

  public AgentConfig {
    logLevel = logLevel == null ? null : logLevel.trim().toLowerCase(Locale.ROOT);
  }

  /**
   * The side a source or the push host is on: local when {@code host} is empty, else over ssh with
   * {@code commands.ssh}, {@code commands.zfs} and {@code replication.connect_timeout_s}.
   */
  public Endpoint endpoint(Optional<String> host, Optional<String> user, Optional<Integer> port) {
    return Endpoint.of(
        host, user, port, commands.ssh(), commands.zfs(), replication.connectTimeout());
  }

  /**
   * MQTT broker and topic. {@code password} comes from {@code password_file} or the environment
   * (see {@link ConfigLoader}) and is never logged; {@code clientId} defaults to {@code
   * zfs-backup-agent-<hostname>}.
   */
  public record MqttConfig(
      @Check(Rule.URL) @JsonProperty(required = true) String url,
      @Check(Rule.MQTT_TEXT) String clientId,
      @Check(Rule.MQTT_TEXT) Optional<String> username,
      @JsonProperty("password_file") Optional<Secret> password,
      @Check(Rule.CA_FILE) Optional<Path> caFile,
      @Check(Rule.TOPIC) @JsonProperty(defaultValue = "servers/host-backups") String topic,
      HomeAssistantConfig homeAssistant) {}

  /**
   * @param staleAfterH Problem turns on when the last success is older than this many hours (a
   *     positive whole number, hence the SECONDS rule)
   */
  public record HomeAssistantConfig(
      @JsonProperty(defaultValue = "true") boolean enabled,
      @Check(Rule.TOPIC) @JsonProperty(defaultValue = "homeassistant") String discoveryPrefix,
      @Check(Rule.SECONDS) @JsonProperty(value = "stale_after_h", defaultValue = "36")
          Integer staleAfterH) {}

  /** argv prefixes, never run through a shell. {@code pv} counts bytes; empty = Java relay. */
  public record CommandsConfig(
      @Check({Rule.NON_EMPTY, Rule.ARGV}) @JsonProperty(defaultValue = "[zfs]") List<String> zfs,
      @Check({Rule.NON_EMPTY, Rule.ARGV}) @JsonProperty(defaultValue = "[ssh, -o, BatchMode=yes]")
          List<String> ssh,
      @Check(Rule.ARGV) @JsonProperty(defaultValue = "[pv]") List<String> pv) {}

  /** Dataset D of source N lands at {@code <target>/<N>/<D>}. */
  public record PullConfig(
      @Check(Rule.DATASET) @JsonProperty(required = true) String target,
      @Check(Rule.RECEIVE_OPTION) @JsonProperty(defaultValue = "[-u]") List<String> receiveOptions,
      @Check(Rule.NON_EMPTY) @JsonProperty(required = true) List<SourceConfig> sources) {}

  /**
   * @param name defaults to {@code host}
   * @param host empty = run zfs locally without ssh
   */
  public record SourceConfig(
      String name,
      @Check(Rule.HOST) Optional<String> host,
      @Check(Rule.USER) Optional<String> user,
      @Check(Rule.PORT) Optional<Integer> port,
      @Check({Rule.NON_EMPTY, Rule.DATASET}) @JsonProperty(required = true)
          List<String> datasets) {}

  /**
   * @param host empty = receive locally without ssh
   * @param stripPrefix defaults to {@code pull.target}
   * @param datasets defaults to {@code [pull.target]}
   */
  public record PushConfig(
      @Check(Rule.HOST) Optional<String> host,
      @Check(Rule.USER) Optional<String> user,
      @Check(Rule.PORT) Optional<Integer> port,
      @Check(Rule.DATASET) @JsonProperty(required = true) String target,
      @Check(Rule.DATASET) String stripPrefix,
      @JsonProperty(defaultValue = "true") boolean raw,
      @Check(Rule.RECEIVE_OPTION) @JsonProperty(defaultValue = "[-u]") List<String> receiveOptions,
      @Check({Rule.NON_EMPTY, Rule.DATASET}) List<String> datasets) {}

  /**
   * @param command run after a graceful suspend; empty = suspend only stops the agent's work
   * @param settle how long the machine may stay up after {@code command} returned (systemd's
   *     suspend and poweroff return at once) before the power-down is reported as failed
   * @param lockWait how long a power-down waits for a cycle lock held by another process (a {@code
   *     run} from cron) before it gives up
   */
  public record PowerConfig(
      @Check(Rule.ARGV) @JsonProperty(defaultValue = "[systemctl, poweroff]") List<String> command,
      @Check(Rule.SECONDS) @JsonProperty(value = "settle_s", defaultValue = "60") Duration settle,
      @Check(Rule.SECONDS) @JsonProperty(value = "lock_wait_s", defaultValue = "3600")
          Duration lockWait) {}

  /**
   * Durations are whole seconds in the file.
   *
   * @param holds hold the incremental base on the source so pruning cannot break the chain
   * @param stallTimeout a step that moves no bytes for this long is killed and reported
   * @param connectTimeout ssh ConnectTimeout, and the bound for listing a host
   * @param commandTimeout bound for short zfs commands (list, create, set, hold, release)
   * @param parallelSources how many sources the pull phase (and independent trees the push phase)
   *     works on at once; 1 = one after the other. A whole number of at least 1, like the seconds.
   * @param resumable receive with {@code -s} and resume an interrupted receive at the next cycle
   *     ({@code send -t}); found off by itself on a zfs without it (zfs-fuse)
   */
  public record ReplicationConfig(
      @JsonProperty(defaultValue = "true") boolean holds,
      @Check(Rule.SECONDS) @JsonProperty(value = "stall_timeout_s", defaultValue = "600")
          Duration stallTimeout,
      @Check(Rule.SECONDS) @JsonProperty(value = "connect_timeout_s", defaultValue = "15")
          Duration connectTimeout,
      @Check(Rule.SECONDS) @JsonProperty(value = "command_timeout_s", defaultValue = "120")
          Duration commandTimeout,
      @Check(Rule.SECONDS) @JsonProperty(defaultValue = "4") Integer parallelSources,
      @JsonProperty(defaultValue = "true") boolean resumable) {

    /** The bound of one short command over ssh: connecting, then the command itself. */
    public Duration shortCommandTimeout() {
      return connectTimeout.plus(commandTimeout);
    }
  }

  /**
   * Snapshot pruning, restic's {@code forget} policy: see docs/configuration.md.
   *
   * @param backup the policy below {@code pull.target}; empty = keep everything there
   * @param offsite the policy below {@code push.target}; empty = keep everything there
   * @param timeFrom {@code creation} (the snapshot's creation property) or {@code name} (the
   *     timestamp in its name, read as a wall-clock time of {@code time_zone})
   * @param timeZone the zone of the hours, days, weeks, months and years; empty = the server's
   */
  public record RetentionConfig(
      Optional<KeepPolicy> backup,
      Optional<KeepPolicy> offsite,
      @Check(Rule.TIME_FROM) @JsonProperty(defaultValue = "creation") String timeFrom,
      @Check(Rule.TIME_ZONE) Optional<String> timeZone) {

    public boolean timeFromName() {
      return "name".equals(timeFrom);
    }

    public java.time.ZoneId zone() {
      return timeZone.map(java.time.ZoneId::of).orElseGet(java.time.ZoneId::systemDefault);
    }
  }

  /** How many snapshots to keep: the newest {@code keep_last}, and one per period. */
  public record KeepPolicy(
      @Check(Rule.COUNT) @JsonProperty(defaultValue = "0") Integer keepLast,
      @Check(Rule.COUNT) @JsonProperty(defaultValue = "0") Integer hourly,
      @Check(Rule.COUNT) @JsonProperty(defaultValue = "0") Integer daily,
      @Check(Rule.COUNT) @JsonProperty(defaultValue = "0") Integer weekly,
      @Check(Rule.COUNT) @JsonProperty(defaultValue = "0") Integer monthly,
      @Check(Rule.COUNT) @JsonProperty(defaultValue = "0") Integer yearly) {}

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
