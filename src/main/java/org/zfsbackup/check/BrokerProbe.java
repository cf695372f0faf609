package org.zfsbackup.check;

import java.time.Duration;
import java.util.Optional;
import org.zfsbackup.config.AgentConfig.MqttConfig;

/** Connects to the broker with the configured credentials, then disconnects. */
@FunctionalInterface
public interface BrokerProbe {

  /**
   * Returns within about {@code timeout} whatever the broker does.
   *
   * @return empty when the broker accepted the connection, else why not (never the password)
   */
  Optional<String> problem(MqttConfig mqtt, Duration timeout);
}
