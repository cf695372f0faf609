package org.zfsbackup.mqtt;

import java.nio.file.Path;
import java.util.List;

/**
 * The agent as its own process, for {@link AgentProcessIT}: {@link AgentLauncher#run} exactly as
 * {@code Main} calls it (blocking, shutdown hook), with the fake engine. Args: url, client id,
 * topic, state file, then {@code block} to make cycles stream until stopped.
 */
public final class AgentProcessMain {
  private AgentProcessMain() {}

  public static void main(String[] args) {
    FakeCycleRunner engine = new FakeCycleRunner();
    if (args.length > 4 && args[4].equals("block")) {
      engine.blockStreams();
    }
    boolean started =
        AgentLauncher.run(
            TestConfigs.config(args[0], args[1], args[2], Path.of(args[3]), List.of("true")),
            System.err,
            config -> engine);
    System.exit(started ? 0 : 2);
  }
}
