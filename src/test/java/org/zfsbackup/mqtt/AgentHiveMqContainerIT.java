package org.zfsbackup.mqtt;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.testcontainers.hivemq.HiveMQContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * The broker scenarios against HiveMQ CE in a container. Opt-in: compiled and run only with {@code
 * mvn verify -P hivemq-testcontainers}, where a Docker engine exists; the default build (and CI)
 * excludes this file, so it never depends on Docker. The embedded broker in {@link AgentHiveMqIT}
 * covers the same scenarios without Docker.
 */
class AgentHiveMqContainerIT extends AgentBrokerScenarios {
  static HiveMQContainer hivemq;

  @BeforeAll
  static void startContainer() {
    hivemq = new HiveMQContainer(DockerImageName.parse("hivemq/hivemq-ce").withTag("2025.5"));
    hivemq.start();
  }

  @AfterAll
  static void stopContainer() {
    if (hivemq != null) {
      hivemq.stop();
    }
  }

  @Override
  String brokerUrl() {
    return "tcp://" + hivemq.getHost() + ":" + hivemq.getMqttPort();
  }
}
