package org.zfsbackup.event;

import java.time.Instant;

/**
 * What a backup cycle reports while it runs. The engine emits these through an {@link EventSink};
 * the MQTT agent maps them onto the contract's topics ({@code T/progress}, {@code T/error}, {@code
 * T/event}), the CLI onto lines of text. The cycle's end is not an event: it is the report that
 * {@code CycleRunner.run} returns, so a cycle that crashes still ends with one.
 */
public sealed interface CycleEvent
    permits CycleEvent.CycleStarted,
        CycleEvent.PhaseStarted,
        CycleEvent.Progress,
        CycleEvent.Error {

  String cycleId();

  /** Phase of a cycle. */
  enum Phase {
    PULL,
    PUSH;

    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Status of one dataset step, as on {@code T/progress}. */
  enum StepStatus {
    STARTED,
    STREAMING,
    DONE,
    SKIPPED,
    FAILED,
    /** Retention destroyed (in a dry run: would destroy) the snapshots in {@code pruned}. */
    PRUNED;

    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  record CycleStarted(String cycleId, String runId, Instant at) implements CycleEvent {}

  record PhaseStarted(String cycleId, Phase phase) implements CycleEvent {}

  /**
   * One dataset's progress: at its start, at least every 5 s while streaming, at its end.
   *
   * @param from incremental base snapshot name, null for a full send or no send
   * @param to snapshot being sent, null when nothing is sent
   * @param totalBytes estimate from {@code zfs send -nP}, null when unknown
   * @param percent 0..100, null when the total is unknown
   * @param pruned with status {@code pruned}: the snapshots' names; else null
   */
  record Progress(
      String cycleId,
      Phase phase,
      String source,
      String dataset,
      String target,
      String from,
      String to,
      StepStatus status,
      long bytes,
      Long totalBytes,
      long bytesPerSecond,
      Double percent,
      String message,
      java.util.List<String> pruned)
      implements CycleEvent {

    /** Any step but pruning. */
    public Progress(
        String cycleId,
        Phase phase,
        String source,
        String dataset,
        String target,
        String from,
        String to,
        StepStatus status,
        long bytes,
        Long totalBytes,
        long bytesPerSecond,
        Double percent,
        String message) {
      this(
          cycleId,
          phase,
          source,
          dataset,
          target,
          from,
          to,
          status,
          bytes,
          totalBytes,
          bytesPerSecond,
          percent,
          message,
          null);
    }
  }

  /**
   * A failure (or, with kind {@code warning}, something that did not fail the dataset, such as a
   * hold that could not be placed).
   *
   * @param kind why; {@link ErrorKind#WARNING} for what did not fail the dataset
   * @param exitCode null when no process exit code applies
   * @param stderr the last lines of the failing process's stderr, or null
   */
  record Error(
      String cycleId,
      ErrorKind kind,
      Phase phase,
      String source,
      String dataset,
      String message,
      Integer exitCode,
      String stderr)
      implements CycleEvent {}
}
