package org.zfsbackup.check;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.eclipse.paho.client.mqttv3.MqttClient;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.eclipse.paho.client.mqttv3.persist.MemoryPersistence;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.mqtt.TlsSockets;

/**
 * {@link BrokerProbe} with the Paho v3 client: connect with a clean session, disconnect. The client
 * id gets a {@code -check} suffix: a broker drops an existing session when the same id connects
 * again, and {@code check} must not kick a running agent off. The connect carries a retained QoS 1
 * will, as the agent's does (its {@code offline}): a broker that refuses retained messages or QoS 1
 * refuses that connect. The probe's will is empty, on {@code T/check}: were it ever sent, it would
 * only clear that topic's retained message, which nothing sets.
 */
public final class PahoBrokerProbe implements BrokerProbe {

  @Override
  public Optional<String> problem(MqttConfig mqtt, Duration timeout) {
    // Our own scheduler, so that no Paho thread outlives the probe whatever state it ends in.
    // Paho runs its connect task, sender, receiver and callback on it at the same time: with
    // fewer threads the CONNECT is never sent (10 is Paho's own default).
    ScheduledExecutorService scheduler =
        Executors.newScheduledThreadPool(
            10,
            r -> {
              Thread t = new Thread(r, "check-mqtt");
              t.setDaemon(true);
              return t;
            });
    MqttClient client = null;
    try {
      client =
          new MqttClient(
              mqtt.url(), mqtt.clientId() + "-check", new MemoryPersistence(), scheduler);
      client.setTimeToWait(timeout.toMillis()); // bounds the wait for CONNACK from a silent peer
      MqttConnectOptions options = new MqttConnectOptions();
      options.setCleanSession(true);
      options.setAutomaticReconnect(false);
      options.setMqttVersion(MqttConnectOptions.MQTT_VERSION_3_1_1); // no second try with 3.1
      options.setConnectionTimeout((int) Math.max(1, timeout.toSeconds()));
      options.setWill(mqtt.topic() + "/check", new byte[0], 1, true);
      mqtt.username().ifPresent(options::setUserName);
      mqtt.password().ifPresent(p -> options.setPassword(p.value().toCharArray()));
      if (TlsSockets.isTls(mqtt.url()) && mqtt.caFile().isPresent()) {
        try {
          options.setSocketFactory(TlsSockets.trusting(mqtt.caFile().get()));
        } catch (IllegalArgumentException e) {
          return Optional.of("cannot use " + e.getMessage());
        }
      }
      options.setHttpsHostnameVerificationEnabled(true);
      client.connect(options);
      client.disconnect(1000);
      return Optional.empty();
    } catch (MqttException e) {
      return Optional.of(describe(e) + noPassword(e, mqtt));
    } catch (IllegalArgumentException e) {
      return Optional.of("Paho refused the URL or client id: " + e.getMessage());
    } finally {
      if (client != null) {
        try {
          if (client.isConnected()) {
            client.disconnectForcibly(0, 500);
          }
          client.close(true);
        } catch (MqttException | RuntimeException e) {
          // already failed or disconnected; the scheduler below ends its threads either way
        }
      }
      scheduler.shutdownNow();
    }
  }

  /**
   * Credentials refused with no password given: say so, since {@code check} run by hand does not
   * read the systemd unit's environment file, where the password often is.
   */
  static String noPassword(MqttException e, MqttConfig mqtt) {
    boolean refused =
        e.getReasonCode() == MqttException.REASON_CODE_FAILED_AUTHENTICATION
            || e.getReasonCode() == MqttException.REASON_CODE_NOT_AUTHORIZED;
    return refused && mqtt.password().isEmpty()
        ? "; no password was given (mqtt.password_file and ZFS_BACKUP_AGENT_MQTT_PASSWORD are"
            + " unset; a password in the unit's environment file needs it loaded: README, Install)"
        : "";
  }

  /** The broker closed the connection instead of answering the CONNECT, as the agent's log says. */
  static final String CLOSED_AT_CONNECT =
      "the server closed the connection without accepting the connect (the broker's log says"
          + " why): a broker that refuses retained messages or QoS 1 (Mosquitto's retain_available"
          + " false, max_qos 0) does so to the agent's will; so does one at its max_connections, or"
          + " a TLS port behind a tcp:// url";

  /** Paho's reason ("Not authorized to connect", "Unable to connect to server") plus the cause. */
  static String describe(MqttException e) {
    String reason =
        switch (e.getReasonCode()) {
          case MqttException.REASON_CODE_FAILED_AUTHENTICATION ->
              "credentials refused (bad user name or password)";
          case MqttException.REASON_CODE_NOT_AUTHORIZED -> "credentials refused (not authorized)";
          case MqttException.REASON_CODE_CLIENT_TIMEOUT -> "no answer from the broker in time";
          case MqttException.REASON_CODE_CONNECTION_LOST -> CLOSED_AT_CONNECT;
          default -> e.getMessage();
        };
    Throwable cause = e.getCause();
    if (cause != null && cause.getMessage() != null) {
      reason += " (" + cause.getClass().getSimpleName() + ": " + cause.getMessage() + ")";
    }
    return reason.replaceAll("\\s*\\n\\s*", " ");
  }
}
