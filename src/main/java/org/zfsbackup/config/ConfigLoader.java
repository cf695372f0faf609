package org.zfsbackup.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Loads the configuration once: the YAML file (JSON when it ends in {@code .json}), then
 * environment variables, then system properties, merged by Vert.x Config in that order, then checked
 * and turned into {@link AgentConfig}. Nothing else in the agent sees the raw JSON.
 *
 * <p>Override names: see {@link Overrides}. Secrets: the broker password comes from
 * {@code ZFS_BACKUP_AGENT_MQTT_PASSWORD} or, failing that, from the file named by
 * {@code mqtt.password_file}; it is held as a {@link AgentConfig.Secret} and appears in no message.
 */
public final class ConfigLoader {
  private static final long READ_TIMEOUT_S = 30;

  private ConfigLoader() {}

  /** Loads {@code file} with overrides from {@code env} and the JVM's system properties. */
  public static AgentConfig load(Path file, Map<String, String> env) {
    Map<String, String> properties = new HashMap<>();
    System.getProperties().forEach((k, v) -> properties.put(String.valueOf(k), String.valueOf(v)));
    return load(file, env, properties);
  }

  /**
   * Loads {@code file} with overrides from {@code env} and {@code systemProperties}.
   *
   * @throws ConfigException naming the key path of every problem found, one per line
   */
  public static AgentConfig load(Path file, Map<String, String> env, Map<String, String> systemProperties) {
    if (!Files.isRegularFile(file)) {
      throw new ConfigException(
          "config file " + file + " not found (absolute: " + file.toAbsolutePath() + "); use --config PATH,"
              + " or start from config/agent.example.yaml");
    }
    if (!Files.isReadable(file)) {
      throw new ConfigException("config file " + file + " is not readable");
    }
    Problems problems = new Problems();
    JsonObject envOverrides = Overrides.fromEnv(env, problems);
    JsonObject propertyOverrides = Overrides.fromSystemProperties(systemProperties, problems);
    JsonObject merged = retrieve(file, envOverrides, propertyOverrides);
    AgentConfig config = new ConfigBinder(problems, env, ConfigLoader::hostname).bind(merged);
    if (config == null || !problems.isEmpty()) {
      throw new ConfigException(problems.list());
    }
    return config;
  }

  /** Vert.x Config does the reading and the deep merge; a short-lived Vert.x is enough for that. */
  private static JsonObject retrieve(Path file, JsonObject envOverrides, JsonObject propertyOverrides) {
    boolean json = file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
    String format = json ? "json" : StrictYamlProcessor.NAME;
    VertxOptions options =
        new VertxOptions()
            .setEventLoopPoolSize(1)
            .setWorkerPoolSize(1)
            .setInternalBlockingPoolSize(1)
            // No .vertx cache directory in the working directory, and no class-path fallback for
            // a relative path that does not exist on disk.
            .setFileSystemOptions(new FileSystemOptions().setFileCachingEnabled(false).setClassPathResolvingEnabled(false));
    Vertx vertx = Vertx.vertx(options);
    try {
      ConfigRetrieverOptions retrieverOptions =
          new ConfigRetrieverOptions()
              .setIncludeDefaultStores(false)
              .setScanPeriod(0)
              .addStore(new ConfigStoreOptions()
                  .setType("file")
                  .setFormat(format)
                  .setConfig(new JsonObject().put("path", file.toAbsolutePath().toString())))
              .addStore(new ConfigStoreOptions().setType("json").setConfig(envOverrides))
              .addStore(new ConfigStoreOptions().setType("json").setConfig(propertyOverrides));
      ConfigRetriever retriever = ConfigRetriever.create(vertx, retrieverOptions);
      try {
        return retriever.getConfig().toCompletionStage().toCompletableFuture().get(READ_TIMEOUT_S, TimeUnit.SECONDS);
      } finally {
        retriever.close();
      }
    } catch (ExecutionException e) {
      // No path here: the caller's message names the file already.
      throw new ConfigException("cannot parse it as " + (json ? "JSON" : "YAML") + ": " + rootMessage(e));
    } catch (TimeoutException e) {
      throw new ConfigException("reading " + file + " took longer than " + READ_TIMEOUT_S + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ConfigException("interrupted while reading " + file);
    } finally {
      vertx.close();
    }
  }

  /** The innermost cause's message: that is where YAML and JSON parsers put line and column. */
  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip();
    return message.replace("in 'string', ", "at ").replace("in 'reader', ", "at ").replaceAll("\\s*\\n\\s*", " ");
  }

  /** For the default client id; {@code /proc} first, since a DNS lookup may hang. */
  static String hostname() {
    String name = null;
    try {
      name = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
    } catch (IOException | RuntimeException e) {
      // not Linux: fall through
    }
    if (name == null || name.isEmpty()) {
      name = System.getenv("HOSTNAME");
    }
    if (name == null || name.isEmpty()) {
      try {
        name = InetAddress.getLocalHost().getHostName();
      } catch (IOException e) {
        name = "unknown";
      }
    }
    return name.replaceAll("[^A-Za-z0-9_.-]", "-");
  }
}
