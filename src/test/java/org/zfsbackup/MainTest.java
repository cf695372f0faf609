package org.zfsbackup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The CLI in-process: usage errors map to exit code 2 in one place. */
class MainTest {
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();

  int main(String... args) {
    return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8), Map.of());
  }

  String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void help_listsCommandsOptionsAndExitCodes() {
    assertEquals(0, main("--help"));
    for (String s : new String[] {"agent", "run", "plan", "check", "--config", "--quiet", "--version", "Exit codes"}) {
      assertTrue(out().contains(s), s);
    }
  }

  @Test
  void version_printsIt() {
    assertEquals(0, main("--version"));
    assertTrue(out().startsWith("zfs-backup-agent "));
  }

  @Test
  void unknownCommand_exit2WithOneLineHint() {
    assertEquals(2, main("frobnicate"));
    assertTrue(err().contains("unknown command 'frobnicate'"));
    assertTrue(err().contains("--help"));
  }

  @Test
  void unknownOption_exit2() {
    assertEquals(2, main("run", "--fast"));
    assertTrue(err().contains("unknown option '--fast'"));
  }

  @Test
  void configWithoutPath_exit2() {
    assertEquals(2, main("run", "--config"));
    assertTrue(err().contains("--config needs a path"));
  }

  @Test
  void missingConfigFile_exit2NamingThePath() {
    assertEquals(2, main("run", "--config", "/nonexistent/agent.yaml"));
    assertTrue(err().contains("/nonexistent/agent.yaml"), err());
  }

  @Test
  void parse_defaultsToAgentAndConfigPath() {
    Main.Invocation inv = Main.parse(java.util.List.of("-q"));
    assertEquals("agent", inv.command());
    assertEquals("config/agent.yaml", inv.configPath().toString());
    assertTrue(inv.quiet());
    assertEquals("/x.yaml", Main.parse(java.util.List.of("plan", "--config=/x.yaml")).configPath().toString());
  }
}
