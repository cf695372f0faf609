package org.zfsbackup.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.FakeZfs;
import org.zfsbackup.testing.MosquittoBroker;
import org.zfsbackup.testing.MqttProbe;
import org.zfsbackup.testing.MqttProbe.Message;
import org.zfsbackup.testing.Prerequisites;
import org.zfsbackup.testing.SshServer;

/**
 * Stopped means stopped: SIGTERM to {@code run} or to the agent mid-stream (systemd stop, a cron
 * job's timeout) kills the streams it started and waits for them, reports the cycle's result
 * ({@code interrupted}: printed by {@code run}, which exits non-zero; published by the agent before
 * {@code offline}). The built jar in its own JVM, pulling over a real sshd through {@code ssh | pv
 * -L 1m | zfs receive}; only {@code zfs} is the fake of src/test/resources/fake/fake-zfs (its send
 * streams 20 MB of zeros, so the stream lasts about 20 s).
 *
 * <p>Catches: the JVM exiting at once on SIGTERM with its {@code ssh | pv | receive} going on,
 * orphaned (measured before the shutdown hook: the pipeline ran to its end; checked again by
 * removing the hook), a shutdown that does not wait for the streams, and a stop that reports
 * nothing, or success, or exits 0.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RunSigtermEndToEndIT {
  static final String T = "servers/e2e-sigterm";
  @TempDir Path dir;
  SshServer ssh;
  MosquittoBroker broker;
  MqttProbe probe;
  Process jvm;
  Path scenario;
  String sendMarker;
  final List<ProcessHandle> seen = new ArrayList<>();
  final List<ProcessHandle> remote = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    if (jvm != null && jvm.isAlive()) {
      jvm.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    seen.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    remote.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    if (probe != null) {
      probe.close();
    }
    if (broker != null) {
      broker.close();
    }
    if (ssh != null) {
      ssh.close();
    }
  }

  /** The config's commands and pull sections: a 20 MB stream over ssh, throttled by pv. */
  List<String> scenario() throws Exception {
    Prerequisites.requireProgram("pv");
    ssh = new SshServer();
    scenario = Files.createDirectories(dir.resolve("zfs"));
    FakeZfs.list(scenario, "src/data", FakeZfs.ds("src/data", 10, "a"));
    // The pull target root exists: the agent never creates it.
    FakeZfs.list(scenario, "bak", FakeZfs.ds("bak", 1));
    // A byte count of its own: the fake's send is `head -c BYTES /dev/zero`, found by that argv.
    long bytes = 20_000_000 + ThreadLocalRandom.current().nextInt(1, 99_999);
    sendMarker = "head -c " + bytes + " /dev/zero";
    Files.writeString(scenario.resolve("bytes"), String.valueOf(bytes));
    return List.of(
        "commands:",
        "  ssh: [" + String.join(", ", ssh.sshCommand()) + "]",
        "  zfs: [bash, " + FakeZfs.path() + ", " + scenario + "]",
        "  pv: [pv, -L, 1m]   # about 20 s for the stream; ssh buffers about 2 MB of it",
        "pull:",
        "  target: bak",
        "  receive_options: []",
        "  sources:",
        "    - name: h",
        "      host: 127.0.0.1",
        "      user: root",
        "      port: " + ssh.port,
        "      datasets: [src/data]",
        "state_file: " + dir.resolve("state.json"));
  }

  Process start(String command, List<String> configLines) throws Exception {
    Path config = dir.resolve("config.yaml");
    ProcessBuilder pb = BuiltJar.command(command, "--config", config.toString());
    Files.writeString(config, String.join("\n", configLines) + "\n");
    return pb.redirectOutput(dir.resolve("out").toFile())
        .redirectError(dir.resolve("err").toFile())
        .start();
  }

  String output() throws Exception {
    return Files.readString(dir.resolve("out")) + Files.readString(dir.resolve("err"));
  }

  /** Waits until the stream runs, then records every process of it (local and ssh's remote). */
  void awaitStreamThenRecordItsProcesses() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (ProcessHandle.allProcesses().noneMatch(p -> cmd(p).contains(sendMarker))) {
      assertTrue(jvm.isAlive(), "ended before its stream: " + output());
      assertTrue(System.nanoTime() < deadline, "no stream started: " + output());
      Thread.sleep(100);
    }
    Thread.sleep(1500);
    jvm.descendants().forEach(seen::add);
    ProcessHandle.allProcesses()
        .filter(p -> cmd(p).contains(sendMarker) || cmd(p).contains(scenario.toString()))
        .forEach(seen::add);
    List<String> names = seen.stream().map(RunSigtermEndToEndIT::cmd).toList();
    assertTrue(
        names.stream().anyMatch(n -> n.startsWith("ssh ") || n.contains("/ssh ")),
        "ssh seen: " + names);
    assertTrue(names.stream().anyMatch(n -> n.contains("pv ")), "pv seen: " + names);
    assertTrue(
        names.stream().anyMatch(n -> n.contains(sendMarker)), "the remote send seen: " + names);
    assertTrue(
        names.stream().anyMatch(n -> n.contains("fake-zfs " + scenario + " receive")),
        "the receive seen: " + names);
  }

  /** Every process of the stream is gone (the remote send ends with its connection: a moment). */
  void assertNoneSurvived() throws Exception {
    long gone = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (seen.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < gone) {
      Thread.sleep(100);
    }
    List<String> alive =
        seen.stream().filter(ProcessHandle::isAlive).map(p -> p.pid() + " " + cmd(p)).toList();
    assertEquals(List.of(), alive, "processes of the stream that outlived the JVM");
  }

  @Test
  void run_sigtermMidStream_killsEveryStreamProcess_printsInterrupted_exitsNonZero()
      throws Exception {
    jvm = start("run", scenario());
    awaitStreamThenRecordItsProcesses();

    jvm.destroy(); // SIGTERM
    assertTrue(jvm.waitFor(90, TimeUnit.SECONDS), "run ended");
    int exit = jvm.exitValue();
    String out = output();
    System.out.println("run output (exit " + exit + "):\n" + out);
    assertNoneSurvived();
    assertEquals(143, exit, "the SIGTERM status: non-zero");
    assertTrue(out.contains("cycle interrupted:"), out);
    assertTrue(out.contains("FAILED: src/data -> bak/h/src/data: full @a killed"), out);
  }

  /**
   * SIGTERM to the whole process group, as Ctrl-C (SIGINT), {@code timeout} and a systemd unit
   * without {@code KillMode=mixed} send it: the stream's processes die of the signal at the same
   * moment as the JVM, before it records the stop. Catches that reported as {@code send_failed} or
   * {@code host_unreachable} (their exit codes look like any failure) instead of interrupted.
   */
  @Test
  void run_sigtermToTheProcessGroupMidStream_isInterruptedNotAFailure() throws Exception {
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, String.join("\n", scenario()) + "\n");
    List<String> argv = new ArrayList<>(List.of("setsid"));
    argv.addAll(BuiltJar.command("run", "--config", config.toString()).command());
    jvm =
        new ProcessBuilder(argv)
            .redirectOutput(dir.resolve("out").toFile())
            .redirectError(dir.resolve("err").toFile())
            .start();
    awaitStreamThenRecordItsProcesses();

    Cmd.ok("kill", "-TERM", "--", "-" + jvm.pid()); // the group setsid made, JVM included
    assertTrue(jvm.waitFor(90, TimeUnit.SECONDS), "run ended");
    String out = output();
    System.out.println("run output (exit " + jvm.exitValue() + "):\n" + out);
    assertNoneSurvived();
    assertTrue(out.contains("cycle interrupted:"), out);
    assertTrue(out.contains("(interrupted)"), out);
    assertFalse(out.contains("(send_failed)") || out.contains("(host_unreachable)"), out);
  }

  /**
   * A short command is ended too: SIGTERM while the listing of a host hangs (its ssh would
   * otherwise run to the command timeout, 135 s here, after the JVM is gone). Catches a forced stop
   * that ends streams only.
   */
  @Test
  void run_sigtermDuringAHangingListing_endsItsSshAtOnce() throws Exception {
    List<String> config = scenario();
    Files.createFile(scenario.resolve("list-hang"));
    jvm = start("run", config);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    // Until the remote side hangs: sshd's bash running the fake, with its sleep.
    while (ProcessHandle.allProcesses()
        .noneMatch(
            p ->
                p.info().command().orElse("").endsWith("bash")
                    && cmd(p).contains("fake-zfs " + scenario + " get")
                    && p.children().findAny().isPresent())) {
      assertTrue(jvm.isAlive() && System.nanoTime() < deadline, "no listing started: " + output());
      Thread.sleep(100);
    }
    jvm.descendants().forEach(seen::add);
    // The remote side (sshd's child) is cleaned up by tearDown, not by the agent: without a
    // terminal, sshd does not end a remote command when its connection closes.
    ProcessHandle.allProcesses()
        .filter(p -> cmd(p).contains(scenario.toString()))
        .forEach(
            p -> {
              seen.add(p);
              p.descendants().forEach(remote::add);
            });
    long t0 = System.nanoTime();
    jvm.destroy(); // SIGTERM
    assertTrue(jvm.waitFor(90, TimeUnit.SECONDS), "run ended");
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
    String out = output();
    System.out.println("run output (exit " + jvm.exitValue() + ", " + seconds + " s):\n" + out);
    assertTrue(seconds < 20, "ended at once, not at the command timeout: " + seconds + " s");
    List<String> alive = jvm.descendants().map(p -> p.pid() + " " + cmd(p)).toList();
    assertEquals(List.of(), alive);
    List<String> localSsh =
        seen.stream()
            .filter(ProcessHandle::isAlive)
            .map(RunSigtermEndToEndIT::cmd)
            .filter(c -> c.startsWith("ssh ") || c.contains("/ssh "))
            .toList();
    assertEquals(List.of(), localSsh, "the listing's ssh outlived the run");
    assertEquals(143, jvm.exitValue());
    assertTrue(out.contains("cycle interrupted:"), out);
    // The stop killed the listing: not blamed on the host (whose ssh then exits 255).
    assertTrue(out.contains("killed by a forced stop"), out);
    assertFalse(out.contains("host_unreachable"), out);
  }

  @Test
  void agent_sigtermMidStream_killsEveryStreamProcess_publishesInterruptedThenOffline()
      throws Exception {
    List<String> config = new ArrayList<>(scenario());
    broker = MosquittoBroker.start();
    config.addAll(
        List.of(
            "mqtt:",
            "  url: " + broker.url(),
            "  client_id: e2e-sigterm-agent",
            "  topic: " + T,
            "  home_assistant:",
            "    enabled: false",
            "power:",
            "  command: []"));
    probe = MqttProbe.connect(broker.url()).subscribe(T + "/+");
    jvm = start("agent", config);
    probe.await(T + "/availability", "online", Duration.ofSeconds(60));
    probe.publish(T, "run", false);
    awaitStreamThenRecordItsProcesses();

    jvm.destroy(); // SIGTERM
    assertTrue(jvm.waitFor(90, TimeUnit.SECONDS), "the agent ended");
    System.out.println("agent output (exit " + jvm.exitValue() + "):\n" + output());
    assertNoneSurvived();
    Message result = probe.await(T + "/result", m -> true, Duration.ofSeconds(10));
    assertTrue(result.text().contains("\"outcome\":\"interrupted\""), result.text());
    Message offline = probe.await(T + "/availability", "offline", Duration.ofSeconds(10));
    assertTrue(
        probe.messages().indexOf(result) < probe.messages().indexOf(offline),
        "the result before offline");
  }

  private static String cmd(ProcessHandle p) {
    return p.info().commandLine().orElse("");
  }
}
