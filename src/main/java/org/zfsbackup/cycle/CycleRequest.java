package org.zfsbackup.cycle;

import java.util.Set;

/**
 * What to run.
 *
 * @param only {@code source-name:dataset} entries to limit the run to (each one a configured
 *     dataset, checked by the command parser); empty = everything configured
 * @param dryRun plan only: list both sides, decide, change nothing
 */
public record CycleRequest(String cycleId, String runId, Set<String> only, boolean dryRun) {
  public CycleRequest {
    only = Set.copyOf(only);
  }
}
