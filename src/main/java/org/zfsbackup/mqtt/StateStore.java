package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the agent keeps across restarts, in {@code state_file}: {@code last_success_at}, the last
 * {@code T/result} (republished after every connect, so a broker that lost its retained messages
 * gets it back), and the cycle in progress while one runs (a cycle the agent did not live to end,
 * killed or cut off by a power loss, is then reported at the next start). A small JSON file,
 * replaced atomically (write a temporary file beside it, fsync, rename), so a crash leaves the old
 * or the new file, never half of one. Blocking: call it from a worker thread.
 */
class StateStore { // not final: a test holds a save back
  private static final Logger log = LoggerFactory.getLogger(StateStore.class);

  /** What was saved; all empty on a first start. */
  record Saved(
      Optional<Instant> lastSuccessAt, Optional<ObjectNode> lastResult, Optional<Running> running) {
    static final Saved NONE = new Saved(Optional.empty(), Optional.empty(), Optional.empty());
  }

  /** A cycle that started and has not ended (saved as {@code running}). */
  record Running(String cycleId, String runId, Instant startedAt, boolean limited) {}

  private final Path file;

  StateStore(Path file) {
    this.file = file;
  }

  Path file() {
    return file;
  }

  /** Reads the file; a missing or unreadable one is logged and treated as a first start. */
  Saved load() {
    if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
      log.info("no state file at {} yet: no backup recorded so far", file);
      return Saved.NONE;
    }
    try {
      if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) { // never read through a symlink
        throw new IOException("not a regular file; the agent writes one there at the next save");
      }
      JsonNode root;
      try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
        root = Payloads.JSON.readTree(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
      if (!root.isObject()) { // an empty file too: said, not taken for a first start in silence
        throw new IOException(root.isMissingNode() ? "empty" : "not a JSON object");
      }
      Optional<Instant> lastSuccess = Optional.empty();
      JsonNode at = root.get("last_success_at");
      if (at != null && at.isTextual()) {
        lastSuccess = Optional.of(Instant.parse(at.asText()));
      }
      JsonNode result = root.get("last_result");
      Optional<ObjectNode> lastResult =
          result instanceof ObjectNode o ? Optional.of(o) : Optional.empty();
      JsonNode r = root.path("running");
      Optional<Running> running =
          r.path("cycle_id").isTextual() && r.path("started_at").isTextual()
              ? Optional.of(
                  new Running(
                      r.path("cycle_id").asText(),
                      r.path("run_id").isTextual() ? r.path("run_id").asText() : null,
                      Instant.parse(r.path("started_at").asText()),
                      r.path("limited").asBoolean()))
              : Optional.empty();
      return new Saved(lastSuccess, lastResult, running);
    } catch (IOException | DateTimeParseException | UncheckedIOException e) {
      String why = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
      log.warn(
          "state file {} is unreadable ({}); starting as if no backup was recorded", file, why);
      return Saved.NONE;
    }
  }

  /**
   * Whether the file as it is marks a cycle as running (a restart would report it lost); false when
   * it cannot be read. Quiet: for the message of a save that failed.
   */
  boolean markedRunning() {
    try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
      return Payloads.JSON.readTree(in).path("running").path("cycle_id").isTextual();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Replaces the file atomically; {@code running}: the cycle in progress, or null. */
  void save(Instant lastSuccessAt, ObjectNode lastResult, Running running) throws IOException {
    ObjectNode root = Payloads.JSON.createObjectNode();
    root.put("version", 1);
    root.put("last_success_at", Payloads.time(lastSuccessAt));
    root.set("last_result", lastResult);
    if (running != null) {
      ObjectNode r = root.putObject("running");
      r.put("cycle_id", running.cycleId());
      r.put("run_id", running.runId());
      r.put("started_at", running.startedAt().toString());
      r.put("limited", running.limited());
    }
    byte[] bytes = Payloads.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      try (FileChannel ch =
          FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) { // a write may take part of it
          ch.write(buf);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
      // The rename is durable only once the directory is written: a power-down right after (the
      // save before then: suspend) could otherwise bring back the previous file after the boot.
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true);
      } catch (IOException e) {
        log.debug("cannot sync {} after saving the state: {}", dir, e.toString());
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
