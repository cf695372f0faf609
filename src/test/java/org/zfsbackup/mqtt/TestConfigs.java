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
          Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofSeconds(5), 10, Duration.ofMillis(300), Duration.ofSeconds(5));

  private TestConfigs() {}

  static AgentConfig config(String url, String clientId, String topic, Path stateFile, List<String> power) {
    MqttConfig mqtt =
        new MqttConfig(url, clientId, Optional.empty(), Optional.empty(), Optional.empty(), topic,
            new HomeAssistantConfig(true, "homeassistant"));
    return new AgentConfig(
        Optional.of(mqtt),
        new CommandsConfig(List.of("zfs"), List.of("ssh", "-o", "BatchMode=yes"), List.of()),
        new PullConfig(
            "backup",
            List.of("-u"),
            List.of(new SourceConfig("src", Optional.empty(), Optional.empty(), Optional.empty(), List.of("tank/a", "tank/b")))),
        Optional.empty(),
        new PowerConfig(power),
        new ReplicationConfig(true, Duration.ofMinutes(10), Duration.ofSeconds(10), Duration.ofSeconds(60), true),
        stateFile,
        "info");
  }

  static AgentConfig withMqtt(AgentConfig c, UnaryOperator<MqttConfig> change) {
    return new AgentConfig(
        Optional.of(change.apply(c.mqtt().orElseThrow())), c.commands(), c.pull(), c.push(), c.power(),
        c.replication(), c.stateFile(), c.logLevel());
  }
}
