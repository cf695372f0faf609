package org.zfsbackup.event;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ErrorKindTest {
  private static final Pattern ROW = Pattern.compile("^\\| `([a-z_*]+)` \\|");

  @Test
  void wire_isTheSnakeCaseName() {
    assertEquals("no_common_snapshot", ErrorKind.NO_COMMON_SNAPSHOT.wire());
    assertEquals("host_unreachable", ErrorKind.HOST_UNREACHABLE.toString());
  }

  /** The engine's table in docs/mqtt.md lists every kind, and nothing else, in the enum's order. */
  @Test
  void docs_listEveryKindOfTheEngine() throws IOException {
    List<String> lines = Files.readAllLines(Path.of("docs/mqtt.md"), StandardCharsets.UTF_8);
    int section = lines.indexOf("### Error kinds");
    assertTrue(section >= 0, "docs/mqtt.md has a section '### Error kinds'");
    int start = section;
    while (!lines.get(start).startsWith("From the engine")) {
      start++;
    }
    List<String> documented = new ArrayList<>();
    boolean inTable = false;
    for (String line : lines.subList(start + 1, lines.size())) {
      Matcher m = ROW.matcher(line);
      if (m.find()) {
        if (!m.group(1).equals("kind")) { // the header row
          documented.add(m.group(1));
        }
        inTable = true;
      } else if (inTable && !line.startsWith("|")) {
        break;
      }
    }
    List<String> kinds = Arrays.stream(ErrorKind.values()).map(ErrorKind::wire).toList();
    assertEquals(kinds, documented);
  }
}
