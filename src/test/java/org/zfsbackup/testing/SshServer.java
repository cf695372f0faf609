package org.zfsbackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A real OpenSSH server on 127.0.0.1, on a free port, with throwaway host and client keys, letting
 * root in by key only. {@link #sshCommand()} is the {@code commands.ssh} argv that reaches it.
 */
public final class SshServer implements AutoCloseable {
  public final int port;
  private final Path dir;
  private final Process process;

  public SshServer() {
    this("ERROR");
  }

  /**
   * @param logLevel sshd's LogLevel; {@code INFO} logs one "Accepted publickey" line per
   *     connection, which {@link #acceptedConnections()} counts
   */
  public SshServer(String logLevel) {
    Prerequisites.require(Prerequisites.root(), "root (the test sshd logs in as root)");
    Path sshd = Prerequisites.requireProgram("sshd");
    Prerequisites.requireProgram("ssh");
    Prerequisites.requireProgram("ssh-keygen");
    try {
      dir = Files.createTempDirectory("zba-sshd");
      Cmd.ok(
          "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.resolve("host_key").toString());
      Cmd.ok("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.resolve("id").toString());
      Files.copy(dir.resolve("id.pub"), dir.resolve("authorized_keys"));
      Files.createDirectories(Path.of("/run/sshd"));
      port = FreePort.find();
      Files.writeString(
          dir.resolve("sshd_config"),
          String.join(
              "\n",
              "Port " + port,
              "ListenAddress 127.0.0.1",
              "HostKey " + dir.resolve("host_key"),
              "PidFile " + dir.resolve("sshd.pid"),
              "AuthorizedKeysFile " + dir.resolve("authorized_keys"),
              "PermitRootLogin prohibit-password",
              "PasswordAuthentication no",
              "KbdInteractiveAuthentication no",
              "UsePAM no",
              "StrictModes no",
              "MaxStartups 100:30:200",
              "MaxSessions 100",
              "LogLevel " + logLevel,
              ""));
      process =
          new ProcessBuilder(
                  sshd.toString(), "-D", "-e", "-f", dir.resolve("sshd_config").toString())
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("sshd.log").toFile())
              .start();
      long deadline = System.currentTimeMillis() + 10_000;
      while (!listening()) {
        if (!process.isAlive() || System.currentTimeMillis() > deadline) {
          throw new AssertionError(
              "sshd did not start: " + Files.readString(dir.resolve("sshd.log")));
        }
        Thread.sleep(50);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private boolean listening() {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The {@code commands.ssh} prefix for this server: batch mode, throwaway key, no known_hosts. */
  public List<String> sshCommand() {
    return List.of(
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-i",
        dir.resolve("id").toString());
  }

  /** Connections this server has accepted so far (its log must be at INFO or more). */
  public long acceptedConnections() {
    try (var lines = Files.lines(dir.resolve("sshd.log"))) {
      return lines.filter(l -> l.contains("Accepted publickey")).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Path dir() {
    return dir;
  }

  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroy);
    process.destroy();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
  }
}
