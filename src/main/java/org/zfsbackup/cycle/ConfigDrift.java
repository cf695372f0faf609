package org.zfsbackup.cycle;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.ConfigException;
import org.zfsbackup.config.ConfigLoader;

/**
 * Whether the configuration file changed since the long-running agent loaded it. The agent goes on
 * with what it loaded (a restart applies the file) and says so at each cycle; while the file's
 * retention differs from the one loaded, or the file no longer loads, the cycle prunes nothing: no
 * snapshot is destroyed by a policy the operator has since changed (a cron {@code run} and {@code
 * plan} read the file, and would keep it).
 */
public final class ConfigDrift {
  private final Path file;
  private final Map<String, String> env;
  private final AgentConfig loaded;
  private final String loadedDigest;
  private volatile String sameDigest; // a later version of the file that loads the same

  /**
   * What differs.
   *
   * @param holdsBackPruning the cycle prunes nothing
   */
  public record Drift(String message, boolean holdsBackPruning) {}

  /** {@code loaded} was loaded from {@code file} with {@code env}, now. */
  public ConfigDrift(Path file, Map<String, String> env, AgentConfig loaded) {
    this.file = file;
    this.env = Map.copyOf(env);
    this.loaded = loaded;
    this.loadedDigest = digest(file);
  }

  /** Reads the file again when its bytes changed; empty while it loads what was loaded. */
  public Optional<Drift> check() {
    String now = digest(file);
    if (now != null && (now.equals(loadedDigest) || now.equals(sameDigest))) {
      return Optional.empty();
    }
    String changed = "the configuration file " + file + " changed since the agent started";
    String restart = "; restart the agent to apply it (systemctl restart zfs-backup-agent)";
    AgentConfig fresh;
    try {
      fresh = ConfigLoader.load(file, env);
    } catch (RuntimeException e) { // a ConfigException, or a bug: the file is not loaded
      String first =
          e instanceof ConfigException
              ? e.getMessage().lines().findFirst().orElse("")
              : e.getClass().getSimpleName();
      return Optional.of(
          new Drift(
              changed
                  + " and no longer loads ("
                  + first
                  + "): this cycle runs the configuration loaded at start and prunes nothing"
                  + restart
                  + " once the file loads (check it with zfs-backup-agent check)",
              true));
    }
    if (fresh.equals(loaded)) {
      sameDigest = now;
      return Optional.empty();
    }
    boolean retention = !fresh.retention().equals(loaded.retention());
    return Optional.of(
        new Drift(
            changed
                + " (it differs in "
                + String.join(", ", differing(loaded, fresh))
                + "): this cycle runs the configuration loaded at start"
                + (retention
                    ? ", and prunes nothing, since the file's retention is not the one loaded"
                    : "")
                + restart,
            retention));
  }

  /** The top-level keys whose values differ, as the file names them. */
  static List<String> differing(AgentConfig a, AgentConfig b) {
    List<String> keys = new ArrayList<>();
    for (RecordComponent c : AgentConfig.class.getRecordComponents()) {
      try {
        if (!Objects.equals(c.getAccessor().invoke(a), c.getAccessor().invoke(b))) {
          keys.add(c.getName().replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT));
        }
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(e);
      }
    }
    return keys;
  }

  /** The file's SHA-256, or null when it cannot be read (then it is read again, and says why). */
  private static String digest(Path file) {
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
      return HexFormat.of().formatHex(hash);
    } catch (IOException | NoSuchAlgorithmException | RuntimeException e) {
      return null;
    }
  }
}
