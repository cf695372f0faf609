package org.zfsbackup;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Log level and line format. {@code ZFS_BACKUP_AGENT_LOG_LEVEL} wins over the config's {@code
 * log_level}; under systemd ({@code JOURNAL_STREAM} set) lines carry no timestamp, since journald
 * adds its own.
 */
final class Logging {
  static final String JOURNAL_PATTERN = "%-5level %logger{0}: %msg%n";

  private Logging() {}

  static void configure(String configured, Map<String, String> env, boolean quiet) {
    String name = env.getOrDefault("ZFS_BACKUP_AGENT_LOG_LEVEL", configured);
    Level level = Level.toLevel(name, Level.INFO);
    if (quiet && !level.isGreaterOrEqual(Level.ERROR)) {
      level = Level.ERROR; // cron: nothing on success
    }
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(level);
    if (env.containsKey("JOURNAL_STREAM")
        && root.getAppender("OUT") instanceof ConsoleAppender<ILoggingEvent> console) {
      LoggerContext context = root.getLoggerContext();
      PatternLayoutEncoder encoder = new PatternLayoutEncoder();
      encoder.setContext(context);
      encoder.setPattern(JOURNAL_PATTERN);
      encoder.start();
      console.stop();
      console.setEncoder(encoder);
      console.start();
    }
  }
}
