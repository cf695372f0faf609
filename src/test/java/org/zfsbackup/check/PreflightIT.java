package org.zfsbackup.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.zfsbackup.testing.Cli;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.FreePort;
import org.zfsbackup.testing.Prerequisites;
import org.zfsbackup.testing.SshServer;
import org.zfsbackup.testing.ZfsPools;

/**
 * {@code java -jar ... check} in-process against real things: a Mosquitto broker with a password
 * file (started by this test on a free port), a real sshd on 127.0.0.1, real zfs-fuse pools, and
 * peers that do not answer: a closed port, and a listening socket that never speaks (the TCP
 * handshake succeeds, then silence: the case a plain connect timeout does not cover).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PreflightIT {
  private static final String USER = "backup";
  private final String password = "it-" + UUID.randomUUID();

  private Path dir;
  private Process mosquitto;
  private int brokerPort;
  private ServerSocket silent;
  private int closedPort;

  @BeforeAll
  void setUp() throws IOException, InterruptedException {
    Path bin = Prerequisites.requireProgram("/usr/sbin/mosquitto");
    Prerequisites.requireProgram("mosquitto_passwd");
    Prerequisites.requireProgram("ssh");
    dir = Files.createTempDirectory("zba-check-it");
    Path passwd = dir.resolve("passwd");
    Cmd.ok("mosquitto_passwd", "-b", "-c", passwd.toString(), USER, password);
    brokerPort = FreePort.find();
    Path conf =
        Files.writeString(
            dir.resolve("mosquitto.conf"),
            String.join(
                "\n",
                "listener " + brokerPort + " 127.0.0.1",
                "allow_anonymous false",
                "password_file " + passwd,
                "persistence false",
                "user root", // as root, Mosquitto would otherwise switch to 'mosquitto' and lose
                // the 0700 temp dir
                ""));
    mosquitto =
        new ProcessBuilder(bin.toString(), "-c", conf.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("mosquitto.log").toFile())
            .start();
    long deadline = System.currentTimeMillis() + 10_000;
    while (!listening(brokerPort)) {
      if (!mosquitto.isAlive() || System.currentTimeMillis() > deadline) {
        throw new AssertionError(
            "mosquitto did not start: " + Files.readString(dir.resolve("mosquitto.log")));
      }
      Thread.sleep(50);
    }
    silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress()); // never accept()ed
    closedPort = FreePort.find();
  }

  @AfterAll
  void tearDown() throws IOException, InterruptedException {
    if (silent != null) {
      silent.close();
    }
    if (mosquitto != null) {
      mosquitto.destroy();
      mosquitto.waitFor();
    }
    if (dir != null) {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static boolean listening(int port) {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  record Run(int exit, String out, String err, long millis) {}

  private Run check(String yaml, Map<String, String> env, String... extra) throws IOException {
    Path file = Files.writeString(dir.resolve("agent-" + UUID.randomUUID() + ".yaml"), yaml);
    String[] args =
        Stream.concat(Stream.of("check", "--config", file.toString()), Stream.of(extra))
            .toArray(String[]::new);
    long start = System.nanoTime();
    Cli cli = Cli.run(env, args);
    long ms = (System.nanoTime() - start) / 1_000_000;
    return new Run(cli.code(), cli.out(), cli.err(), ms);
  }

  private static String flow(List<String> argv) {
    return argv.stream().map(a -> "\"" + a + "\"").collect(Collectors.joining(", ", "[", "]"));
  }

  @Test
  void check_everythingReachable_allOkAndExit0() throws IOException {
    try (ZfsPools pools = new ZfsPools();
        SshServer ssh = new SshServer()) {
      String src = pools.create("zchksrc");
      String bak = pools.create("zchkbak");
      ZfsPools.dataset(src + "/data");
      ZfsPools.dataset(bak + "/backups");
      ZfsPools.dataset(bak + "/offsite");
      String yaml =
          """
          mqtt:
            url: tcp://127.0.0.1:%d
            username: %s
          commands:
            ssh: %s
          pull:
            target: %s/backups
            sources:
              - name: storage
                host: 127.0.0.1
                user: root
                port: %d
                datasets: [%s/data]
              - name: here
                datasets: [%s/data]
          push:
            host: 127.0.0.1
            user: root
            port: %d
            target: %s/offsite
          replication:
            connect_timeout_s: 5
          """
              .formatted(
                  brokerPort, USER, flow(ssh.sshCommand()), bak, ssh.port, src, src, ssh.port, bak);

      Run run = check(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", password));

      assertEquals(0, run.exit(), run.out() + run.err());
      List<String> lines = run.out().lines().toList();
      assertEquals(9, lines.size(), run.out());
      assertTrue(lines.stream().allMatch(l -> l.startsWith("ok   ")), run.out());
      assertEquals(
          "ok   broker tcp://127.0.0.1:" + brokerPort + ": connected as backup", lines.get(1));
      assertEquals(
          "ok   source storage (root@127.0.0.1:" + ssh.port + "): 1 dataset present", lines.get(2));
      assertEquals("ok   byte counter: pv works", lines.get(5));
      assertTrue(
          lines
              .get(6)
              .matches(
                  "ok   offsite root@127\\.0\\.0\\.1:"
                      + ssh.port
                      + " target "
                      + bak
                      + "/offsite: present, [0-9.]+ MiB available"),
          lines.get(6));
      assertTrue(lines.get(7).startsWith("ok   state file: "), run.out());
      // The source and the offsite side are one host: one connection, one line.
      assertEquals(
          "ok   ssh sharing root@127.0.0.1:"
              + ssh.port
              + ": ok, one connection for every command of a cycle",
          lines.get(8));
      assertFalse(run.out().contains(password) || run.err().contains(password));

      Run quiet = check(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", password), "--quiet");
      assertEquals(0, quiet.exit());
      assertEquals("", quiet.out());
    }
  }

  /**
   * Catches a missing target root that `check` does not report (a cycle would fail on it), or a
   * check of only the offsite pool (the push creates nothing at or above push.target).
   */
  @Test
  void check_missingTargetRoots_eachReportedAndNothingCreated() throws IOException {
    try (ZfsPools pools = new ZfsPools()) {
      String src = pools.create("zchksrc");
      String bak = pools.create("zchkbak");
      ZfsPools.dataset(src + "/data");
      String yaml =
          """
          mqtt:
            url: tcp://127.0.0.1:%d
            username: %s
          commands:
            pv: []
          pull:
            target: %s/typo
            sources:
              - name: here
                datasets: [%s/data]
          push:
            target: %s/offsite
          """
              .formatted(brokerPort, USER, bak, src, bak);

      Run run = check(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", password));

      assertEquals(1, run.exit(), run.out() + run.err());
      assertTrue(
          run.out()
              .contains(
                  "FAIL backup root "
                      + bak
                      + "/typo: does not exist: a cycle would"
                      + " create nothing and send nothing there. Create it (with the encryption you want),"
                      + " import its pool, or correct pull.target"),
          run.out());
      assertTrue(
          run.out().contains("FAIL offsite local target " + bak + "/offsite: does not exist"),
          run.out());
      assertEquals(List.of(bak), ZfsPools.datasets(bak), "check creates nothing");
    }
  }

  @Test
  void check_wrongPasswordAndHostsThatDoNotAnswer_eachFailsWithinBound() throws IOException {
    String yaml =
        """
        mqtt:
          url: tcp://127.0.0.1:%d
          username: %s
        commands:
          ssh: [ssh, -o, BatchMode=yes, -o, StrictHostKeyChecking=no, -o, UserKnownHostsFile=/dev/null]
        pull:
          target: zchknopool/backups
          sources:
            - name: silent
              host: 127.0.0.1
              port: %d
              datasets: [tank/data]
        push:
          host: 127.0.0.1
          port: %d
          target: offsitepool/backups
        replication:
          connect_timeout_s: 1
        """
            .formatted(brokerPort, USER, silent.getLocalPort(), closedPort);

    Run run = check(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", "wrong-" + password));

    assertEquals(1, run.exit(), run.out());
    List<String> lines = run.out().lines().toList();
    assertEquals(9, lines.size(), run.out());
    assertTrue(lines.get(0).startsWith("ok   config"), run.out());
    assertTrue(
        lines
            .get(1)
            .startsWith("FAIL broker tcp://127.0.0.1:" + brokerPort + ": credentials refused"),
        run.out());
    assertTrue(
        lines
            .get(2)
            .startsWith(
                "FAIL source silent (127.0.0.1:" + silent.getLocalPort() + "): ssh failed: "),
        run.out());
    assertTrue(lines.get(3).startsWith("FAIL backup root zchknopool/backups: "), run.out());
    assertTrue(lines.get(4).startsWith("ok   byte counter"), run.out());
    assertTrue(
        lines
            .get(5)
            .startsWith(
                "FAIL offsite 127.0.0.1:"
                    + closedPort
                    + " target offsitepool/backups: ssh failed: "),
        run.out());
    assertTrue(lines.get(5).contains("Connection refused"), run.out());
    assertTrue(lines.get(6).startsWith("ok   state file: "), run.out());
    // Hosts that do not answer: their sharing is not tried, and does not fail the check twice.
    assertEquals(
        "warn ssh sharing 127.0.0.1:"
            + silent.getLocalPort()
            + ": not tried, ssh to this host failed",
        lines.get(7));
    assertEquals(
        "warn ssh sharing 127.0.0.1:" + closedPort + ": not tried, ssh to this host failed",
        lines.get(8));
    assertFalse(run.out().contains(password), run.out());
    // Parallel, each bounded by connect_timeout_s (1 s) plus the margin: far below the sum.
    assertTrue(
        run.millis() < 1000 * (1 + Preflight.MARGIN.toSeconds()) + 2000,
        "took " + run.millis() + " ms");

    Run quiet =
        check(yaml, Map.of("ZFS_BACKUP_AGENT_MQTT_PASSWORD", "wrong-" + password), "--quiet");
    assertEquals(1, quiet.exit());
    assertEquals(4, quiet.out().lines().count(), quiet.out());
    assertTrue(quiet.out().lines().allMatch(l -> l.startsWith("FAIL ")), quiet.out());
    assertFalse(run.out().contains("no password was given"), run.out());

    // No password at all (it is in the unit's environment file, which check does not read).
    Run none = check(yaml, Map.of(), "--quiet");
    assertTrue(
        none.out()
            .lines()
            .anyMatch(
                l -> l.contains("credentials refused") && l.contains("no password was given")),
        none.out());
  }

  @Test
  void check_brokerThatNeverAnswers_failsWithinBound() throws IOException {
    String yaml =
        """
        mqtt:
          url: tcp://127.0.0.1:%d
        pull:
          target: zchknopool/backups
          sources:
            - name: here
              datasets: [tank/data]
        replication:
          connect_timeout_s: 1
        """
            .formatted(silent.getLocalPort());

    Run run = check(yaml, Map.of());

    assertEquals(1, run.exit(), run.out());
    String broker = run.out().lines().filter(l -> l.contains("broker")).findFirst().orElseThrow();
    assertTrue(
        broker.startsWith("FAIL broker tcp://127.0.0.1:" + silent.getLocalPort() + ": "),
        run.out());
    assertTrue(
        run.millis() < 1000 * (1 + Preflight.MARGIN.toSeconds()) + 2000,
        "took " + run.millis() + " ms");
  }

  /**
   * A broker that refuses retained messages (Mosquitto's retain_available false) closes the agent's
   * connection at every CONNECT, for its retained will: check fails it too, saying why. Catches a
   * probe without a will, which said "ok" for a broker the agent can never use (sweep 10).
   */
  @Test
  void check_brokerRefusingRetainedMessages_failsSayingWhy() throws IOException {
    try (org.zfsbackup.testing.MosquittoBroker noRetain =
        org.zfsbackup.testing.MosquittoBroker.builder().line("retain_available false").start()) {
      String yaml =
          """
          mqtt:
            url: %s
          pull:
            target: zchknopool/backups
            sources:
              - name: here
                datasets: [tank/data]
          """
              .formatted(noRetain.url());
      Run run = check(yaml, Map.of());
      String broker = run.out().lines().filter(l -> l.contains("broker")).findFirst().orElseThrow();
      assertTrue(broker.startsWith("FAIL broker"), run.out());
      assertTrue(broker.contains("retain_available false"), broker);
    }
  }

  @Test
  void check_brokerPortClosed_saysCannotConnect() throws IOException {
    String yaml =
        """
        mqtt:
          url: tcp://127.0.0.1:%d
        pull:
          target: zchknopool/backups
          sources:
            - name: here
              datasets: [tank/data]
        replication:
          connect_timeout_s: 1
        """
            .formatted(closedPort);

    Run run = check(yaml, Map.of());

    String broker = run.out().lines().filter(l -> l.contains("broker")).findFirst().orElseThrow();
    assertTrue(broker.contains("Connection refused"), run.out());
  }
}
