package org.zfsbackup.mqtt;

import java.util.HashMap;
import java.util.Map;
import org.zfsbackup.event.CycleEvent.Progress;
import org.zfsbackup.event.CycleEvent.StepStatus;

/**
 * Decides which engine progress events reach {@code T/progress}: every start and end of a dataset
 * step, and a {@code streaming} update at most every {@link #interval} per step (the engine emits
 * about one a second; the contract asks for at least one every 5 s). Not thread-safe: used on the
 * agent's context only.
 */
final class ProgressThrottle {
  private final long intervalMillis;
  private final Map<String, Long> lastPublished = new HashMap<>();

  ProgressThrottle(long intervalMillis) {
    this.intervalMillis = intervalMillis;
  }

  /** True when {@code p} should be published now ({@code nowMillis} from a monotonic clock). */
  boolean admit(Progress p, long nowMillis) {
    String key = p.cycleId() + "|" + p.phase() + "|" + p.source() + "|" + p.dataset();
    if (p.status() != StepStatus.STREAMING) {
      if (p.status() == StepStatus.STARTED) {
        lastPublished.put(key, nowMillis);
      } else {
        lastPublished.remove(key);
      }
      return true;
    }
    Long last = lastPublished.get(key);
    if (last != null && nowMillis - last < intervalMillis) {
      return false;
    }
    lastPublished.put(key, nowMillis);
    return true;
  }

  /** Forgets every step (when a cycle starts). */
  void reset() {
    lastPublished.clear();
  }
}
