package org.zfsbackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Mosquitto broker for integration tests: its own process on a free port on 127.0.0.1, no
 * persistence (a kill or restart loses every retained message, like a broker that lost its
 * database), its log in a file. Needs {@code mosquitto} on PATH ({@link
 * Prerequisites#requireProgram}: skipped locally, a failure under {@code CI=true}).
 *
 * <pre>{@code
 * try (MosquittoBroker broker = MosquittoBroker.start()) {
 *   agentConfig.url(broker.url());   // tcp://127.0.0.1:<port>
 *   broker.kill();                   // SIGKILL, mid-cycle
 *   broker.restart();                // same port, empty
 * }
 * }</pre>
 *
 * <p>{@link #builder()} adds TLS, a password file, and the dynamic-security plugin (whose ACLs,
 * unlike an {@code acl_file}'s, can refuse a subscription). Every wait is bounded.
 */
public final class MosquittoBroker implements AutoCloseable {
  private static final long START_TIMEOUT_MS = 10_000;

  private final Path program;
  private final Path dir;
  private final Path conf;
  private final Path log;
  private final int port;
  private final boolean tls;
  private Process process;

  private MosquittoBroker(Path program, Path dir, int port, boolean tls, List<String> lines)
      throws IOException {
    this.program = program;
    this.dir = dir;
    this.port = port;
    this.tls = tls;
    this.conf = dir.resolve("mosquitto.conf");
    this.log = dir.resolve("mosquitto.log");
    Files.write(conf, lines, StandardCharsets.UTF_8);
  }

  /** A plain broker: anonymous clients, {@code tcp://}. */
  public static MosquittoBroker start() {
    return builder().start();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Options before {@link #start()}. */
  public static final class Builder {
    private Path passwordFile;
    private Path certFile;
    private Path keyFile;
    private String dynamicSecurity;
    private final List<String> extra = new ArrayList<>();

    /** One more line of mosquitto.conf(5), such as {@code max_packet_size 512}. */
    public Builder line(String line) {
      extra.add(line);
      return this;
    }

    /**
     * Mosquitto's dynamic-security plugin with this configuration (its JSON). Unlike {@code
     * acl_file}, which grants every subscription and drops at delivery what a client may not read,
     * its {@code subscribeLiteral}/{@code subscribePattern} ACLs refuse a subscription in the
     * SUBACK (return code 0x80). Anonymous clients get the roles of its {@code anonymousGroup}.
     */
    public Builder dynamicSecurity(String json) {
      this.dynamicSecurity = json;
      return this;
    }

    /** Only clients with a user and password from this {@code mosquitto_passwd} file. */
    public Builder passwordFile(Path file) {
      this.passwordFile = file;
      return this;
    }

    /** TLS on the listener ({@code ssl://}) with this server certificate and key (PEM). */
    public Builder tls(Path certFile, Path keyFile) {
      this.certFile = certFile;
      this.keyFile = keyFile;
      return this;
    }

    public MosquittoBroker start() {
      Path program = Prerequisites.requireProgram("mosquitto");
      try {
        Path dir = Files.createTempDirectory("mosquitto-");
        int port = FreePort.find();
        List<String> lines = new ArrayList<>();
        lines.add("listener " + port + " 127.0.0.1");
        if (certFile != null) {
          lines.add("certfile " + certFile.toAbsolutePath());
          lines.add("keyfile " + keyFile.toAbsolutePath());
        }
        lines.add("persistence false");
        lines.addAll(extra);
        if (dynamicSecurity != null) {
          Path plugin =
              Stream.of(
                      "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
                      "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
                      "/usr/lib/mosquitto_dynamic_security.so",
                      "/usr/lib64/mosquitto_dynamic_security.so")
                  .map(Path::of)
                  .filter(Files::exists)
                  .findFirst()
                  .orElse(null);
          Prerequisites.require(plugin != null, "mosquitto's dynamic-security plugin");
          Path json = dir.resolve("dynamic-security.json");
          Files.writeString(json, dynamicSecurity, StandardCharsets.UTF_8);
          lines.add("plugin " + plugin);
          lines.add("plugin_opt_config_file " + json);
        }
        if (passwordFile != null) {
          lines.add("allow_anonymous false");
          lines.add("password_file " + passwordFile.toAbsolutePath());
        } else {
          lines.add("allow_anonymous true");
        }
        if ("root".equals(System.getProperty("user.name"))) {
          lines.add("user root"); // else it drops to 'mosquitto', which cannot read our temp files
        }
        lines.add("log_dest file " + dir.resolve("mosquitto.log"));
        lines.add("log_type all");
        lines.add("log_timestamp_format %H:%M:%S");
        MosquittoBroker broker = new MosquittoBroker(program, dir, port, certFile != null, lines);
        broker.launch();
        return broker;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private void launch() {
    try {
      process =
          new ProcessBuilder(program.toString(), "-c", conf.toString())
              .redirectErrorStream(true)
              .redirectOutput(
                  ProcessBuilder.Redirect.appendTo(dir.resolve("mosquitto.out").toFile()))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
    while (System.currentTimeMillis() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "mosquitto exited with "
                + process.exitValue()
                + ":\n"
                + logText()
                + read(dir.resolve("mosquitto.out")));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        sleep(50);
      }
    }
    process.destroyForcibly();
    throw new IllegalStateException(
        "mosquitto did not listen on " + port + " within 10 s:\n" + logText());
  }

  public int port() {
    return port;
  }

  /** {@code tcp://127.0.0.1:<port>}, or {@code ssl://} with TLS. */
  public String url() {
    return (tls ? "ssl" : "tcp") + "://127.0.0.1:" + port;
  }

  public boolean running() {
    return process != null && process.isAlive();
  }

  /** SIGKILL: clients see the connection drop; retained messages are gone. */
  public void kill() {
    if (running()) {
      process.destroyForcibly();
      waitFor();
    }
  }

  /** SIGSTOP: the broker hangs, its connections open (an overloaded or frozen host). */
  public void pause() {
    signal("-STOP");
  }

  /** SIGCONT after {@link #pause}. */
  public void resume() {
    signal("-CONT");
  }

  private void signal(String signal) {
    try {
      new ProcessBuilder("kill", signal, Long.toString(process.pid())).start().waitFor();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** SIGTERM, a clean broker shutdown. */
  public void stop() {
    if (running()) {
      process.destroy();
      waitFor();
    }
  }

  /** Starts again on the same port (after {@link #kill()} or {@link #stop()}), with no state. */
  public void restart() {
    kill();
    launch();
  }

  /** The broker's log so far (connects, disconnects, subscriptions, publishes). */
  public String logText() {
    return read(log);
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return "(" + file + " unreadable: " + e.getMessage() + ")";
    }
  }

  /**
   * True when the broker logged a clean DISCONNECT from {@code clientId} (not a dropped socket).
   */
  public boolean loggedCleanDisconnect(String clientId) {
    return logText().contains("Client " + clientId + " disconnected.");
  }

  /**
   * Waits (up to {@code timeout}) until the broker logged a clean DISCONNECT from {@code clientId};
   * after that the broker has handled everything that client sent. False when it never came.
   */
  public boolean awaitCleanDisconnect(String clientId, java.time.Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!loggedCleanDisconnect(clientId)) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      sleep(20);
    }
    return true;
  }

  @Override
  public void close() {
    kill();
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // A temp dir left behind is harmless.
    }
  }

  private void waitFor() {
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
