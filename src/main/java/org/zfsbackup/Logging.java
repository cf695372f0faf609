package org.zfsbackup;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.turbo.MarkerFilter;
import ch.qos.logback.core.ConsoleAppender;
import java.util.Map;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport;

/**
 * Log level and line format. The level is the config's {@code log_level}, overrides included (an
 * environment variable, then a system property: docs/configuration.md); under systemd ({@code
 * JOURNAL_STREAM} set) lines carry no timestamp, since journald adds its own. {@code --quiet} shows
 * errors only, and each once: a line the report repeats ({@link CycleReport#IN_REPORT}) is dropped.
 */
final class Logging {
  static final String JOURNAL_PATTERN = "%-5level %logger{0}: %msg%n";

  /** The name of {@code --quiet}'s filter. */
  static final String QUIET = "quiet";

  private Logging() {}

  static void configure(String configured, Map<String, String> env, boolean quiet) {
    Level level = Level.toLevel(configured, Level.INFO);
    if (quiet && !level.isGreaterOrEqual(Level.ERROR)) {
      level = Level.ERROR; // cron: nothing on success
    }
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(level);
    LoggerContext context = root.getLoggerContext();
    context.getTurboFilterList().removeIf(f -> QUIET.equals(f.getName()));
    if (quiet) { // cron mails each failure once: the report's line, not the log's too
      MarkerFilter inReport = new MarkerFilter();
      inReport.setName(QUIET);
      inReport.setMarker(CycleReport.IN_REPORT.getName());
      inReport.setOnMatch("DENY");
      inReport.start();
      context.addTurboFilter(inReport);
    }
    if (env.containsKey("JOURNAL_STREAM")
        && root.getAppender("OUT") instanceof ConsoleAppender<ILoggingEvent> console) {
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
