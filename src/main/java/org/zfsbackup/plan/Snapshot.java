package org.zfsbackup.plan;

/**
 * A snapshot as the planner sees it: its short name (after {@code @}), the guid that identifies it
 * on every pool it was replicated to, and its creation txg, which orders it on its own pool. Names
 * are labels only: ordering uses createtxg, matching uses guid.
 */
public record Snapshot(String name, String guid, long createtxg) {
  @Override
  public String toString() {
    return "@" + name;
  }
}
