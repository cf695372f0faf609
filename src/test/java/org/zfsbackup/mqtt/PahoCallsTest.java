package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.junit.jupiter.api.Test;

class PahoCallsTest {
  static PahoSettings settings(String url) {
    return new PahoSettings(
        url,
        "agent-1",
        Optional.of("backup"),
        Optional.empty(),
        Optional.empty(),
        "servers/host-backups/availability",
        List.of("servers/host-backups"),
        Duration.ofSeconds(1),
        Duration.ofSeconds(30),
        Duration.ofSeconds(10),
        30);
  }

  @Test
  void options_cleanSessionReconnectRetainedOfflineWillAndRoomForDiscovery() {
    MqttConnectOptions o = PahoCalls.options(settings("tcp://broker:1883"));
    assertTrue(o.isCleanSession(), "a command sent while asleep is not replayed");
    assertFalse(o.isAutomaticReconnect(), "PahoConnection reconnects, logging each attempt");
    assertEquals(30, o.getKeepAliveInterval());
    assertEquals("servers/host-backups/availability", o.getWillDestination());
    assertArrayEquals("offline".getBytes(StandardCharsets.UTF_8), o.getWillMessage().getPayload());
    assertTrue(o.getWillMessage().isRetained());
    assertEquals(1, o.getWillMessage().getQos());
    assertEquals("backup", o.getUserName());
    assertTrue(o.getMaxInflight() > 9, "discovery alone is nine retained messages");
    assertTrue(o.isHttpsHostnameVerificationEnabled());
  }

  @Test
  void describe_givesTheMessageAndItsCause() {
    MqttException e =
        new MqttException(
            MqttException.REASON_CODE_SERVER_CONNECT_ERROR,
            new ConnectException("Connection refused"));
    assertTrue(PahoCalls.describe(e).endsWith(": Connection refused"), PahoCalls.describe(e));
    assertEquals("IOException", PahoCalls.describe(new IOException()));
    assertEquals("unknown reason", PahoCalls.describe(null));
  }

  /** The hint names the largest publish a cut connection left unacknowledged, or nothing. */
  @Test
  void cutAtOnce_namesTheLargestUnacknowledgedPublish() {
    assertEquals("", PahoCalls.cutAtOnce(java.util.List.of()));
    String hint =
        PahoCalls.cutAtOnce(
            java.util.List.of(
                new InFlight.Sent("t/state", 120),
                new InFlight.Sent("homeassistant/sensor/x/last_error/config", 867)));
    assertTrue(
        hint.contains(
                "2 publish(es) unacknowledged, the largest 867 bytes on"
                    + " homeassistant/sensor/x/last_error/config")
            && hint.contains("max_packet_size"),
        hint);
  }

  @Test
  void seconds_wholeOrToOneDecimal() {
    assertEquals("4 s", PahoCalls.seconds(4000));
    assertEquals("1.5 s", PahoCalls.seconds(1500).replace(',', '.'));
  }

  /** Catches: a SUBACK of 0x80 (Paho's async client calls it a success) taken as granted. */
  @Test
  void refused_failureCodesAndMissingCodes() {
    String[] topics = {"servers/x", "homeassistant/status"};
    assertEquals(java.util.List.of(), PahoCalls.refused(topics, new int[] {1, 0}));
    assertEquals(java.util.List.of("servers/x"), PahoCalls.refused(topics, new int[] {0x80, 1}));
    assertEquals(
        java.util.List.of("homeassistant/status"), PahoCalls.refused(topics, new int[] {1}));
    assertEquals(
        java.util.List.of("servers/x", "homeassistant/status"),
        PahoCalls.refused(topics, new int[] {-128, 0x80}));
  }
}
