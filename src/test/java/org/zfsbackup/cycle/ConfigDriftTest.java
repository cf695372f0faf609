package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.ConfigLoader;

/**
 * The agent's file edited after it started: which edits it reports, and which hold back pruning.
 * Catches an edit of the retention that the running agent ignores (sweep 10: it destroyed 88
 * snapshots under the policy the operator had just loosened), and a comment that sets it off.
 */
class ConfigDriftTest {
  @TempDir Path dir;

  static final String BASE =
      "pull: {target: bak/b, sources: [{name: h, datasets: [tank/a]}]}\n"
          + "state_file: /tmp/zba-drift-test.json\n"
          + "retention: {backup: {keep_last: 2}}\n";

  ConfigDrift loaded(String text) throws IOException {
    Path file = dir.resolve("agent.yaml");
    Files.writeString(file, text);
    AgentConfig c = ConfigLoader.load(file, Map.of(), Map.of());
    return new ConfigDrift(file, Map.of(), c);
  }

  void edit(String text) throws IOException {
    Files.writeString(dir.resolve("agent.yaml"), text);
  }

  @Test
  void unchangedOrOnlyCommentsAndLayout_nothingToSay() throws IOException {
    ConfigDrift drift = loaded(BASE);
    assertEquals(Optional.empty(), drift.check());
    edit(
        "# edited by hand\n"
            + BASE.replace("{backup: {keep_last: 2}}", "\n  backup:\n    keep_last: 2"));
    assertEquals(Optional.empty(), drift.check());
  }

  @Test
  void retentionEdited_saysSoAndHoldsBackPruning() throws IOException {
    ConfigDrift drift = loaded(BASE);
    edit(BASE.replace("keep_last: 2", "keep_last: 10"));
    ConfigDrift.Drift d = drift.check().orElseThrow();
    assertTrue(d.holdsBackPruning());
    assertTrue(
        d.message().contains("changed since the agent started (it differs in retention)"),
        d.message());
    assertTrue(d.message().contains("prunes nothing"), d.message());
    assertTrue(d.message().contains("restart the agent"), d.message());
    edit(BASE); // back as loaded
    assertEquals(Optional.empty(), drift.check());
  }

  @Test
  void otherKeysEdited_saidButPruningGoesOn() throws IOException {
    ConfigDrift drift = loaded(BASE);
    edit(BASE.replace("tank/a", "tank/c") + "log_level: debug\n");
    ConfigDrift.Drift d = drift.check().orElseThrow();
    assertFalse(d.holdsBackPruning());
    assertTrue(d.message().contains("(it differs in pull, log_level)"), d.message());
    assertFalse(d.message().contains("prunes nothing"), d.message());
  }

  @Test
  void fileNoLongerLoadsOrIsGone_holdsBackPruning() throws IOException {
    ConfigDrift drift = loaded(BASE);
    edit(BASE + "retention_typo: 1\n");
    ConfigDrift.Drift d = drift.check().orElseThrow();
    assertTrue(d.holdsBackPruning());
    assertTrue(d.message().contains("no longer loads (retention_typo: unknown key"), d.message());
    Files.delete(dir.resolve("agent.yaml"));
    d = drift.check().orElseThrow();
    assertTrue(d.holdsBackPruning());
    assertTrue(d.message().contains("not found"), d.message());
  }

  @Test
  void differing_namesTheKeysAsTheFileDoes() throws IOException {
    Path a = dir.resolve("a.yaml");
    Path b = dir.resolve("b.yaml");
    Files.writeString(a, BASE);
    Files.writeString(b, BASE.replace("zba-drift-test", "elsewhere"));
    AgentConfig one = ConfigLoader.load(a, Map.of(), Map.of());
    assertEquals(List.of(), ConfigDrift.differing(one, one));
    assertEquals(
        List.of("state_file"),
        ConfigDrift.differing(one, ConfigLoader.load(b, Map.of(), Map.of())));
  }
}
