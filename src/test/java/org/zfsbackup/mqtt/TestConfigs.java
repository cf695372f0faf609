package org.zfsbackup.mqtt;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.CommandsConfig;
import org.zfsbackup.config.AgentConfig.HomeAssistantConfig;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.config.AgentConfig.PowerConfig;
import org.zfsbackup.config.AgentConfig.PullConfig;
import org.zfsbackup.config.AgentConfig.ReplicationConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;

/** Agent configs for tests: one source {@code src} with {@code tank/a} and {@code tank/b}. */
final class TestConfigs {
  /** Short retries and throttles so integration tests stay quick. */
  static final AgentLauncher.Timings FAST =
      new AgentLauncher.Timings(
          Duration.ofMillis(200),
          Duration.ofSeconds(1),
          Duration.ofSeconds(5),
          10,
          Duration.ofMillis(300),
          Duration.ofSeconds(5),
          Duration.ofMillis(50),
          Duration.ofSeconds(5));

  private TestConfigs() {}

  static AgentConfig config(
      String url, String clientId, String topic, Path stateFile, List<String> power) {
    MqttConfig mqtt =
        new MqttConfig(
            url,
            clientId,
            Optional.empty(),
            Optional.empty(),
            Optional.empty(),
            topic,
            new HomeAssistantConfig(true, "homeassistant", 36));
    return new AgentConfig(
        Optional.of(mqtt),
        new CommandsConfig(List.of("zfs"), List.of("ssh", "-o", "BatchMode=yes"), List.of()),
        new PullConfig(
            "backup",
            List.of("-u"),
            List.of(
                new SourceConfig(
                    "src",
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty(),
                    List.of("tank/a", "tank/b")))),
        Optional.empty(),
        new PowerConfig(power, Duration.ofSeconds(60), Duration.ofSeconds(60)),
        new ReplicationConfig(
            true, Duration.ofMinutes(10), Duration.ofSeconds(10), Duration.ofSeconds(60), 4, true),
        stateFile,
        "info",
        Optional.empty());
  }

  /** {@code power.settle_s} and {@code power.lock_wait_s} changed. */
  static AgentConfig withPower(AgentConfig c, Duration settle, Duration lockWait) {
    return org.zfsbackup.testing.TestConfigs.withPower(
        c, new PowerConfig(c.power().command(), settle, lockWait));
  }

  static AgentConfig withMqtt(AgentConfig c, UnaryOperator<MqttConfig> change) {
    return org.zfsbackup.testing.TestConfigs.withMqtt(
        c, Optional.of(change.apply(c.mqtt().orElseThrow())));
  }
}
