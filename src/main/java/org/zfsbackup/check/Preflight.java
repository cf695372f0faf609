package org.zfsbackup.check;

import java.io.PrintStream;
import org.zfsbackup.config.AgentConfig;

/** PLACEHOLDER — replaced by the preflight work (issue 4). */
public final class Preflight {
  private Preflight() {}

  public static int run(AgentConfig config, boolean quiet, PrintStream out, PrintStream err) {
    err.println("check: not implemented yet");
    return 1;
  }
}
