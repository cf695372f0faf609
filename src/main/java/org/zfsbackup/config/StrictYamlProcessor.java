package org.zfsbackup.config;

import io.vertx.config.spi.ConfigProcessor;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The YAML format for Vert.x Config, stricter than the stock {@code yaml} processor: a key given
 * twice in one mapping is an error (the stock one keeps the last silently, so a second
 * {@code datasets:} would quietly drop the first list from the backup), and a top level that is
 * not a mapping gets a plain message. Registered as format {@value #NAME} through
 * {@code META-INF/services}.
 */
public final class StrictYamlProcessor implements ConfigProcessor {
  static final String NAME = "zfs-backup-agent-yaml";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Future<JsonObject> process(Vertx vertx, JsonObject configuration, Buffer input) {
    return vertx.executeBlocking(() -> parse(input.toString(StandardCharsets.UTF_8)));
  }

  static JsonObject parse(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    Object root;
    try {
      root = new Yaml(new SafeConstructor(options)).load(text);
    } catch (RuntimeException e) {
      throw new DecodeException(e.getMessage(), e);
    }
    if (root == null) {
      return new JsonObject();
    }
    if (!(root instanceof Map<?, ?> map)) {
      throw new DecodeException("the top level must be a mapping of keys (pull:, push:, ...), not " + Section.describe(root));
    }
    return object(map);
  }

  private static JsonObject object(Map<?, ?> map) {
    JsonObject out = new JsonObject();
    map.forEach((k, v) -> out.put(String.valueOf(k), value(v)));
    return out;
  }

  private static Object value(Object v) {
    if (v instanceof Map<?, ?> map) {
      return object(map);
    }
    if (v instanceof List<?> list) {
      JsonArray array = new JsonArray();
      list.forEach(item -> array.add(value(item)));
      return array;
    }
    if (v instanceof Date date) {
      return date.toInstant().toString(); // YAML timestamps; no key of ours takes one
    }
    return v;
  }
}
