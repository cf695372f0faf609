package org.zfsbackup.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * What a logger logs while a test runs: {@code try (LogCapture logs = LogCapture.of(X.class)) { ...
 * }}, then {@link #messages()}. Closing detaches it and restores the logger's level.
 */
public final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final Level level;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  private LogCapture(Logger logger, Level atLeast) {
    this.logger = logger;
    this.level = logger.getLevel();
    if (atLeast != null) {
      logger.setLevel(atLeast);
    }
    appender.start();
    logger.addAppender(appender);
  }

  /** What {@code type}'s logger logs. */
  public static LogCapture of(Class<?> type) {
    return new LogCapture((Logger) LoggerFactory.getLogger(type), null);
  }

  /** What {@code type}'s logger logs at {@code level} and above (DEBUG to see debug lines). */
  public static LogCapture of(Class<?> type, Level level) {
    return new LogCapture((Logger) LoggerFactory.getLogger(type), level);
  }

  /** What every logger logs. */
  public static LogCapture root() {
    return new LogCapture((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME), null);
  }

  /** The events so far. */
  public List<ILoggingEvent> events() {
    synchronized (appender) {
      return List.copyOf(appender.list);
    }
  }

  /** The formatted messages so far. */
  public List<String> messages() {
    return events().stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  /** The formatted messages of {@code level} so far. */
  public List<String> messages(Level level) {
    return events().stream()
        .filter(e -> e.getLevel() == level)
        .map(ILoggingEvent::getFormattedMessage)
        .toList();
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    logger.setLevel(level);
  }
}
