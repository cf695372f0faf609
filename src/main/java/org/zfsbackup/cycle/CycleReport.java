package org.zfsbackup.cycle;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import org.slf4j.Marker;
import org.slf4j.MarkerFactory;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.ErrorKind;

/**
 * The outcome of one cycle: every dataset's result, in the order they were handled.
 *
 * @param pruned what retention destroyed (in a dry run: would destroy), per dataset
 * @param duration how long it took, on the monotonic clock: a wall clock stepped by NTP meanwhile
 *     moves {@code finishedAt} but not this (a report made from timestamps alone, as for a cycle
 *     the agent did not live to end, takes their difference, 0 when it is negative)
 */
public record CycleReport(
    String cycleId,
    String runId,
    Outcome outcome,
    Instant startedAt,
    Instant finishedAt,
    List<DatasetResult> datasets,
    List<String> warnings,
    List<Pruned> pruned,
    Duration duration) {
  /**
   * Marks a log line whose content the report repeats (a dataset's failure, a cycle that could not
   * start): {@code run --quiet} drops it, so a cron mail has each failure once.
   */
  public static final Marker IN_REPORT = MarkerFactory.getMarker("zba-in-report");

  /** A cycle without pruning. */
  public CycleReport(
      String cycleId,
      String runId,
      Outcome outcome,
      Instant startedAt,
      Instant finishedAt,
      List<DatasetResult> datasets,
      List<String> warnings) {
    this(cycleId, runId, outcome, startedAt, finishedAt, datasets, warnings, List.of());
  }

  /** A cycle whose duration is told by its timestamps. */
  public CycleReport(
      String cycleId,
      String runId,
      Outcome outcome,
      Instant startedAt,
      Instant finishedAt,
      List<DatasetResult> datasets,
      List<String> warnings,
      List<Pruned> pruned) {
    this(
        cycleId,
        runId,
        outcome,
        startedAt,
        finishedAt,
        datasets,
        warnings,
        pruned,
        max(Duration.ZERO, Duration.between(startedAt, finishedAt)));
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /**
   * The snapshots retention destroyed in one dataset.
   *
   * @param phase {@code pull} below {@code pull.target}, {@code push} below {@code push.target}
   * @param source the source's name, {@code local} for the offsite tier
   * @param dataset the dataset it was replicated from
   * @param target the dataset whose snapshots were destroyed
   * @param snapshots their names (after the {@code @}), oldest first
   */
  public record Pruned(
      Phase phase, String source, String dataset, String target, List<String> snapshots) {}

  /** This report with the duration measured on the monotonic clock. */
  public CycleReport took(Duration measured) {
    return new CycleReport(
        cycleId, runId, outcome, startedAt, finishedAt, datasets, warnings, pruned, measured);
  }

  /** How many snapshots retention destroyed (in a dry run: would destroy). */
  public long prunedCount() {
    return pruned.stream().mapToLong(p -> p.snapshots().size()).sum();
  }

  public enum Outcome {
    SUCCESS,
    PARTIAL,
    FAILED,
    CANCELLED,
    SUSPENDED,
    /** SIGTERM or SIGINT stopped the process mid-cycle; its streams were killed. */
    INTERRUPTED;

    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** What became of one dataset. */
  public enum Status {
    /** At least one snapshot was received. */
    SENT,
    UP_TO_DATE,
    /** Nothing to do that is a problem: no source snapshots, or not started because of a stop. */
    SKIPPED,
    FAILED;

    public String wire() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * @param plan what was (or, for {@code plan}, would be) done, e.g. {@code full @a,
   *     incremental @a..@c}
   * @param message why it failed or was skipped; null on success
   * @param kind why it failed, as on {@code T/error}; null unless it failed
   */
  public record DatasetResult(
      Phase phase,
      String source,
      String dataset,
      String target,
      Status status,
      long bytes,
      String plan,
      String message,
      ErrorKind kind) {}

  public long bytes() {
    return datasets.stream().mapToLong(DatasetResult::bytes).sum();
  }

  public long count(Status status) {
    return datasets.stream().filter(d -> d.status() == status).count();
  }
}
