package org.zfsbackup.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;
import org.zfsbackup.Main;

/** What {@link Main#run} printed and returned, run in this JVM. */
public record Cli(int code, String out, String err) {

  public List<String> outLines() {
    return out.lines().toList();
  }

  public List<String> errLines() {
    return err.lines().toList();
  }

  /**
   * Runs {@code Main} with {@code args} and {@code env}. Main configures logging ({@code --quiet}
   * sets the root level to ERROR and adds a filter): both are restored afterwards, for the tests
   * that follow.
   */
  public static Cli run(Map<String, String> env, String... args) {
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    Level level = root.getLevel();
    List<TurboFilter> filters = List.copyOf(root.getLoggerContext().getTurboFilterList());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      int code =
          Main.run(
              args,
              new PrintStream(out, true, StandardCharsets.UTF_8),
              new PrintStream(err, true, StandardCharsets.UTF_8),
              env);
      return new Cli(
          code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      root.setLevel(level);
      root.getLoggerContext().getTurboFilterList().retainAll(filters);
    }
  }
}
