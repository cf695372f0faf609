package org.zfsbackup.cycle;

import java.io.PrintStream;
import org.zfsbackup.config.AgentConfig;

/** PLACEHOLDER — the engine work (issue 2). */
public final class CliCycle {
  private CliCycle() {}

  public static int run(AgentConfig config, boolean planOnly, boolean quiet, PrintStream out, PrintStream err) {
    err.println("not implemented yet");
    return 1;
  }
}
