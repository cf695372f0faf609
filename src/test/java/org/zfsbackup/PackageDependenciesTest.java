package org.zfsbackup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The packages of the main code form no cycle, and the leaves stay leaves. Reads the sources, as
 * {@code jdeps -verbose:package target/classes} reads the classes: every reference to a class of
 * ours, imported or fully qualified, outside comments.
 */
class PackageDependenciesTest {
  private static final Path ROOT = Path.of("src/main/java/org/zfsbackup");
  private static final Pattern REFERENCE =
      Pattern.compile("\\borg\\.zfsbackup((?:\\.[a-z][a-z0-9]*)*)\\.[A-Z]");
  private static final Pattern COMMENT = Pattern.compile("/\\*.*?\\*/|//[^\\n]*", Pattern.DOTALL);

  /** Package -> the other packages of ours it uses ("" is the root package, where Main is). */
  static Map<String, Set<String>> graph() {
    Map<String, Set<String>> graph = new TreeMap<>();
    try (Stream<Path> files = Files.walk(ROOT)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        String pkg = packageOf(file);
        Set<String> uses = graph.computeIfAbsent(pkg, p -> new TreeSet<>());
        String source = Files.readString(file, StandardCharsets.UTF_8);
        String code = COMMENT.matcher(source).replaceAll("");
        Matcher m = REFERENCE.matcher(code);
        while (m.find()) {
          String used = m.group(1).isEmpty() ? "" : m.group(1).substring(1);
          if (!used.equals(pkg)) {
            uses.add(used);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return graph;
  }

  private static String packageOf(Path file) {
    Path dir = ROOT.relativize(file).getParent();
    return dir == null ? "" : dir.toString().replace('/', '.');
  }

  @Test
  void mainCode_hasNoPackageCycle() {
    Map<String, Set<String>> graph = graph();
    List<String> cycles = new ArrayList<>();
    for (String start : graph.keySet()) {
      findCycles(graph, start, new ArrayList<>(List.of(start)), cycles);
    }
    assertEquals(List.of(), cycles, "package cycles in " + graph);
  }

  /** Every cycle through {@code path.get(0)} whose other packages sort after it (each once). */
  private static void findCycles(
      Map<String, Set<String>> graph, String start, List<String> path, List<String> cycles) {
    for (String next : graph.getOrDefault(path.get(path.size() - 1), Set.of())) {
      if (next.equals(start)) {
        cycles.add(String.join(" -> ", path) + " -> " + start);
      } else if (next.compareTo(start) > 0 && !path.contains(next)) {
        path.add(next);
        findCycles(graph, start, path, cycles);
        path.remove(path.size() - 1);
      }
    }
  }

  @Test
  void eventPlanAndCommand_dependOnNothingOfOurs() {
    Map<String, Set<String>> graph = graph();
    assertEquals(Set.of(), graph.get("event"), "event is a leaf");
    assertEquals(Set.of(), graph.get("plan"), "plan is a leaf");
    assertEquals(Set.of(), graph.get("command"), "command is a leaf (docs/design.md)");
  }

  @Test
  void graph_seesImportsAndQualifiedNames() {
    Map<String, Set<String>> graph = graph();
    // Main names the commands' classes; cycle imports event: the scan must see both.
    assertEquals(true, graph.get("").contains("cycle"), graph.toString());
    assertEquals(true, graph.get("cycle").contains("event"), graph.toString());
  }
}
