package org.zfsbackup.mqtt;

import java.io.PrintStream;
import org.zfsbackup.config.AgentConfig;

/** PLACEHOLDER — replaced by the MQTT agent work (issue 3). */
public final class AgentLauncher {
  private AgentLauncher() {}

  public static int run(AgentConfig config, PrintStream out, PrintStream err) {
    err.println("agent: not implemented yet");
    return 1;
  }
}
