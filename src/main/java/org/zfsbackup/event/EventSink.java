package org.zfsbackup.event;

/**
 * Where the engine sends its {@link CycleEvent}s. Called from the engine's worker threads: an
 * implementation must be thread-safe and must not block for long (the MQTT agent hands the event to
 * its Vert.x context and returns).
 */
@FunctionalInterface
public interface EventSink {
  void accept(CycleEvent event);

  EventSink NONE = e -> {};
}
