package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.testing.Prerequisites;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class AgentLauncherTest {
  @TempDir Path dir;
  final ByteArrayOutputStream err = new ByteArrayOutputStream();

  boolean run(AgentConfig config) {
    return AgentLauncher.run(
        config, new PrintStream(err, true, StandardCharsets.UTF_8), c -> new FakeCycleRunner());
  }

  AgentConfig config() {
    return TestConfigs.config(
        "tcp://127.0.0.1:1", "agent", "servers/host-backups", dir.resolve("s.json"), List.of());
  }

  /**
   * Catches a second agent with the same configuration starting: it would take the broker session
   * from the first every second, or answer its runs with cycle_locked.
   */
  @Test
  void run_anotherAgentWithThisConfig_isRefusedAtOnce() throws Exception {
    Prerequisites.requireProgram("python3");
    AgentConfig c = config();
    Path lock = AgentLauncher.instanceLockFor(c.stateFile());
    // Another process holds it, with the same kind of lock (fcntl) Java takes.
    Process other =
        new ProcessBuilder(
                "python3",
                "-c",
                "import fcntl, sys, time\n"
                    + "f = open(sys.argv[1], 'w'); fcntl.lockf(f, fcntl.LOCK_EX)\n"
                    + "print('locked', flush=True); time.sleep(60)",
                lock.toString())
            .start();
    try (var out = other.inputReader()) {
      assertEquals("locked", out.readLine());
      assertFalse(run(c));
    } finally {
      other.destroy();
      other.waitFor();
    }
    String said = err.toString(StandardCharsets.UTF_8);
    assertTrue(said.contains("another agent is running with this configuration"), said);
    assertTrue(said.contains(lock.toString()), said);
  }

  @Test
  void run_noMqttSection_isRefusedAtOnceAtOnce() {
    AgentConfig c = config();
    AgentConfig noMqtt = org.zfsbackup.testing.TestConfigs.withMqtt(c, Optional.empty());
    assertFalse(run(noMqtt));
    assertTrue(
        err.toString(StandardCharsets.UTF_8).contains("mqtt section"),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void run_unsupportedUrl_isRefusedAtOnceNamingTheKey() {
    assertFalse(
        run(
            TestConfigs.withMqtt(
                config(),
                m ->
                    new MqttConfig(
                        "http://broker:80",
                        m.clientId(),
                        m.username(),
                        m.password(),
                        m.caFile(),
                        m.topic(),
                        m.homeAssistant()))));
    assertTrue(
        err.toString(StandardCharsets.UTF_8).contains("mqtt.url"),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void run_missingCaFile_isRefusedAtOnceNamingTheKey() {
    assertFalse(
        run(
            TestConfigs.withMqtt(
                config(),
                m ->
                    new MqttConfig(
                        "ssl://broker:8883",
                        m.clientId(),
                        m.username(),
                        m.password(),
                        Optional.of(dir.resolve("missing.pem")),
                        m.topic(),
                        m.homeAssistant()))));
    assertTrue(
        err.toString(StandardCharsets.UTF_8).contains("mqtt.ca_file"),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void run_wildcardTopic_isRefusedAtOnce() {
    assertFalse(
        run(
            TestConfigs.withMqtt(
                config(),
                m ->
                    new MqttConfig(
                        m.url(),
                        m.clientId(),
                        m.username(),
                        m.password(),
                        m.caFile(),
                        "servers/#",
                        m.homeAssistant()))));
  }

  @Test
  void configuredDatasets_everySourceAndDataset() {
    assertEquals(
        Set.of("src:tank/a", "src:tank/b"),
        org.zfsbackup.cycle.CycleRequest.configuredDatasets(config()));
  }
}
