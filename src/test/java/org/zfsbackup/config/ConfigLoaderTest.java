package org.zfsbackup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.testing.LogCapture;

/** Defaults, overrides from the environment and system properties, and secrets. */
class ConfigLoaderTest {
  private static final String SECRET = "hunter2-not-a-real-secret";
  private static final String BASE =
      """
      mqtt:
        url: tcp://localhost:1883
      pull:
        target: backuppool/backups
        sources:
          - host: host-storage
            datasets: [tank/data]
      push:
        host: host-albion
        target: offsitepool/backups
      """;

  @TempDir Path dir;

  /** BASE with a user name and the broker password in {@code file}. */
  private static String withPasswordFile(Object file) {
    return BASE.replace(
        "  url: tcp://localhost:1883\n",
        "  url: tcp://localhost:1883\n  username: backup\n  password_file: " + file + "\n");
  }

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  private AgentConfig load(String yaml, Map<String, String> env, Map<String, String> props)
      throws IOException {
    return ConfigLoader.load(write("agent.yaml", yaml), env, props);
  }

  @Test
  void load_minimalFile_appliesEveryDefault() throws IOException {
    AgentConfig c =
        ConfigLoader.load(
            Path.of("src/test/resources/config/valid/minimal.yaml"), Map.of(), Map.of());

    assertEquals(Optional.empty(), c.mqtt());
    assertEquals(List.of("zfs"), c.commands().zfs());
    assertEquals(List.of("ssh", "-o", "BatchMode=yes"), c.commands().ssh());
    assertEquals(List.of("pv"), c.commands().pv());
    assertEquals(List.of("-u"), c.pull().receiveOptions());
    SourceConfig source = c.pull().sources().get(0);
    assertEquals("host-storage", source.name(), "name defaults to host");
    assertEquals(Optional.empty(), source.user());
    assertEquals(Optional.empty(), source.port());
    assertEquals(Optional.empty(), c.push());
    assertEquals(List.of("systemctl", "poweroff"), c.power().command());
    assertTrue(c.replication().holds());
    assertEquals(Duration.ofSeconds(600), c.replication().stallTimeout());
    assertEquals(Duration.ofSeconds(15), c.replication().connectTimeout());
    assertEquals(Duration.ofSeconds(120), c.replication().commandTimeout());
    assertEquals(4, c.replication().parallelSources(), "replication.parallel_sources default");
    assertEquals(Path.of("/var/lib/zfs-backup-agent/state.json"), c.stateFile());
    assertEquals("info", c.logLevel());
  }

  @Test
  void load_mqttAndPushWithoutOptionalKeys_applyDefaults() throws IOException {
    AgentConfig c = load(BASE, Map.of(), Map.of());

    MqttConfig mqtt = c.mqtt().orElseThrow();
    assertEquals("servers/host-backups", mqtt.topic());
    assertTrue(mqtt.clientId().startsWith("zfs-backup-agent-"), mqtt.clientId());
    assertTrue(mqtt.clientId().length() > "zfs-backup-agent-".length(), "hostname appended");
    assertTrue(mqtt.homeAssistant().enabled());
    assertEquals("homeassistant", mqtt.homeAssistant().discoveryPrefix());
    assertEquals(36, mqtt.homeAssistant().staleAfterH());
    assertEquals(Optional.empty(), mqtt.password());
    PushConfig push = c.push().orElseThrow();
    assertEquals("backuppool/backups", push.stripPrefix(), "strip_prefix defaults to pull.target");
    assertEquals(
        List.of("backuppool/backups"), push.datasets(), "datasets default to [pull.target]");
    assertTrue(push.raw());
    assertEquals(List.of("-u"), push.receiveOptions());
  }

  @Test
  void load_envOverride_replacesFileValue() throws IOException {
    AgentConfig c =
        load(BASE, Map.of("ZFS_BACKUP_AGENT_MQTT__URL", "tcp://broker.lan:1884"), Map.of());

    assertEquals("tcp://broker.lan:1884", c.mqtt().orElseThrow().url());
  }

