package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Pruned;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent.Phase;

/**
 * What {@code run} and {@code plan} print of pruning (catches: not printed, or printed by --quiet).
 */
class CliCyclePruneTest {
  static final Instant T0 = Instant.parse("2026-11-27T02:00:00Z");

  static CycleRunner pruning() {
    return pruning(List.of());
  }

  static CycleRunner pruning(List<String> warnings) {
    return (request, sink, control) ->
        new CycleReport(
            request.cycleId(),
            null,
            Outcome.SUCCESS,
            T0,
            T0,
            List.of(
                new DatasetResult(
                    Phase.PULL,
                    "h",
                    "tank/d",
                    "bak/h/tank/d",
                    Status.UP_TO_DATE,
                    0,
                    "up to date",
                    null,
                    null)),
            warnings,
            List.of(new Pruned(Phase.PULL, "h", "tank/d", "bak/h/tank/d", List.of("a", "b"))));
  }

  static String run(boolean plan, boolean quiet) {
    return run(pruning(), plan, quiet);
  }

  static String run(CycleRunner cycle, boolean plan, boolean quiet) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CliCycle.run(
        cycle,
        plan,
        quiet,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void run_printsPrunedSnapshotsAndTheCount() {
    String out = run(false, false);
    assertTrue(out.contains("pull h tank/d -> bak/h/tank/d: pruned @a, @b"), out);
    assertTrue(out.contains("2 snapshot(s) pruned"), out);
  }

  @Test
  void plan_saysWouldPrune() {
    String out = run(true, false);
    assertTrue(out.contains("pull h tank/d -> bak/h/tank/d: would prune @a, @b"), out);
    assertTrue(out.contains("2 snapshot(s) to prune"), out);
  }

  @Test
  void quiet_printsNothingOnSuccess() {
    assertEquals("", run(false, true));
  }

  // Catches: --quiet (cron) hiding a warning that needs attention, such as a destroy that fails
  // every night (the pool fills) or a hold that fails (the chain is not protected).
  @Test
  void quiet_successWithAWarning_printsTheWarningOnly() {
    String w = "destroy_failed: could not destroy bak/h/tank/d@a: dataset is busy";
    assertEquals("warning: " + w + "\n", run(pruning(List.of(w)), false, true));
  }
}
