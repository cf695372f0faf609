package org.zfsbackup.cycle;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashSet;
import java.util.Set;
import org.zfsbackup.config.AgentConfig;

/**
 * What to run.
 *
 * @param only {@code source-name:dataset} entries to limit the run to (each one a configured
 *     dataset, checked by the command parser); empty = everything configured
 * @param dryRun plan only: list both sides, decide, change nothing
 */
public record CycleRequest(String cycleId, String runId, Set<String> only, boolean dryRun) {
  /**
   * The time in a cycle id, UTC to the second: {@code 20261127T020000Z} (the agent's {@code
   * 20261127T020000Z-3fa1}, the command line's {@code cli-20261127T020000Z}).
   */
  public static final DateTimeFormatter CYCLE_ID_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  public CycleRequest {
    only = Set.copyOf(only);
  }

  /** Every configured {@code source-name:dataset} of {@code config}: what {@code only} may name. */
  public static Set<String> configuredDatasets(AgentConfig config) {
    Set<String> out = new LinkedHashSet<>();
    for (AgentConfig.SourceConfig s : config.pull().sources()) {
      for (String d : s.datasets()) {
        out.add(s.name() + ":" + d);
      }
    }
    return out;
  }

  /**
   * Limited with {@code datasets} to some configured datasets: its result says nothing of others.
   */
  public boolean limited() {
    return !only.isEmpty();
  }
}
