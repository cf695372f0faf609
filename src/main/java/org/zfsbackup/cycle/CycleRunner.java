package org.zfsbackup.cycle;

import org.zfsbackup.event.EventSink;

/**
 * Runs one backup cycle (pull, then push) to the end, blocking the calling thread. The MQTT agent
 * calls it on a worker thread; tests of the agent use a fake.
 */
@FunctionalInterface
public interface CycleRunner {
  CycleReport run(CycleRequest request, EventSink sink, CycleControl control);
}