  @Test
  void load_envOverrides_convertStringsToTheKeysTypes() throws IOException {
    Map<String, String> env =
        Map.of(
            "ZFS_BACKUP_AGENT_REPLICATION__STALL_TIMEOUT_S", "30",
            "ZFS_BACKUP_AGENT_PUSH__RAW", "false",
            "ZFS_BACKUP_AGENT_MQTT__HOME_ASSISTANT__ENABLED", "no",
            "ZFS_BACKUP_AGENT_COMMANDS__SSH", "ssh, -o, BatchMode=yes, -i, /root/.ssh/backup",
            "ZFS_BACKUP_AGENT_PULL__RECEIVE_OPTIONS", "[\"-u\", \"-o\", \"readonly=on\"]",
            "ZFS_BACKUP_AGENT_POWER__COMMAND", "",
            "ZFS_BACKUP_AGENT_LOG_LEVEL", "debug");

    AgentConfig c = load(BASE, env, Map.of());

    assertEquals(Duration.ofSeconds(30), c.replication().stallTimeout());
    assertFalse(c.push().orElseThrow().raw());
    assertFalse(c.mqtt().orElseThrow().homeAssistant().enabled());
    assertEquals(
        List.of("ssh", "-o", "BatchMode=yes", "-i", "/root/.ssh/backup"), c.commands().ssh());
    assertEquals(List.of("-u", "-o", "readonly=on"), c.pull().receiveOptions());
    assertEquals(List.of(), c.power().command(), "empty string = empty list");
    assertEquals("debug", c.logLevel());
  }

  @Test
  void load_envOverrideOfListOfMappings_takesJson() throws IOException {
    String sources =
        "[{\"name\":\"nas\",\"host\":\"nas.lan\",\"port\":2222,\"datasets\":[\"tank/a\",\"tank/b\"]}]";

    AgentConfig c = load(BASE, Map.of("ZFS_BACKUP_AGENT_PULL__SOURCES", sources), Map.of());

    SourceConfig only = c.pull().sources().get(0);
    assertEquals(1, c.pull().sources().size());
    assertEquals("nas", only.name());
    assertEquals(Optional.of(2222), only.port());
    assertEquals(List.of("tank/a", "tank/b"), only.datasets());
  }

  @Test
  void load_systemProperty_winsOverEnvironment() throws IOException {
    AgentConfig c =
        load(
            BASE,
            Map.of("ZFS_BACKUP_AGENT_MQTT__TOPIC", "from/env"),
            Map.of("zfs-backup-agent.mqtt.topic", "from/property", "unrelated.property", "x"));

    assertEquals("from/property", c.mqtt().orElseThrow().topic());
  }

  @Test
  void load_systemProperty_overridesNestedKey() throws IOException {
    AgentConfig c =
        load(BASE, Map.of(), Map.of("zfs-backup-agent.replication.connect_timeout_s", "3"));

    assertEquals(Duration.ofSeconds(3), c.replication().connectTimeout());
  }

  @Test
  void load_envOverrideOfWrongType_namesKeyAndVariable() throws IOException {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                load(
                    BASE,
                    Map.of("ZFS_BACKUP_AGENT_REPLICATION__CONNECT_TIMEOUT_S", "soon"),
                    Map.of()));

