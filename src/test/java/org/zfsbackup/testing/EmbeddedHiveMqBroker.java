package org.zfsbackup.testing;

import com.hivemq.embedded.EmbeddedHiveMQ;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * HiveMQ CE embedded in the test JVM, on a free port on 127.0.0.1. It needs its config, data and
 * extensions folders to exist before {@code start()}; it starts in about 2 s and stops in about 4
 * s, so share one per test class ({@code @BeforeAll}).
 */
public final class EmbeddedHiveMqBroker implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final EmbeddedHiveMQ hivemq;

  private EmbeddedHiveMqBroker(Path dir, int port, EmbeddedHiveMQ hivemq) {
    this.dir = dir;
    this.port = port;
    this.hivemq = hivemq;
  }

  public static EmbeddedHiveMqBroker start() {
    try {
      Path dir = Files.createTempDirectory("hivemq-");
      Path conf = Files.createDirectories(dir.resolve("conf"));
      Path data = Files.createDirectories(dir.resolve("data"));
      Path extensions = Files.createDirectories(dir.resolve("extensions"));
      int port = FreePort.find();
      Files.writeString(
          conf.resolve("config.xml"),
          """
          <?xml version="1.0"?>
          <hivemq>
            <listeners>
              <tcp-listener>
                <port>%d</port>
                <bind-address>127.0.0.1</bind-address>
              </tcp-listener>
            </listeners>
            <anonymous-usage-statistics><enabled>false</enabled></anonymous-usage-statistics>
          </hivemq>
          """
              .formatted(port),
          StandardCharsets.UTF_8);
      EmbeddedHiveMQ hivemq =
          EmbeddedHiveMQ.builder()
              .withConfigurationFolder(conf)
              .withDataFolder(data)
              .withExtensionsFolder(extensions)
              .withoutLoggingBootstrap()
              .build();
      hivemq.start().get(60, TimeUnit.SECONDS);
      return new EmbeddedHiveMqBroker(dir, port, hivemq);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (Exception e) {
      throw new IllegalStateException("embedded HiveMQ did not start: " + e, e);
    }
  }

  public int port() {
    return port;
  }

  public String url() {
    return "tcp://127.0.0.1:" + port;
  }

  @Override
  public void close() {
    try {
      hivemq.stop().get(30, TimeUnit.SECONDS);
      hivemq.close();
    } catch (Exception e) {
      // Test teardown: the JVM ends soon anyway.
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // A temp dir left behind is harmless.
    }
  }
}
