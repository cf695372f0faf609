package org.zfsbackup.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.vertx.config.spi.ConfigProcessor;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;

/**
 * The file format for Vert.x Config (registered in {@code META-INF/services}): YAML, or JSON when
 * the store's {@code json} is true, stricter than the stock processors: a key given twice in one
 * mapping is an error (they keep the last silently, so a second {@code datasets:} would drop the
 * first list), and a top level that is not a mapping gets a plain message.
 */
public final class StrictFormat implements ConfigProcessor {
  static final String NAME = "zfs-backup-agent";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Future<JsonObject> process(Vertx vertx, JsonObject store, Buffer input) {
    return vertx.executeBlocking(
        () -> {
          JsonNode tree =
              store.getBoolean("json", false)
                  ? ConfigBinder.JSON.readTree(input.getBytes())
                  : ConfigBinder.yaml(input.toString(StandardCharsets.UTF_8));
          if (tree != null && !tree.isObject() && !tree.isMissingNode() && !tree.isNull()) {
            throw new DecodeException(
                "the top level must be a mapping of keys (pull:, push:, ...), not "
                    + ConfigBinder.a(tree));
          }
          return new JsonObject(tree != null && tree.isObject() ? tree.toString() : "{}");
        });
  }
}
