package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.LogCapture;

class StateStoreTest {
  @TempDir Path dir;

  @Test
  void load_missingFile_returnsNothing() {
    StateStore.Saved saved = new StateStore(dir.resolve("state.json")).load();
    assertTrue(saved.lastSuccessAt().isEmpty());
    assertTrue(saved.lastResult().isEmpty());
  }

  @Test
  void save_thenLoad_returnsLastSuccessAndResult() throws Exception {
    StateStore store = new StateStore(dir.resolve("sub/dir/state.json"));
    ObjectNode result =
        Payloads.JSON.createObjectNode().put("outcome", "success").put("cycle_id", "c1");
    store.save(Instant.parse("2026-11-27T02:10:00Z"), result, null);
    StateStore.Saved saved = new StateStore(dir.resolve("sub/dir/state.json")).load();
    assertEquals(Instant.parse("2026-11-27T02:10:00Z"), saved.lastSuccessAt().orElseThrow());
    assertEquals(result, saved.lastResult().orElseThrow());
  }

  @Test
  void save_withACycleInProgress_loadsIt_andASaveWithoutClearsIt() throws Exception {
    StateStore store = new StateStore(dir.resolve("state.json"));
    ObjectNode result = Payloads.JSON.createObjectNode().put("outcome", "success");
    StateStore.Running running =
        new StateStore.Running("c2", "nightly-2", Instant.parse("2026-11-28T02:00:00Z"), true);
    store.save(null, result, running);
    assertEquals(running, store.load().running().orElseThrow());
    assertEquals(result, store.load().lastResult().orElseThrow());
    store.save(null, result, null);
    assertTrue(store.load().running().isEmpty());
  }

  @Test
  void save_twice_replacesAndLeavesNoTemporaryFiles() throws Exception {
    Path file = dir.resolve("state.json");
    StateStore store = new StateStore(file);
    store.save(null, Payloads.JSON.createObjectNode().put("outcome", "failed"), null);
    store.save(
        Instant.parse("2026-11-28T02:00:00Z"),
        Payloads.JSON.createObjectNode().put("outcome", "success"),
        null);
    try (var files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList());
    }
    assertEquals("success", store.load().lastResult().orElseThrow().get("outcome").asText());
  }

  /** A symlink planted in a state directory another user owns is not read through. */
  @Test
  void load_symlink_isNotFollowed() throws Exception {
    StateStore elsewhere = new StateStore(dir.resolve("elsewhere.json"));
    elsewhere.save(
        Instant.parse("2026-11-27T02:10:00Z"),
        Payloads.JSON.createObjectNode().put("outcome", "success"),
        null);
    Path file = Files.createSymbolicLink(dir.resolve("state.json"), dir.resolve("elsewhere.json"));

    assertEquals(StateStore.Saved.NONE, new StateStore(file).load());
  }

  @Test
  void load_corruptFile_returnsNothing() throws Exception {
    Path file = dir.resolve("state.json");
    Files.writeString(file, "{\"last_success_at\": \"not a time\"");
    StateStore.Saved saved = new StateStore(file).load();
    assertFalse(saved.lastSuccessAt().isPresent());
  }

  /** Catches: an empty (or non-object) state file taken for a first start without a word. */
  @Test
  void load_emptyOrNotAnObject_saysSo() throws Exception {
    Path file = dir.resolve("state.json");
    List<String> warnings;
    try (LogCapture logged = LogCapture.of(StateStore.class)) {
      for (String content : List.of("", "[]")) {
        Files.writeString(file, content);
        assertEquals(StateStore.Saved.NONE, new StateStore(file).load());
      }
      warnings = logged.messages(Level.WARN);
    }
    assertEquals(2, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).contains("is unreadable (empty)"), warnings.get(0));
    assertTrue(warnings.get(1).contains("is unreadable (not a JSON object)"), warnings.get(1));
  }
}
