package org.zfsbackup.mqtt;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.zfsbackup.testing.EmbeddedHiveMqBroker;

/**
 * The same scenarios against HiveMQ CE embedded in the JVM (a second broker implementation: MQTT
 * details such as retained delivery and will handling differ between brokers). One broker for the
 * class; every test uses its own topic and client id.
 */
class AgentHiveMqIT extends AgentBrokerScenarios {
  static EmbeddedHiveMqBroker broker;

  @BeforeAll
  static void startBroker() {
    broker = EmbeddedHiveMqBroker.start();
  }

  @AfterAll
  static void stopBroker() {
    if (broker != null) {
      broker.close();
    }
  }

  @Override
  String brokerUrl() {
    return broker.url();
  }
}
