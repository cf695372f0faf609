package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.Secret;
import org.zfsbackup.mqtt.AgentLauncher.RunningAgent;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.MosquittoBroker;
import org.zfsbackup.testing.MqttProbe;
import org.zfsbackup.testing.MqttProbe.Message;
import org.zfsbackup.testing.Prerequisites;

/**
 * {@code ssl://} with {@code ca_file}, and a username and password, against Mosquitto with a
 * throwaway CA made by openssl. The password never reaches a log line.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AgentTlsIT {
  static final String USER = "backup";
  static final String PASSWORD = "s3cret-Pa55word-xyz";
  static final Duration WAIT = Duration.ofSeconds(15);
  static Path dir;
  static MosquittoBroker broker;

  final FakeCycleRunner engine = new FakeCycleRunner();

  /** The machine's clock pair: a power command that exits 0 sends it to sleep for an hour. */
  final FakeClocks clocks = new FakeClocks();

  final List<RunningAgent> agents = new ArrayList<>();
  final List<MqttProbe> probes = new ArrayList<>();
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  @BeforeAll
  static void startTlsBroker() throws Exception {
    Path openssl = Prerequisites.requireProgram("openssl");
    Path passwd = Prerequisites.requireProgram("mosquitto_passwd");
    dir = Files.createTempDirectory("agent-tls-");
    for (Path caDir : List.of(dir.resolve("ca"), dir.resolve("other-ca"))) {
      Files.createDirectories(caDir);
      Cmd.ok(
          openssl.toString(),
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "2",
          "-subj",
          "/CN=test-ca",
          "-keyout",
          caDir.resolve("ca.key").toString(),
          "-out",
          caDir.resolve("ca.pem").toString());
    }
    Path ca = dir.resolve("ca");
    Files.writeString(dir.resolve("san.cnf"), "subjectAltName=IP:127.0.0.1\n");
    Cmd.ok(
        openssl.toString(),
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        dir.resolve("server.key").toString(),
        "-out",
        dir.resolve("server.csr").toString());
    Cmd.ok(
        openssl.toString(),
        "x509",
        "-req",
        "-days",
        "2",
        "-in",
        dir.resolve("server.csr").toString(),
        "-CA",
        ca.resolve("ca.pem").toString(),
        "-CAkey",
        ca.resolve("ca.key").toString(),
        "-CAcreateserial",
        "-extfile",
        dir.resolve("san.cnf").toString(),
        "-out",
        dir.resolve("server.pem").toString());
    Cmd.ok(passwd.toString(), "-b", "-c", dir.resolve("passwd").toString(), USER, PASSWORD);
    broker =
        MosquittoBroker.builder()
            .tls(dir.resolve("server.pem"), dir.resolve("server.key"))
            .passwordFile(dir.resolve("passwd"))
            .start();
  }

  @AfterAll
  static void stopTlsBroker() {
    if (broker != null) {
      broker.close();
    }
  }

  @BeforeEach
  void captureLogs() {
    logs.start();
    ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).addAppender(logs);
  }

  @AfterEach
  void stopAll() {
    engine.release();
    agents.forEach(RunningAgent::stop);
    probes.forEach(MqttProbe::close);
    ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    assertTrue(logText().contains("connecting to MQTT broker ssl://"), "logs were captured");
    assertTrue(!logText().contains(PASSWORD), "the password reached the log:\n" + logText());
  }

  @Test
  void start_sslWithCaFileAndPassword_connectsAndRunsCommands() {
    String client = "agent-tls-ok";
    startAgent(client, dir.resolve("ca/ca.pem"), PASSWORD);
    MqttProbe probe = probe();
    probe.await("servers/" + client + "/availability", "online", WAIT);
    probe.publish("servers/" + client, "run", false);
    assertEquals(
        "success",
        AgentBrokerScenarios.json(probe.await("servers/" + client + "/result", m -> true, WAIT))
            .get("outcome")
            .asText());
  }

  @Test
  void start_wrongPassword_retriesAndLogsEachAttemptWithoutThePassword() throws Exception {
    MqttProbe probe = probe();
    startAgent("agent-tls-badpw", dir.resolve("ca/ca.pem"), "not-" + PASSWORD);
    awaitLog("failed (attempt 2)");
    assertTrue(logText().contains("attempt 1"));
    // Fails if the attempts fail for another reason than the broker refusing the credentials.
    assertEveryAttemptFailedFor(Pattern.compile("Not authori[sz]ed"));
    assertNeverOnline(probe, "agent-tls-badpw");
  }

  /**
   * Catches: a socket factory that trusts every certificate (or the JVM's store instead of {@code
   * ca_file}): the agent would connect, go online and never log a PKIX failure; and a test that
   * passes because the connection failed for an unrelated reason (wrong port, bad password).
   */
  @Test
  void start_caFileOfAnotherCa_refusesTheBroker() throws Exception {
    MqttProbe probe = probe();
    startAgent("agent-tls-badca", dir.resolve("other-ca/ca.pem"), PASSWORD);
    awaitLog("failed (attempt 2)");
    // The JDK's words for "this certificate is not signed by a CA you trust".
    assertEveryAttemptFailedFor(Pattern.compile("PKIX path (validation|building) failed"));
    assertNeverOnline(probe, "agent-tls-badca");
    assertFalse(
        broker.logText().contains("agent-tls-badca"),
        "the broker saw an MQTT CONNECT:\n" + broker.logText());
  }

  /**
   * Catches: hostname verification switched off ({@code setHttpsHostnameVerificationEnabled}),
   * which would accept any certificate of the trusted CA for any broker name.
   */
  @Test
  void start_brokerNameNotInItsCertificate_refusesTheBroker() throws Exception {
    MqttProbe probe = probe();
    // The certificate is for IP 127.0.0.1 only; "localhost" is the same socket under another name.
    startAgent(
        "agent-tls-badname",
        dir.resolve("ca/ca.pem"),
        PASSWORD,
        broker.url().replace("127.0.0.1", "localhost"));
    awaitLog("failed (attempt 2)");
    // The JDK's HostnameChecker: "No name matching localhost found" (or "No subject alternative
    // DNS name matching localhost found" when the certificate has DNS names).
    assertEveryAttemptFailedFor(
        Pattern.compile("No (subject alternative (DNS )?)?name matching localhost"));
    assertNeverOnline(probe, "agent-tls-badname");
    assertFalse(
        broker.logText().contains("agent-tls-badname"),
        "the broker saw an MQTT CONNECT:\n" + broker.logText());
  }

  /** Every logged connect failure (at least two) names {@code reason}, not just any failure. */
  void assertEveryAttemptFailedFor(Pattern reason) {
    List<String> failures = logText().lines().filter(l -> l.contains("failed (attempt")).toList();
    assertTrue(failures.size() >= 2, "fewer than two failed attempts:\n" + logText());
    for (String line : failures) {
      assertTrue(
          reason.matcher(line).find(),
          "an attempt failed for another reason than " + reason + ": " + line);
    }
  }

  /**
   * Nothing was ever published on the agent's availability topic: no retained {@code online} at
   * subscribe time (the probe subscribed before the agent started), none live since.
   */
  static void assertNeverOnline(MqttProbe probe, String client) {
    assertEquals(
        List.of(),
        probe.messages("servers/" + client + "/availability").stream().map(Message::text).toList());
  }

  void startAgent(String client, Path caFile, String password) {
    startAgent(client, caFile, password, broker.url());
  }

  void startAgent(String client, Path caFile, String password, String url) {
    AgentConfig config =
        TestConfigs.withMqtt(
            TestConfigs.config(
                url, client, "servers/" + client, dir.resolve(client + ".json"), List.of("true")),
            m ->
                new AgentConfig.MqttConfig(
                    m.url(),
                    m.clientId(),
                    Optional.of(USER),
                    Optional.of(new Secret(password)),
                    Optional.of(caFile),
                    m.topic(),
                    m.homeAssistant()));
    agents.add(
        AgentLauncher.start(
            config,
            c -> engine,
            clocks.suspending(new ProcessPowerSwitch()),
            clocks,
            TestConfigs.FAST));
  }

  MqttProbe probe() {
    MqttProbe p =
        MqttProbe.connect(
                broker.url(),
                org.zfsbackup.mqtt.TlsSockets.trusting(dir.resolve("ca/ca.pem")),
                USER,
                PASSWORD)
            .subscribe("servers/#");
    probes.add(p);
    return p;
  }

  void awaitLog(String text) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!logText().contains(text)) {
      assertTrue(System.nanoTime() < deadline, "no log line with '" + text + "':\n" + logText());
      Thread.sleep(50);
    }
  }

  String logText() {
    StringBuilder b = new StringBuilder();
    List<ILoggingEvent> events;
    synchronized (logs) { // the appender appends under its own lock
      events = new ArrayList<>(logs.list);
    }
    for (ILoggingEvent e : events) {
      b.append(e.getFormattedMessage()).append('\n');
      for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
        b.append(t.getMessage()).append('\n');
      }
    }
    return b.toString();
  }
}
