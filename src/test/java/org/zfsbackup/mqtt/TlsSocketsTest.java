package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TlsSocketsTest {
  @Test
  void isTls_sslInAnyCase_asTheConfigAndPahoAcceptIt() {
    // The config accepts SSL://, and Paho lower-cases the scheme: the agent must use the CA file
    // then too.
    assertTrue(TlsSockets.isTls("ssl://mqtt.lan:8883"));
    assertTrue(TlsSockets.isTls("SSL://mqtt.lan:8883"));
    assertTrue(TlsSockets.isTls("Ssl://mqtt.lan"));
    assertFalse(TlsSockets.isTls("tcp://mqtt.lan:1883"));
    assertFalse(TlsSockets.isTls("ssl:/x"));
  }
}
