package org.zfsbackup.config;

import java.nio.file.Path;
import java.util.Map;

/** PLACEHOLDER — replaced by the config work (issue 4). */
public final class ConfigLoader {
  private ConfigLoader() {}

  public static AgentConfig load(Path path, Map<String, String> env) {
    throw new ConfigException("config loading not implemented yet");
  }
}
