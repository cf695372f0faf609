package org.zfsbackup.config;

import static java.util.concurrent.TimeUnit.SECONDS;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.pointer.JsonPointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.yaml.snakeyaml.composer.ComposerException;
import org.yaml.snakeyaml.constructor.ConstructorException;
import org.yaml.snakeyaml.constructor.DuplicateKeyException;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads the raw tree with Vert.x Config: the file ({@link StrictFormat}), then environment
 * variables, then system properties merged over it (names and formats: {@link #overrides},
 * docs/configuration.md). Override values stay strings here; {@link ConfigBinder} types them.
 */
final class ConfigSources {
  private static final long TIMEOUT_S = 30;

  private ConfigSources() {}

  /** The merged tree; a bad override name goes to {@code problems}, each override's origin too. */
  static ObjectNode read(
      Path file, Map<String, String> env, Map<String, String> properties, Problems problems) {
    if (file.toString().isEmpty()) {
      throw new ConfigException("no config file given: the path after --config is empty");
    } else if (Files.isDirectory(file)) {
      throw new ConfigException("config file " + file + " is a directory; give the file in it");
    } else if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new ConfigException(
          "config file " + file + " is not a regular file (a pipe or a device?); give the file");
    } else if (!Files.isRegularFile(file)) {
      throw new ConfigException(
          String.format(
              "config file %s not found (absolute: %s); use --config PATH, or start from %s",
              file, file.toAbsolutePath(), "config/agent.example.yaml"));
    } else if (!Files.isReadable(file)) {
      throw new ConfigException("config file " + file + " is not readable");
    }
    boolean json = file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
    JsonObject store = new JsonObject().put("path", file.toAbsolutePath().toString());
    ConfigRetrieverOptions options =
        new ConfigRetrieverOptions()
            .setIncludeDefaultStores(false)
            .setScanPeriod(0)
            .addStore(
                new ConfigStoreOptions()
                    .setType("file")
                    .setFormat(StrictFormat.NAME)
                    .setConfig(store.put("json", json)));
    // One tree for both, in order: a property's key lands on the environment's whole mapping.
    JsonObject whole = new JsonObject();
    JsonObject merged = new JsonObject();
    overrides(whole, merged, env, "ZFS_BACKUP_AGENT_", "__", "environment variable ", problems);
    overrides(whole, merged, properties, "zfs-backup-agent.", "\\.", "system property ", problems);
    options.addStore(new ConfigStoreOptions().setType("json").setConfig(whole));
    options.addStore(new ConfigStoreOptions().setType("json").setConfig(merged));
    return retrieve(file, json, options);
  }

  /** Vert.x Config reads the file and merges the overrides over it, with a short-lived Vert.x. */
  private static ObjectNode retrieve(Path file, boolean json, ConfigRetrieverOptions options) {
    // No .vertx cache directory here, and no class-path fallback for a relative path.
    Vertx vertx =
        Vertx.vertx(
            new VertxOptions()
                .setEventLoopPoolSize(1)
                .setWorkerPoolSize(1)
                .setInternalBlockingPoolSize(1)
                .setFileSystemOptions(
                    new FileSystemOptions()
                        .setFileCachingEnabled(false)
                        .setClassPathResolvingEnabled(false)));
    ConfigRetriever retriever = ConfigRetriever.create(vertx, options);
    try {
      JsonObject merged =
          retriever.getConfig().toCompletionStage().toCompletableFuture().get(TIMEOUT_S, SECONDS);
      return (ObjectNode) ConfigBinder.JSON.readTree(merged.encode());
    } catch (ExecutionException | IOException e) {
      // What went wrong and where, without a path: the caller names the file.
      Throwable t = e;
      MarkedYAMLException marked = null;
      JsonProcessingException jackson = null;
      for (; ; t = t.getCause()) {
        marked = marked == null && t instanceof MarkedYAMLException y ? y : marked;
        jackson = jackson == null && t instanceof JsonProcessingException j ? j : jackson;
        if (t instanceof DecodeException || t.getCause() == null || t.getCause() == t) {
          break;
        }
      }
      // Not the parsers' own messages: they quote the line, or a value (a password, maybe).
      String m =
          marked != null
              ? yamlProblem(marked)
              : jackson != null
                  ? jsonProblem(jackson)
                  : t instanceof DecodeException
                      ? t.getMessage() // StrictFormat's own
                      : "a value it cannot read ("
                          + t.getClass().getSimpleName()
                          + (json ? ")" : "; an explicit tag such as !!float?)");
      String cannot = "cannot parse it as " + (json ? "JSON: " : "YAML: ");
      throw new ConfigException(cannot + m.replaceAll("\\s*\\n\\s*", " "));
    } catch (TimeoutException e) {
      throw new ConfigException("reading " + file + " took longer than " + TIMEOUT_S + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ConfigException("interrupted while reading " + file);
    } finally {
      retriever.close();
      vertx.close();
    }
  }

  /** Jackson's message only where it quotes no value (a duplicate key, one character). */
  private static String jsonProblem(JsonProcessingException e) {
    String said = String.valueOf(e.getOriginalMessage());
    boolean safe = said.matches("(Duplicate field|Unexpected character|Unexpected end-of-input).*");
    JsonLocation at = e.getLocation();
    return (safe ? said : "not valid JSON")
        + (at == null ? "" : " at line %d, column %d".formatted(at.getLineNr(), at.getColumnNr()));
  }

  /**
   * What and where, e.g. "found character '@' that cannot start any token at line 4, column 13".
   */
  private static String yamlProblem(MarkedYAMLException e) {
    String context = e.getContext() == null ? "" : e.getContext() + ": ";
    Mark at = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
    String where =
        at == null ? "" : " at line %d, column %d".formatted(at.getLine() + 1, at.getColumn() + 1);
    // An alias or a tag it cannot resolve is quoted from the document; a duplicate key is a key.
    boolean quotes =
        (e instanceof ComposerException || e instanceof ConstructorException)
            && !(e instanceof DuplicateKeyException);
    return context + (quotes ? "an alias or a tag it cannot resolve" : e.getProblem()) + where;
  }

  /**
   * Adds the overrides in {@code values} to {@code merged}, which goes over the file: {@code
   * prefix} + the key path, levels joined by {@code separator} ({@code ZFS_BACKUP_AGENT_MQTT__URL}:
   * {@code mqtt.url}); the string is converted by {@link ConfigBinder}. A mapping given whole
   * (JSON) and a key below it: the mapping replaces the file's (in {@code whole}, which goes
   * first), then the key applies on top of it. A key below a whole value that is no JSON mapping is
   * a problem (the value itself is the binder's to judge).
   */
  private static void overrides(
      JsonObject whole,
      JsonObject merged,
      Map<String, String> values,
      String prefix,
      String separator,
      String kind,
      Problems problems) {
    for (Map.Entry<String, String> e : new TreeMap<>(values).entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(prefix) || name.equals(ConfigLoader.PASSWORD_ENV)) {
        continue;
      }
      String[] keys = name.substring(prefix.length()).toLowerCase(Locale.ROOT).split(separator, -1);
      boolean empty = Arrays.stream(keys).anyMatch(String::isEmpty);
      if (empty || Arrays.stream(keys).anyMatch(k -> k.matches("[0-9]+"))) {
        problems.addGeneral(
            kind
                + name
                + (empty
                    ? ": not a key path (empty level)"
                    : ": a list cannot be changed item by item; override the whole list (JSON)"));
        continue;
      }
      JsonObject node = merged;
      for (int i = 0; node != null && i < keys.length - 1; node = node.getJsonObject(keys[i++])) {
        if (node.getValue(keys[i]) instanceof String given) { // a whole mapping, given above
          JsonNode json = ConfigBinder.json(given);
          if (json == null || !json.isObject()) {
            String above = String.join(".", List.of(keys).subList(0, i + 1));
            problems.addGeneral(
                kind
                    + name
                    + ": "
                    + above
                    + " is set by "
                    + problems.originOf(above)
                    + " to a value that is not a JSON mapping, so a key below it cannot apply");
            node = null;
            break;
          }
          // It replaces the file's mapping first (unless a mapping above it does so already).
          JsonPointer.create()
              .append(List.of(keys).subList(0, i + 1))
              .writeJson(whole, given, true);
          node.put(keys[i], new JsonObject(json.toString()));
        } else if (!(node.getValue(keys[i]) instanceof JsonObject)) {
          node.put(keys[i], new JsonObject());
        }
      }
      if (node != null) {
        node.put(keys[keys.length - 1], e.getValue());
        problems.origin(String.join(".", keys), kind + name);
      }
    }
  }
}
