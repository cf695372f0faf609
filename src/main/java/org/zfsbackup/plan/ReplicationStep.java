package org.zfsbackup.plan;

/**
 * One {@code zfs send | zfs receive}: a full stream, or an {@code -I} stream of every snapshot
 * from..to.
 */
public sealed interface ReplicationStep {
  Snapshot to();

  record Full(Snapshot to) implements ReplicationStep {
    @Override
    public String toString() {
      return "full " + to;
    }
  }

  record Incremental(Snapshot from, Snapshot to) implements ReplicationStep {
    @Override
    public String toString() {
      return "incremental " + from + ".." + to;
    }
  }
}
