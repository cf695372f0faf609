package org.zfsbackup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Golden samples: every file in {@code config/valid} loads; every file in {@code config/invalid}
 * fails, and its message contains each {@code # expect: ...} line of the file (a key path, often
 * with the start of the reason).
 */
class ConfigSamplesTest {
  private static final Path SAMPLES = Path.of("src/test/resources/config");

  /** Samples must not depend on the machine's environment. */
  private static final Map<String, String> NO_ENV = Map.of();

  static Stream<Path> validSamples() throws IOException {
    return list(SAMPLES.resolve("valid"));
  }

  static Stream<Path> invalidSamples() throws IOException {
    return list(SAMPLES.resolve("invalid"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("validSamples")
  void load_validSample_loads(Path file) {
    AgentConfig config = ConfigLoader.load(file, NO_ENV, Map.of());
    assertFalse(config.pull().sources().isEmpty());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidSamples")
  void load_invalidSample_failsNamingKeyPath(Path file) throws IOException {
    List<String> expected =
        Files.readAllLines(file).stream()
            .takeWhile(l -> l.startsWith("#"))
            .filter(l -> l.startsWith("# expect: "))
            .map(l -> l.substring("# expect: ".length()).trim())
            .toList();
    assertFalse(expected.isEmpty(), file + " has no '# expect: key.path' first line");

    ConfigException e =
        assertThrows(ConfigException.class, () -> ConfigLoader.load(file, NO_ENV, Map.of()));

    for (String want : expected) {
      assertTrue(
          e.getMessage().contains(want), file + ": expected '" + want + "' in:\n" + e.getMessage());
    }
  }

  @Test
  void load_invalidSamples_coverEveryProblemClass() throws IOException {
    List<String> names = invalidSamples().map(p -> p.getFileName().toString()).toList();
    for (String kind :
        List.of(
            "unknown-key",
            "wrong-type",
            "missing-",
            "invalid-dataset",
            "invalid-source-name",
            "duplicate-source",
            "ssl-ca-file",
            "url-",
            "port-",
            "empty-zfs",
            "empty-ssh",
            "push-dataset-outside")) {
      assertTrue(names.stream().anyMatch(n -> n.startsWith(kind)), "no invalid sample for " + kind);
    }
  }

  @Test
  void load_manyProblems_reportsEveryOneOnItsOwnLine() {
    ConfigException e =
        assertThrows(
            ConfigException.class,
            () ->
                ConfigLoader.load(SAMPLES.resolve("invalid/many-problems.yaml"), NO_ENV, Map.of()));

    assertEquals(4, e.problems().size(), e.getMessage());
    assertTrue(e.getMessage().startsWith("4 problems:\n"), e.getMessage());
    assertEquals(5, e.getMessage().lines().count(), e.getMessage());
  }

  @Test
  void load_shippedExample_loads() {
    AgentConfig config = ConfigLoader.load(Path.of("config/agent.example.yaml"), NO_ENV, Map.of());

    assertEquals(
        List.of("host-storage", "host-homeassistant"),
        config.pull().sources().stream().map(AgentConfig.SourceConfig::name).toList());
    assertEquals("host-albion", config.push().orElseThrow().host().orElseThrow());
    assertEquals("servers/host-backups", config.mqtt().orElseThrow().topic());
  }

  private static Stream<Path> list(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(Files::isRegularFile).sorted().toList().stream();
    }
  }
}
