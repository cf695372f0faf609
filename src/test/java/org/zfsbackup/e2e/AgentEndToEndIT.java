package org.zfsbackup.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.MosquittoBroker;
import org.zfsbackup.testing.Prerequisites;
import org.zfsbackup.testing.SshServer;
import org.zfsbackup.testing.ZfsPools;
import org.zfsbackup.testing.ZfsSshHosts;

/**
 * End to end, as a user drives it: the built jar ({@code target/zfs-backup-agent.jar agent}) in its
 * own JVM, a real Mosquitto, real zfs-fuse pools pulled over a real sshd and pushed "offsite" over
 * ssh again, commands sent with {@code mosquitto_pub} and everything observed with {@code
 * mosquitto_sub}. The power command writes a marker file.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentEndToEndIT {
  static final String T = "servers/host-backups";
  static final ObjectMapper JSON = new ObjectMapper();

  ZfsSshHosts hosts;
  ZfsPools pools;
  SshServer ssh;
  MosquittoBroker broker;
  Path dir;
  Process agent;
  Sub sub;
  String src;
  String bak;
  String off;

  /** A {@code mosquitto_sub -v} on every topic below T, its lines collected. */
  static final class Sub implements AutoCloseable {
    final Process process;
    final List<String[]> lines = new ArrayList<>();

    Sub(int port) throws IOException {
      process =
          new ProcessBuilder(
                  "mosquitto_sub",
                  "-h",
                  "127.0.0.1",
                  "-p",
                  String.valueOf(port),
                  "-v",
                  "-q",
                  "1",
                  "-t",
                  T + "/#")
              .start();
      Thread t =
          new Thread(
              () -> {
                try (BufferedReader r =
                    new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                  String line;
                  while ((line = r.readLine()) != null) {
                    int sp = line.indexOf(' ');
                    synchronized (this) {
                      lines.add(
                          sp < 0
                              ? new String[] {line, ""}
                              : new String[] {line.substring(0, sp), line.substring(sp + 1)});
                      notifyAll();
                    }
                  }
                } catch (IOException e) {
                  // closed
                }
              });
      t.setDaemon(true);
      t.start();
    }

    synchronized int mark() {
      return lines.size();
    }

    /**
     * Waits for a message on {@code topic} (after {@code from}) whose payload matches; returns its
     * payload.
     */
    synchronized String await(int from, String topic, Predicate<String> match, Duration timeout)
        throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      int i = from;
      while (true) {
        for (; i < lines.size(); i++) {
          if (lines.get(i)[0].equals(topic) && match.test(lines.get(i)[1])) {
            return lines.get(i)[1];
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError(
              "no message on " + topic + " in " + timeout + "; saw: " + since(from));
        }
        wait(Math.max(1, left / 1_000_000));
      }
    }

    synchronized List<String> since(int from, String topic) {
      return lines.subList(from, lines.size()).stream()
          .filter(l -> l[0].equals(topic))
          .map(l -> l[1])
          .toList();
    }

    synchronized String since(int from) {
      StringBuilder sb = new StringBuilder();
      lines
          .subList(from, lines.size())
          .forEach(l -> sb.append('\n').append(l[0]).append(' ').append(l[1]));
      return sb.toString();
    }

    @Override
    public void close() {
      process.destroy();
    }
  }

  static JsonNode json(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + s, e);
    }
  }

  static Predicate<String> field(String name, String value) {
    return s -> s.startsWith("{") && value.equals(json(s).path(name).asText(null));
  }

  /** mosquitto_sub prints nothing when its subscription is in place: ping until it sees one. */
  void awaitSubscribed() throws InterruptedException {
    String ready = T + "/test/ready";
    for (int attempt = 1; ; attempt++) {
      int mark = sub.mark();
      pubTo(ready, "-m", "ping");
      try {
        sub.await(mark, ready, "ping"::equals, Duration.ofSeconds(1));
        return;
      } catch (AssertionError notYet) {
        if (attempt == 20) {
          throw notYet;
        }
      }
    }
  }

  /** Publishes to {@link #T}. */
  void pub(String... args) {
    pubTo(T, args);
  }

  /**
   * Publishes to {@code topic} (a name of its own: as an overload of {@code pub(String...)} it
   * would take every {@code pub("-m", ...)} call's first argument for the topic).
   */
  void pubTo(String topic, String... args) {
    List<String> argv =
        new ArrayList<>(
            List.of(
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                String.valueOf(broker.port()),
                "-q",
                "1",
                "-t",
                topic));
    argv.addAll(List.of(args));
    Cmd.Result r = Cmd.run(argv, 30);
    assertEquals(0, r.code(), "mosquitto_pub failed: " + r.err());
  }

  @BeforeAll
  void setUp() throws Exception {
    Prerequisites.requireProgram("mosquitto_pub");
    Prerequisites.requireProgram("mosquitto_sub");
    dir = Files.createTempDirectory("zba-e2e");
    Path config = dir.resolve("agent.yaml");
    ProcessBuilder agentCommand = BuiltJar.command("agent", "--config", config.toString());
    hosts = ZfsSshHosts.overSsh("e");
    pools = hosts.pools;
    ssh = hosts.ssh;
    broker = MosquittoBroker.start();
    src = hosts.src;
    bak = hosts.bak;
    off = hosts.off;
    ZfsPools.dataset(src + "/tank/data");
    ZfsPools.dataset(src + "/tank/big");
    ZfsPools.dataset(src + "/fast/small");
    pools.snapshotWithData(src + "/tank/data", "a", 100_000);
    pools.snapshotWithData(src + "/fast/small", "a", 10_000);
    ZfsPools.zfs("create", "-o", "canmount=off", bak + "/backups");
    ZfsPools.zfs("create", "-o", "canmount=off", off + "/offsite");
    String sshArgv = String.join(", ", ssh.sshCommand());
    Files.writeString(
        config,
        String.join(
            "\n",
            "mqtt:",
            "  url: " + broker.url(),
            "  client_id: e2e-agent",
            "  topic: " + T,
            "commands:",
            "  ssh: [" + sshArgv + "]",
            "pull:",
            "  target: " + bak + "/backups",
            "  receive_options: []   # zfs-fuse has no receive -u",
            "  sources:",
            "    - name: host-storage",
            "      host: 127.0.0.1",
            "      user: root",
            "      port: " + ssh.port,
            "      datasets: [" + src + "/tank, " + src + "/fast/small]",
            "push:",
            "  host: 127.0.0.1",
            "  user: root",
            "  port: " + ssh.port,
            "  target: " + off + "/offsite",
            "  raw: false            # zfs-fuse has no raw sends",
            "  receive_options: []",
            "power:",
            // Counts its runs: one line per run (a marker file cannot tell one run from two).
            "  command: [sh, -c, 'echo run >> \"$0\"', " + dir.resolve("power-runs") + "]",
            // It returns at once, as systemctl does, and this machine does not go down: the agent's
            // real clock pair (/proc/uptime) sees no sleep, so it comes back after settle_s.
            "  settle_s: 3",
            "state_file: " + dir.resolve("state.json"),
            ""));
    sub = new Sub(broker.port());
    awaitSubscribed();
    // A run left retained on the topic while the server slept: the agent must reject it when it
    // subscribes, not start a backup on every connect. (A retained publish that reaches an agent
    // already subscribed arrives with the retain flag cleared, MQTT 3.1.1 section 3.3.1.3, and
    // cannot be told apart from a plain one; see docs/mqtt.md.)
    pub("-r", "-m", "run");
    agent =
        agentCommand
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("agent.log").toFile())
            .start();
    sub.await(0, T + "/availability", "online"::equals, Duration.ofSeconds(60));
    sub.await(0, T + "/error", field("kind", "command_retained"), Duration.ofSeconds(15));
    pub("-r", "-n"); // clear it (an empty payload is ignored by the agent)
    // The agent handles commands in order: its reply to a status comes after whatever the retained
    // run (and the empty payload) made it do, so a started event would be in the stream by then.
    int asked = sub.mark();
    pub("-m", "status");
    sub.await(asked, T + "/state", field("state", "idle"), Duration.ofSeconds(15));
    assertTrue(
        sub.since(0, T + "/event").isEmpty(), "the retained run started nothing: " + sub.since(0));
    assertTrue(
        sub.since(asked, T + "/error").isEmpty(), "clearing it is no error: " + sub.since(0));
  }

  @AfterAll
  void tearDown() throws Exception {
    if (agent != null) {
      agent.destroy();
      agent.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
      agent.destroyForcibly();
      System.out.println("agent log:\n" + Files.readString(dir.resolve("agent.log")));
    }
    if (sub != null) {
      sub.close();
    }
    if (broker != null) {
      broker.close();
    }
    if (hosts != null) {
      hosts.close(); // sshd, then the pools
    }
  }

  @Test
  @Order(1)
  void run_replicatesPullAndPushAndPublishesTheEvents() throws Exception {
    int m = sub.mark();
    pub("-m", "run");
    String started =
        sub.await(m, T + "/event", field("event_type", "started"), Duration.ofSeconds(30));
    String cycle = json(started).get("cycle_id").asText();
    String end =
        sub.await(
            m,
            T + "/event",
            s -> !json(s).get("event_type").asText().equals("started"),
            Duration.ofSeconds(180));
    assertEquals("success", json(end).get("event_type").asText(), sub.since(m));
    JsonNode result =
        json(sub.await(m, T + "/result", field("cycle_id", cycle), Duration.ofSeconds(10)));
    assertEquals("success", result.get("outcome").asText());
    assertTrue(result.get("datasets").get("sent").asInt() >= 4, result.toString());
    assertFalse(result.get("last_success_at").isNull());
    // Progress for a pulled dataset: started then done, with its bytes.
    List<JsonNode> progress =
        sub.since(m, T + "/progress").stream().map(AgentEndToEndIT::json).toList();
    assertTrue(
        progress.stream()
            .anyMatch(
                p ->
                    p.get("dataset").asText().equals(src + "/tank/data")
                        && p.get("status").asText().equals("started")));
    assertTrue(
        progress.stream()
            .anyMatch(
                p ->
                    p.get("dataset").asText().equals(src + "/tank/data")
                        && p.get("status").asText().equals("done")
                        && p.get("bytes").asLong() > 100_000));
    // Where it landed: pulled below pull.target/<source>/, pushed offsite without the prefix.
    assertEquals(
        List.of("a"), ZfsPools.snapshots(bak + "/backups/host-storage/" + src + "/tank/data"));
    assertEquals(
        List.of("a"), ZfsPools.snapshots(off + "/offsite/host-storage/" + src + "/tank/data"));
    assertEquals(
        "off", ZfsPools.get("canmount", off + "/offsite/host-storage/" + src + "/tank/data"));
    // state is back to idle
    sub.await(m, T + "/state", field("state", "idle"), Duration.ofSeconds(10));
  }

  @Test
  @Order(2)
  void badPayloads_eachAnErrorEventAndTheAgentStaysUp() throws Exception {
    Path big = dir.resolve("big.txt");
    Files.writeString(big, "run" + " ".repeat(70 * 1024));
    String[][] cases = {
      {"command_unknown_command", "-m", "frobnicate"},
      {"command_malformed_json", "-m", "{\"command\": \"run\""},
      {
        "command_stale",
        "-m",
        "{\"command\": \"run\", \"issued_at\": \"2020-01-01T00:00:00Z\", \"ttl_s\": 60}"
      },
      {
        "command_unconfigured_dataset",
        "-m",
        "{\"command\": \"run\", \"datasets\": [\"host-storage:tank/nope\"]}"
      },
      {"command_too_large", "-f", big.toString()},
    };
    for (String[] c : cases) {
      int m = sub.mark();
      String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
      pub(args);
      String err = sub.await(m, T + "/error", field("kind", c[0]), Duration.ofSeconds(15));
      assertFalse(json(err).get("message").asText().isBlank());
      assertTrue(sub.since(m, T + "/event").isEmpty(), "nothing ran for " + c[0]);
    }
    assertEquals(
        1,
        sub.since(0, T + "/error").stream().filter(field("kind", "command_retained")).count(),
        "retained (set-up)");
    int m = sub.mark();
    pub("-m", "status");
    sub.await(m, T + "/state", field("state", "idle"), Duration.ofSeconds(15));
    assertTrue(agent.isAlive());
  }

  @Test
  @Order(3)
  void suspendMidStream_finishesThatStreamStartsNothingNewThenPowersDown() throws Exception {
    // A large new snapshot on tank/big (sent first: tank is listed before fast) and a new one on
    // fast/small (sent after it, if the cycle went on).
    pools.snapshotWithData(src + "/tank/big", "b1", 48_000_000);
    ZfsPools.snapshot(src + "/fast/small", "b");
    int m = sub.mark();
    pub("-m", "{\"command\": \"run\", \"run_id\": \"e2e-suspend\"}");
    sub.await(
        m,
        T + "/progress",
        s ->
            json(s).get("dataset").asText().equals(src + "/tank/big")
                && json(s).get("status").asText().equals("started"),
        Duration.ofSeconds(60));
    pub("-m", "suspend"); // exactly what suspend-backups.sh sends
    JsonNode done =
        json(
            sub.await(
                m,
                T + "/progress",
                s ->
                    json(s).get("dataset").asText().equals(src + "/tank/big")
                        && !json(s).get("status").asText().matches("started|streaming"),
                Duration.ofSeconds(180)));
    assertEquals("done", done.get("status").asText(), "the stream in flight finished");
    sub.await(m, T + "/event", field("event_type", "suspended"), Duration.ofSeconds(60));
    JsonNode result =
        json(sub.await(m, T + "/result", field("run_id", "e2e-suspend"), Duration.ofSeconds(10)));
    assertEquals("suspended", result.get("outcome").asText());
    sub.await(m, T + "/state", field("state", "suspending"), Duration.ofSeconds(10));
    sub.await(m, T + "/availability", "offline"::equals, Duration.ofSeconds(30));
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (powerRuns() == 0 && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertEquals(1, powerRuns(), "the power command ran");
    // Nothing new started: fast/small's new snapshot was not sent, and the push did not start.
    assertTrue(
        sub.since(m, T + "/progress").stream()
            .map(AgentEndToEndIT::json)
            .noneMatch(
                p ->
                    p.get("dataset").asText().equals(src + "/fast/small")
                        && p.get("status").asText().equals("started")),
        sub.since(m));
    assertTrue(
        sub.since(m, T + "/progress").stream()
            .map(AgentEndToEndIT::json)
            .noneMatch(
                p ->
                    p.get("phase").asText().equals("push")
                        && !p.get("status").asText().equals("skipped")),
        sub.since(m));
    assertEquals(
        List.of("a"), ZfsPools.snapshots(bak + "/backups/host-storage/" + src + "/fast/small"));
    assertEquals(
        List.of("b1"), ZfsPools.snapshots(bak + "/backups/host-storage/" + src + "/tank/big"));
    // The power command returned at once and the machine never went down: after settle_s the
    // agent is back, idle, and says the power-down failed; nothing replays.
    int resumed = sub.mark();
    sub.await(m, T + "/availability", "online"::equals, Duration.ofSeconds(60));
    sub.await(m, T + "/state", field("state", "idle"), Duration.ofSeconds(30));
    JsonNode failed =
        json(sub.await(m, T + "/error", field("kind", "power_failed"), Duration.ofSeconds(30)));
    assertTrue(
        failed.get("message").asText().startsWith("the machine did not power down within 3 s"),
        failed.toString());
    // Instead of a sleep: whatever the agent does on reconnecting (a replayed run or suspend) comes
    // before its reply to a status published now.
    int asked = sub.mark();
    pub("-m", "status");
    sub.await(asked, T + "/state", field("state", "idle"), Duration.ofSeconds(30));
    assertTrue(
        sub.since(resumed, T + "/event").isEmpty(),
        "no cycle replayed after the resume: " + sub.since(resumed));
    assertTrue(
        sub.since(resumed, T + "/availability").stream().noneMatch("offline"::equals),
        sub.since(resumed));
    assertEquals(1, powerRuns(), "the power command ran once");
  }

  int powerRuns() throws IOException {
    Path runs = dir.resolve("power-runs");
    return Files.exists(runs) ? Files.readAllLines(runs).size() : 0;
  }
}
