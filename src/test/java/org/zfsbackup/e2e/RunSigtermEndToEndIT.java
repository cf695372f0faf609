package org.zfsbackup.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.Prerequisites;
import org.zfsbackup.testing.SshServer;

/**
 * Stopped means stopped: SIGTERM to {@code run} mid-stream (systemd stop, a cron job's timeout)
 * kills the streams it started and waits for them, prints the cycle's result ({@code interrupted})
 * and exits non-zero. The built jar in its own JVM, pulling over a real sshd through
 * {@code ssh | pv -L 1m | zfs receive}; only {@code zfs} is the fake of
 * src/test/resources/fake/fake-zfs (its send streams 20 MB of zeros, so the stream lasts about 20 s).
 *
 * <p>Catches: the JVM exiting at once on SIGTERM with its {@code ssh | pv | receive} going on,
 * orphaned (measured before the shutdown hook: the pipeline ran to its end), a shutdown hook that
 * does not wait for the streams, and a run that exits 0 or prints no result when interrupted.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RunSigtermEndToEndIT {
  @TempDir Path dir;
  SshServer ssh;
  Process run;
  final List<ProcessHandle> seen = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    if (run != null && run.isAlive()) {
      run.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    seen.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    if (ssh != null) {
      ssh.close();
    }
  }

  @Test
  void sigtermMidStream_killsEveryStreamProcess_printsInterrupted_exitsNonZero() throws Exception {
    Prerequisites.requireProgram("pv");
    Path jar = Path.of("target/zfs-backup-agent.jar").toAbsolutePath();
    Prerequisites.require(Files.isRegularFile(jar), "the built jar (mvn package before the integration tests)");
    ssh = new SshServer();
    Path fake = Path.of("target/test-classes/fake/fake-zfs").toAbsolutePath();
    Path scenario = Files.createDirectories(dir.resolve("zfs"));
    Files.createDirectories(scenario.resolve("list"));
    Files.writeString(scenario.resolve("list/src_data"),
        String.join("\n", "src/data\tguid\t10", "src/data\tcreatetxg\t10", "src/data\tcanmount\toff",
            "src/data@a\tguid\t4711", "src/data@a\tcreatetxg\t11", ""));
    // A byte count of its own: the fake's send is `head -c BYTES /dev/zero`, found by that argv.
    long bytes = 20_000_000 + ThreadLocalRandom.current().nextInt(1, 99_999);
    String sendMarker = "head -c " + bytes + " /dev/zero";
    Files.writeString(scenario.resolve("bytes"), String.valueOf(bytes));
    Path config = dir.resolve("run.yaml");
    Files.writeString(config, String.join("\n",
        "commands:",
        "  ssh: [" + String.join(", ", ssh.sshCommand()) + "]",
        "  zfs: [bash, " + fake + ", " + scenario + "]",
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
        "state_file: " + dir.resolve("state.json"),
        ""));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path stdout = dir.resolve("run.out");
    Path stderr = dir.resolve("run.err");
    run = new ProcessBuilder(java, "-Xmx256m", "-jar", jar.toString(), "run", "--config", config.toString())
        .redirectOutput(stdout.toFile())
        .redirectError(stderr.toFile())
        .start();

    // Mid-stream: the step started, and the pipeline's three processes run.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!(Files.readString(stdout).contains("... pull h src/data") && streamRunning(sendMarker))) {
      assertTrue(run.isAlive(), "run ended before its stream: " + Files.readString(stdout) + Files.readString(stderr));
      assertTrue(System.nanoTime() < deadline, "no stream started: " + Files.readString(stdout) + Files.readString(stderr));
      Thread.sleep(100);
    }
    Thread.sleep(1500);
    run.descendants().forEach(seen::add);
    ProcessHandle.allProcesses().filter(p -> cmd(p).contains(sendMarker) || cmd(p).contains(scenario.toString()))
        .forEach(seen::add);
    List<String> names = seen.stream().map(RunSigtermEndToEndIT::cmd).toList();
    assertTrue(names.stream().anyMatch(n -> n.startsWith("ssh ") || n.contains("/ssh ")), "ssh seen: " + names);
    assertTrue(names.stream().anyMatch(n -> n.contains("pv ")), "pv seen: " + names);
    assertTrue(names.stream().anyMatch(n -> n.contains(sendMarker)), "the remote send seen: " + names);
    assertTrue(names.stream().anyMatch(n -> n.contains("fake-zfs " + scenario + " receive")), "the receive seen: " + names);

    run.destroy(); // SIGTERM
    assertTrue(run.waitFor(90, TimeUnit.SECONDS), "run ended");
    int exit = run.exitValue();
    String out = Files.readString(stdout) + Files.readString(stderr);
    System.out.println("run output (exit " + exit + "):\n" + out);
    // Everything the run started is gone when it has exited (the remote send ends when its
    // connection does; give sshd a moment to close it).
    long gone = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (seen.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < gone) {
      Thread.sleep(100);
    }
    List<String> alive = seen.stream().filter(ProcessHandle::isAlive).map(p -> p.pid() + " " + cmd(p)).toList();
    assertEquals(List.of(), alive, "processes of the run that outlived it");
    assertEquals(143, exit, "the SIGTERM status: non-zero");
    assertTrue(out.contains("cycle interrupted:"), out);
    assertTrue(out.contains("FAILED: src/data -> bak/h/src/data: full @a killed"), out);
  }

  private static boolean streamRunning(String sendMarker) {
    return ProcessHandle.allProcesses().anyMatch(p -> cmd(p).contains(sendMarker));
  }

  private static String cmd(ProcessHandle p) {
    return p.info().commandLine().orElse("");
  }
}
