package org.zfsbackup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.zfsbackup.cycle.CycleReport;

class LoggingTest {
  final Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);

  @AfterEach
  void reset() {
    root.setLevel(Level.INFO);
    Logging.configure("info", Map.of(), false); // no quiet filter left
  }

  /**
   * Catches: the environment's level read a second time, past the config's overrides (where a
   * system property wins over it, and a bad value is refused).
   */
  @Test
  void configure_theConfiguredLevel_overridesAreTheConfigsJob() {
    Logging.configure("warn", Map.of("ZFS_BACKUP_AGENT_LOG_LEVEL", "debug"), false);
    assertEquals(Level.WARN, root.getLevel());
    Logging.configure("debug", Map.of(), false);
    assertEquals(Level.DEBUG, root.getLevel());
  }

  /** Catches: a quiet run that mails each failure twice, or drops an error the report lacks. */
  @Test
  void configure_quiet_onlyErrors_andNotTheOnesTheReportRepeats() {
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    root.addAppender(logged);
    Logger engine = (Logger) LoggerFactory.getLogger("quiet-test");
    try {
      Logging.configure("info", Map.of(), true);
      assertEquals(Level.ERROR, root.getLevel());
      engine.error(CycleReport.IN_REPORT, "repeated by the report");
      engine.error("not in the report");
      Logging.configure("info", Map.of(), false);
      engine.error(CycleReport.IN_REPORT, "logged when not quiet");
    } finally {
      root.detachAppender(logged);
    }
    assertEquals(
        List.of("not in the report", "logged when not quiet"),
        logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList());
  }

  @Test
  @SuppressWarnings("unchecked")
  void configure_underJournald_noTimestampOfOurOwn() {
    // logback-test.xml names its console appender OUT, like src/main/resources/logback.xml.
    ConsoleAppender<ILoggingEvent> out = (ConsoleAppender<ILoggingEvent>) root.getAppender("OUT");
    var original = out.getEncoder();
    try {
      Logging.configure("info", Map.of(), false);
      assertEquals(original, out.getEncoder(), "outside systemd the format stays");
      Logging.configure("info", Map.of("JOURNAL_STREAM", "8:1234"), false);
      assertEquals(Logging.JOURNAL_PATTERN, ((PatternLayoutEncoder) out.getEncoder()).getPattern());
    } finally {
      out.stop();
      out.setEncoder(original);
      out.start();
    }
  }
}