    assertTrue(
        e.getMessage().contains("replication.connect_timeout_s: expected an integer"),
        e.getMessage());
    assertTrue(
        e.getMessage()
            .contains("from environment variable ZFS_BACKUP_AGENT_REPLICATION__CONNECT_TIMEOUT_S"),
        e.getMessage());
  }

  @Test
  void load_envOverrideOfUnknownKey_fails() throws IOException {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> load(BASE, Map.of("ZFS_BACKUP_AGENT_MQTT__URI", "tcp://x"), Map.of()));

    assertTrue(e.getMessage().startsWith("mqtt.uri: unknown key"), e.getMessage());
    assertTrue(e.getMessage().contains("ZFS_BACKUP_AGENT_MQTT__URI"), e.getMessage());
  }

  @Test
  void load_envOverrideOfListItem_isRefusedWithHint() throws IOException {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () -> load(BASE, Map.of("ZFS_BACKUP_AGENT_PULL__SOURCES__0__PORT", "22"), Map.of()));

    assertTrue(e.getMessage().contains("item by item"), e.getMessage());
  }

  @Test
  void load_unrelatedEnvironment_isIgnored() throws IOException {
    AgentConfig c =
        load(BASE, Map.of("HOME", "/root", "ZFS_BACKUP_AGENTX", "1", "PATH", "/bin"), Map.of());

    assertEquals("tcp://localhost:1883", c.mqtt().orElseThrow().url());
  }

  @Test
  void load_passwordFile_readsItWithoutTrailingNewline() throws IOException {
    Path pass = write("mqtt.pass", SECRET + "\r\n");
    String yaml = withPasswordFile(pass);

    AgentConfig c = load(yaml, Map.of(), Map.of());

    assertEquals(SECRET, c.mqtt().orElseThrow().password().orElseThrow().value());
  }

  // Catches: a password Paho cannot send (it refuses every character from U+FDD0 up: fullwidth
  // forms, U+FFFD) accepted, then refused at every connect with the character's code in the log;
  // and the byte-order mark a Windows editor writes first sent as part of the password.
  @Test
  void load_passwordPahoCannotSend_refusedWithoutQuotingIt_byteOrderMarkDropped()
      throws IOException {
    Path pass = write("mqtt.pass", "\uFEFF" + SECRET + "\n");
    String yaml = withPasswordFile(pass);
    assertEquals(
        SECRET,
        load(yaml, Map.of(), Map.of()).mqtt().orElseThrow().password().orElseThrow().value());

    write("mqtt.pass", "Hunter2\uFF2BSecret\n");
    ConfigException e = assertThrows(ConfigException.class, () -> load(yaml, Map.of(), Map.of()));
    assertEquals(
        List.of(
            "mqtt.password_file: the password in "
                + pass
                + " has a character MQTT (Paho) cannot send (one from U+FDD0 up: fullwidth forms,"
                + " U+FFFD; or beyond U+FFFF, such as an emoji)"),
        e.problems());
    write("mqtt.pass", "Hunter2\uD83D\uDE80Secret\n"); // an emoji: Paho refuses it too (#818)
    assertThrows(ConfigException.class, () -> load(yaml, Map.of(), Map.of()));
    assertFalse(e.getMessage().contains("FF2B") || e.getMessage().contains("\uFF2B"));

    // Under systemd (no LANG) Java reads a non-ASCII environment variable as U+FFFD.
    ConfigException env =
        assertThrows(
            ConfigException.class,
            () -> load(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", "H\uFFFDnter2"), Map.of()));
    assertTrue(env.getMessage().contains("UTF-8 locale (LANG=C.UTF-8)"), env.getMessage());
  }

  // Catches: a password_file naming a pipe (mkfifo) blocking the load, and so check or the agent,
  // for ever without a word.
  @Test
  void load_passwordFileIsAPipe_refusedAtOnce() throws Exception {
    Path fifo = dir.resolve("mqtt.fifo");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
    String yaml = withPasswordFile(fifo);
    ConfigException e =
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
            Duration.ofSeconds(10),
            () -> assertThrows(ConfigException.class, () -> load(yaml, Map.of(), Map.of())));
    assertEquals(
        List.of("mqtt.password_file: cannot read " + fifo + " (not a regular file)"), e.problems());
  }

  // Catches: a password file every user of the machine can read (mode 0644, what an editor or
  // `echo > file` leaves) loaded without a word; the docs ask for 0600.
  @Test
  void load_passwordFileReadableByEveryone_warnsNamingTheFileNotTheSecret() throws IOException {
    Path pass = write("mqtt.pass", SECRET + "\n");
    String yaml = withPasswordFile(pass);
    Files.setPosixFilePermissions(pass, PosixFilePermissions.fromString("rw-r--r--"));
    try (LogCapture logs = LogCapture.of(ConfigLoader.class)) {
      assertEquals(
          SECRET,
          load(yaml, Map.of(), Map.of()).mqtt().orElseThrow().password().orElseThrow().value());
      assertEquals(
          List.of(
              "mqtt.password_file "
                  + pass
                  + " can be read by every user of this machine (rw-r--r--): chmod 600 it"),
          logs.messages(Level.WARN));
    }
    Files.setPosixFilePermissions(pass, PosixFilePermissions.fromString("rw-r-----"));
    try (LogCapture logs = LogCapture.of(ConfigLoader.class)) {
      load(yaml, Map.of(), Map.of());
      assertEquals(List.of(), logs.messages());
    }
  }

  // Catches: a second line in the password (an old and a new one, a comment) reaching Paho, which
  // refused it at every connect with "Connection lost: Invalid UTF-8 char: [a]", forever.
  @Test
  void load_passwordOfTwoLines_namesTheFileNotTheSecret() throws IOException {
    Path pass = write("mqtt.pass", SECRET + "\nold-" + SECRET + "\n");
    String yaml = withPasswordFile(pass);
    ConfigException e = assertThrows(ConfigException.class, () -> load(yaml, Map.of(), Map.of()));
    assertEquals(
        List.of(
            "mqtt.password_file: the password in "
                + pass
                + " has more than one line or a control character"),
        e.problems());
    ConfigException env =
        assertThrows(
            ConfigException.class,
            () -> load(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", "a\tb"), Map.of()));
    assertTrue(env.getMessage().contains("ZFS_BACKUP_AGENT_MQTT_PASSWORD"), env.getMessage());
    assertFalse(env.getMessage().contains("a\tb"));
    // Children never get it (nor any ZFS_BACKUP_AGENT_ variable): see exec/ChildrenTest.
    assertTrue(ConfigLoader.PASSWORD_ENV.startsWith(org.zfsbackup.exec.Children.AGENT_PREFIX));
  }

  @Test
  void load_passwordEnv_winsOverFileAndSkipsReadingIt() throws IOException {
    String yaml = withPasswordFile("/nonexistent/pass");

    AgentConfig c = load(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", "from-env"), Map.of());

    assertEquals("from-env", c.mqtt().orElseThrow().password().orElseThrow().value());
  }

  @Test
  void load_password_neverInToStringNorInProblems() throws IOException {
    Path pass = write("mqtt.pass", SECRET + "\n");
    String good = withPasswordFile(pass);

    AgentConfig c = load(good, Map.of(), Map.of());
    assertFalse(c.toString().contains(SECRET), c.toString());
    assertFalse(c.mqtt().orElseThrow().toString().contains(SECRET));
    assertFalse(String.valueOf(c.mqtt().orElseThrow().password()).contains(SECRET));

    // The same secret in every place a careless message could pick it up.
    String bad =
        good.replace("target: backuppool/backups", "target: 1bad")
            .replace("  username: backup\n", "  username: backup\n  password: " + SECRET + "\n");
    Map<String, String> env =
        Map.of(
            "ZFS_BACKUP_AGENT_MQTT_PASSWORD", SECRET,
            "ZFS_BACKUP_AGENT_MQTT__PASSWORD", SECRET,
            "ZFS_BACKUP_AGENT_MQTT__URL", "tcp://backup:" + SECRET + "@broker:1883");
    ConfigException e = assertThrows(ConfigException.class, () -> load(bad, env, Map.of()));
    assertTrue(e.problems().size() >= 3, e.getMessage());
    assertFalse(e.getMessage().contains(SECRET), e.getMessage());
    assertFalse(String.valueOf(e).contains(SECRET));
  }

  @Test
  void load_missingFile_namesThePath() {
    Path missing = dir.resolve("nowhere/agent.yaml");

    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(missing, Map.of(), Map.of()));

    assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("not found"), e.getMessage());
  }

  /** Catches: a directory reported as "not found", though it is there. */
  @Test
  void load_directory_saysItIsADirectory() {
    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(dir, Map.of(), Map.of()));

    assertTrue(e.getMessage().contains(dir + " is a directory"), e.getMessage());
  }

  /** Catches an empty --config said to be a directory, and a FIFO said not to exist. */
  @Test
  void load_emptyPathOrAFifo_saysWhat() throws Exception {
    ConfigException empty =
        assertThrows(
            ConfigException.class, () -> ConfigLoader.load(Path.of(""), Map.of(), Map.of()));
    assertEquals("no config file given: the path after --config is empty", empty.getMessage());
    Path fifo = dir.resolve("agent.yaml");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(fifo, Map.of(), Map.of()));
    assertTrue(e.getMessage().contains("is not a regular file"), e.getMessage());
  }

  @Test
  void load_jsonFileWithWrongType_namesKeyPath() throws IOException {
    Path json =
        write(
            "agent.json",
            "{\"pull\": {\"target\": \"backuppool/b\", \"sources\": [{\"host\": \"h\", \"datasets\": \"tank\"}]}}");

    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(json, Map.of(), Map.of()));

    assertEquals("pull.sources[0].datasets: expected a list, got a string", e.getMessage());
  }

  /**
   * Catches a JSON file (or a JSON override) read up to its first complete value and the rest
   * ignored: one stray '}' dropped push, retention and state_file, and run exited 0.
   */
  @Test
  void load_jsonWithSomethingAfterItsValue_refused() throws IOException {
    Path json =
        write(
            "agent.json",
            "{\"pull\": {\"target\": \"b\", \"sources\": [{\"host\": \"h\", \"datasets\":"
                + " [\"tank\"]}]}},\n \"push\": {\"host\": \"o\", \"target\": \"off\"}}");
    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(json, Map.of(), Map.of()));
    assertTrue(e.getMessage().startsWith("cannot parse it as JSON: "), e.getMessage());

    String cut = "[{\"host\": \"a\", \"datasets\": [\"t\"]}], {\"host\": \"b\"}]";
    ConfigException env =
        assertThrows(
            ConfigException.class,
            () -> load(BASE, Map.of("ZFS_BACKUP_AGENT_PULL__SOURCES", cut), Map.of()));
    assertTrue(
        env.getMessage().contains("pull.sources")
            && env.getMessage().contains("ZFS_BACKUP_AGENT_PULL__SOURCES"),
        env.getMessage());
  }

  @Test
  void load_jsonFileWithYamlContent_isParsedAsJson() throws IOException {
    Path json = write("agent.json", BASE);

    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(json, Map.of(), Map.of()));

    assertTrue(e.getMessage().startsWith("cannot parse it as JSON: "), e.getMessage());
  }

  @Test
  void load_envOverrideOfWholeSection_takesJsonAndKeepsTheOtherDefaults() throws IOException {
    Map<String, String> env =
        Map.of(
            "ZFS_BACKUP_AGENT_REPLICATION", "{\"holds\": false, \"connect_timeout_s\": 5}",
            "ZFS_BACKUP_AGENT_REPLICATION__STALL_TIMEOUT_S", "30");

    AgentConfig c = load(BASE, env, Map.of());

    assertFalse(c.replication().holds());
    assertEquals(Duration.ofSeconds(5), c.replication().connectTimeout());
    assertEquals(
        Duration.ofSeconds(30), c.replication().stallTimeout(), "a key below it applies on top");
    assertEquals(Duration.ofSeconds(120), c.replication().commandTimeout(), "the default");
  }

  @Test
  void load_envOverrideOfWholeSections_replacesTheFilesAtEveryDepth() throws IOException {
    String yaml = BASE + "replication:\n  command_timeout_s: 77\n";
    Map<String, String> env =
        Map.of(
            "ZFS_BACKUP_AGENT_REPLICATION", "{\"holds\": false}",
            "ZFS_BACKUP_AGENT_REPLICATION__STALL_TIMEOUT_S", "30",
            "ZFS_BACKUP_AGENT_MQTT", "{\"url\": \"tcp://a:1883\"}",
            "ZFS_BACKUP_AGENT_MQTT__HOME_ASSISTANT", "{\"enabled\": false}",
            "ZFS_BACKUP_AGENT_MQTT__HOME_ASSISTANT__DISCOVERY_PREFIX", "ha");

    AgentConfig c = load(yaml, env, Map.of());

    assertEquals(Duration.ofSeconds(120), c.replication().commandTimeout(), "not the file's 77");
    assertEquals(Duration.ofSeconds(30), c.replication().stallTimeout());
    assertFalse(c.replication().holds());
    assertEquals("tcp://a:1883", c.mqtt().orElseThrow().url());
    assertFalse(c.mqtt().orElseThrow().homeAssistant().enabled());
    assertEquals("ha", c.mqtt().orElseThrow().homeAssistant().discoveryPrefix());
  }

  @Test
  void load_wholeMappingFromEnvAndKeyBelowFromProperty_bothApply() throws IOException {
    String yaml = BASE + "replication:\n  connect_timeout_s: 9\n";

    AgentConfig c =
        load(
            yaml,
            Map.of("ZFS_BACKUP_AGENT_REPLICATION", "{\"connect_timeout_s\": 7}"),
            Map.of("zfs-backup-agent.replication.command_timeout_s", "50"));

    assertEquals(Duration.ofSeconds(7), c.replication().connectTimeout(), "the environment's");
    assertEquals(Duration.ofSeconds(50), c.replication().commandTimeout(), "the property's");
  }

  @Test
  void load_wholeMappingThatIsNoJsonMapping_withKeyBelow_isReportedNotEmptied() throws IOException {
    for (String given : List.of("{\"connect_timeout_s\": 7", "[1]", "fast")) {
      ConfigException e =
          assertThrows(
              ConfigException.class,
              () ->
                  load(
                      BASE,
                      Map.of(
                          "ZFS_BACKUP_AGENT_REPLICATION",
                          given,
                          "ZFS_BACKUP_AGENT_REPLICATION__HOLDS",
                          "false"),
                      Map.of()));

      assertEquals(
          List.of(
              "environment variable ZFS_BACKUP_AGENT_REPLICATION__HOLDS: replication is set by"
                  + " environment variable ZFS_BACKUP_AGENT_REPLICATION to a value that is not a"
                  + " JSON mapping, so a key below it cannot apply",
              "replication: expected a mapping, got a string"
                  + " (from environment variable ZFS_BACKUP_AGENT_REPLICATION)"),
          e.problems(),
          given);
    }
  }

  /** A list or a string given whole is a valid value: the key below it must not vanish. */
  @Test
  void load_keyBelowAWholeListOrString_isAProblem() throws IOException {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                load(
                    BASE,
                    Map.of(
                        "ZFS_BACKUP_AGENT_PULL__SOURCES",
                        "[{\"host\": \"nas\", \"datasets\": [\"tank\"]}]",
                        "ZFS_BACKUP_AGENT_PULL__SOURCES__PORT",
                        "22",
                        "ZFS_BACKUP_AGENT_MQTT__URL",
                        "tcp://b:1883"),
                    Map.of("zfs-backup-agent.mqtt.url.port", "1884")));

    assertEquals(2, e.problems().size(), e.getMessage());
    assertTrue(
        e.getMessage()
            .contains(
                "environment variable ZFS_BACKUP_AGENT_PULL__SOURCES__PORT:"
                    + " pull.sources is set by environment variable ZFS_BACKUP_AGENT_PULL__SOURCES to"
                    + " a value that is not a JSON mapping"),
        e.getMessage());
    assertTrue(
        e.getMessage()
            .contains(
                "system property zfs-backup-agent.mqtt.url.port: mqtt.url is set by environment"
                    + " variable ZFS_BACKUP_AGENT_MQTT__URL to a value that is not a JSON mapping"),
        e.getMessage());
  }

  @Test
  void load_problemAboveAnOverride_namesTheOverride() throws IOException {
    String yaml = BASE + "retention:\n  backup:\n    daily: 7\n";
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                load(
                    yaml,
                    Map.of(
                        "ZFS_BACKUP_AGENT_MQTT__HOME_ASISTANT__ENABLED", "false",
                        "ZFS_BACKUP_AGENT_PULL__SOURCES__PORT", "22",
                        "ZFS_BACKUP_AGENT_RETENTION__BACKUP__DAILY", "0"),
                    Map.of("zfs-backup-agent.replicaton.holds", "false")));

    String m = e.getMessage();
    assertTrue(
        m.contains("mqtt.home_asistant: unknown key")
            && m.contains(
                "(from environment variable ZFS_BACKUP_AGENT_MQTT__HOME_ASISTANT__ENABLED)"),
        m);
    assertTrue(
        m.contains(
            "pull.sources: expected a list, got a mapping (from environment variable"
                + " ZFS_BACKUP_AGENT_PULL__SOURCES__PORT)"),
        m);
    assertTrue(
        m.contains("(from environment variable ZFS_BACKUP_AGENT_RETENTION__BACKUP__DAILY)"), m);
    assertTrue(m.contains("(from system property zfs-backup-agent.replicaton.holds)"), m);
  }

  @Test
  void load_yamlThatDoesNotParse_isReportedWithoutQuotingTheLine() throws IOException {
    String yaml =
        BASE.replace(
            "  url: tcp://localhost:1883\n",
            "  url: tcp://localhost:1883\n  password: @" + SECRET + "\n");

    ConfigException e = assertThrows(ConfigException.class, () -> load(yaml, Map.of(), Map.of()));

    assertTrue(e.getMessage().contains("cannot parse it as YAML"), e.getMessage());
    assertTrue(
        e.getMessage().contains("found character '@' that cannot start any token")
            && e.getMessage().endsWith("at line 3, column 13"),
        e.getMessage());
    assertFalse(e.getMessage().contains(SECRET), e.getMessage());
    assertFalse(e.getMessage().contains("password"), e.getMessage());

    for (String quoted :
        List.of("*" + SECRET, "!" + SECRET + " x", "!!float " + SECRET, "!!timestamp " + SECRET)) {
      String alias = BASE.replace("  url: tcp://localhost:1883\n", "  url: " + quoted + "\n");
      ConfigException a =
          assertThrows(ConfigException.class, () -> load(alias, Map.of(), Map.of()));
      assertTrue(a.getMessage().startsWith("cannot parse it as YAML: "), a.getMessage());
      assertFalse(a.getMessage().contains(SECRET), a.getMessage());
    }
    Path json =
        write(
            "agent.json", "{\"mqtt\": {\"url\": \"tcp://b:1883\", \"password\": " + SECRET + "}}");
    ConfigException j =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(json, Map.of(), Map.of()));
    assertTrue(
        j.getMessage().startsWith("cannot parse it as JSON: not valid JSON at line 1"),
        j.getMessage());
    assertFalse(j.getMessage().contains(SECRET), j.getMessage());
  }

  /** YAML 1.1 reads an unquoted date as a timestamp: a string key keeps what was written. */
  @Test
  void load_unquotedDate_staysTheTextWritten() throws IOException {
    AgentConfig c =
        load(
            BASE.replace(
                "  url: tcp://localhost:1883\n",
                "  url: tcp://localhost:1883\n  client_id: 2026-01-01\n"),
            Map.of(),
            Map.of());

    assertEquals("2026-01-01", c.mqtt().orElseThrow().clientId());
  }

  @Test
  void load_everyKindOfProblem_isReportedInOneRun() throws IOException {
    String yaml =
        BASE.replace(
                "  url: tcp://localhost:1883\n",
                "  url: tcp://localhost:1883\n  topic: 5\n  colour: x\n")
            .replace("datasets: [tank/data]", "datasets: [tank/data, 7, \"a b\"]\n      port: 0");

    ConfigException e = assertThrows(ConfigException.class, () -> load(yaml, Map.of(), Map.of()));

    assertEquals(5, e.problems().size(), e.getMessage());
    assertEquals(
        Set.of(
            "mqtt.colour: unknown key (expected one of: ca_file, client_id, home_assistant, password_file, topic, url, username)",
            "mqtt.topic: expected a string, got a number",
            "pull.sources[0].datasets[2]: 'a b' has characters that are not allowed here (letters, digits, _ - . : only)",
            "pull.sources[0].port: 0 is out of range 1..65535",
            "pull.sources[0].datasets[1]: expected a string, got a number"),
        Set.copyOf(e.problems()));
  }

  @Test
  void load_pathWithColon_isTakenAsIs() throws IOException {
    AgentConfig c = load(BASE + "state_file: /var/lib/a:b/state.json\n", Map.of(), Map.of());

    assertEquals(Path.of("/var/lib/a:b/state.json"), c.stateFile());
  }

  @Test
  void load_jsonFileWithDuplicateKey_fails() throws IOException {
    Path json = write("agent.json", "{\"pull\": {\"target\": \"a/b\", \"target\": \"c/d\"}}");

    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(json, Map.of(), Map.of()));

    assertTrue(
        e.getMessage().startsWith("cannot parse it as JSON: Duplicate field 'target'"),
        e.getMessage());
  }

  @Test
  void load_emptyFile_reportsMissingPull() throws IOException {
    ConfigException e = assertThrows(ConfigException.class, () -> load("", Map.of(), Map.of()));

    assertEquals("pull: missing (required)", e.getMessage());
  }
}
