package org.zfsbackup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LoggingTest {
  final Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);

  @AfterEach
  void reset() {
    root.setLevel(Level.INFO);
  }

  @Test
  void configure_environmentWinsOverConfig() {
    Logging.configure("info", Map.of("ZFS_BACKUP_AGENT_LOG_LEVEL", "debug"), false);
    assertEquals(Level.DEBUG, root.getLevel());
    Logging.configure("warn", Map.of(), false);
    assertEquals(Level.WARN, root.getLevel());
  }

  @Test
  void configure_quiet_onlyErrors() {
    Logging.configure("info", Map.of(), true);
    assertEquals(Level.ERROR, root.getLevel());
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
