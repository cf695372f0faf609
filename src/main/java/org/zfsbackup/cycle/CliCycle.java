package org.zfsbackup.cycle;

import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.EventSink;

/**
 * The {@code run} and {@code plan} commands: one cycle without MQTT, one line per dataset (phase,
 * source, dataset, target, outcome, bytes). {@code --quiet} prints nothing on a clean success, and
 * only the warnings and failures otherwise, like the old {@code zfs-pull-backups.py --quiet} under
 * cron. Returns whether the cycle succeeded; {@code Main} turns that into the exit code.
 */
public final class CliCycle {
  private static final Logger LOG = LoggerFactory.getLogger(CliCycle.class);

  private CliCycle() {}

  /**
   * How long SIGTERM or SIGINT waits for the interrupted cycle to end and print its report: the
   * streams' kill and abandonment bound (15 s) and the short commands after it, within systemd's
   * default stop timeout (90 s).
   */
  static final Duration INTERRUPT_BOUND = Duration.ofSeconds(60);

  /**
   * Runs one cycle (or, with {@code planOnly}, a dry run) and prints its report. SIGTERM or SIGINT
   * (systemd stop, a cron job's timeout, Ctrl-C) interrupts it: a shutdown hook kills the streams
   * it started and waits for them (no {@code zfs send}, {@code receive}, {@code pv} or {@code ssh}
   * outlives the JVM), and for the report, which says {@code interrupted}; the JVM then exits with
   * the signal's status (143 or 130).
   *
   * @return true when no dataset failed and the cycle could start
   */
  public static boolean run(
      AgentConfig config, boolean planOnly, boolean quiet, PrintStream out, PrintStream err) {
    return run(config, planOnly, quiet, Set.of(), out, err);
  }

  /**
   * The same, limited to {@code only} (configured {@code source-name:dataset} entries, each with
   * its children; empty = every configured dataset), as MQTT's {@code datasets} limits a run.
   */
  public static boolean run(
      AgentConfig config,
      boolean planOnly,
      boolean quiet,
      Set<String> only,
      PrintStream out,
      PrintStream err) {
    CycleControl control = new CycleControl();
    CountDownLatch reported = new CountDownLatch(1);
    Thread hook =
        new Thread(
            () -> {
              if (reported.getCount() == 0) {
                return;
              }
              LOG.warn(
                  "stopping (SIGTERM, SIGINT or SIGHUP): interrupting the cycle, killing its streams");
              control.stop(CycleControl.StopReason.INTERRUPT, true);
              try {
                if (!reported.await(INTERRUPT_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
                  LOG.error(
                      "the interrupted cycle did not end within {} s", INTERRUPT_BOUND.toSeconds());
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "run-interrupt");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      return run(BackupCycle.create(config), planOnly, quiet, only, out, err, control);
    } finally {
      out.flush();
      err.flush();
      reported.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // the JVM is shutting down: the hook is running, and returns now
      }
    }
  }

  static boolean run(
      CycleRunner cycle, boolean planOnly, boolean quiet, PrintStream out, PrintStream err) {
    return run(cycle, planOnly, quiet, Set.of(), out, err, new CycleControl());
  }

  private static boolean run(
      CycleRunner cycle,
      boolean planOnly,
      boolean quiet,
      Set<String> only,
      PrintStream out,
      PrintStream err,
      CycleControl control) {
    String id = (planOnly ? "plan-" : "cli-") + CycleRequest.CYCLE_ID_TIME.format(Instant.now());
    EventSink sink = quiet || planOnly ? EventSink.NONE : live(out);
    CycleReport report = cycle.run(new CycleRequest(id, null, only, planOnly), sink, control);
    // A cycle that could not start (another one holds the lock) failed without a dataset.
    boolean failed =
        report.count(Status.FAILED) > 0
            || report.outcome() == CycleReport.Outcome.FAILED
            || report.outcome() == CycleReport.Outcome.INTERRUPTED;
    for (DatasetResult d : report.datasets()) {
      if (!quiet || d.status() == Status.FAILED) {
        (d.status() == Status.FAILED ? err : out).println(line(d, planOnly));
      }
    }
    for (CycleReport.Pruned p : quiet ? List.<CycleReport.Pruned>of() : report.pruned()) {
      out.println(pruneLine(p, planOnly));
    }
    // Warnings need attention (a hold or a prune that failed every night), so --quiet prints them
    // too, as the old scripts always printed their errors: quiet is silent on a clean success.
    for (String w : report.warnings()) {
      err.println((report.datasets().isEmpty() && failed ? "error: " : "warning: ") + w);
    }
    if (quiet && !failed) {
      return true;
    }
    (failed ? err : out)
        .printf(
            Locale.ROOT,
            "%s %s: %d dataset%s, %d %s, %d up to date, %d skipped, %d failed, %s%s in %.2f s%n",
            planOnly ? "plan" : "cycle",
            report.outcome().wire(),
            report.datasets().size(),
            report.datasets().size() == 1 ? "" : "s",
            report.count(Status.SENT),
            planOnly ? "to send" : "sent",
            report.count(Status.UP_TO_DATE),
            report.count(Status.SKIPPED),
            report.count(Status.FAILED),
            bytes(report.bytes()),
            report.pruned().isEmpty()
                ? ""
                : ", "
                    + report.prunedCount()
                    + " snapshot(s) "
                    + (planOnly ? "to prune" : "pruned"),
            report.duration().toMillis() / 1000.0);
    return !failed;
  }

  /**
   * Prints each step as it starts and ends, as they happen (from several threads when sources run
   * side by side: PrintStream prints each line whole); the final per-dataset lines come from the
   * report, in the configuration's order.
   */
  private static EventSink live(PrintStream out) {
    return e -> {
      if (e instanceof CycleEvent.Progress p && p.status() == CycleEvent.StepStatus.STARTED) {
        out.printf(
            "... %s %s %s -> %s: %s%n",
            p.phase().wire(), p.source(), p.dataset(), p.target(), p.message());
      } else if (e instanceof CycleEvent.Progress p
          && p.status() == CycleEvent.StepStatus.DONE
          && p.bytes() > 0) {
        // Several sources stream at once (replication.parallel_sources): the line names its own.
        out.printf(
            Locale.ROOT,
            "... done: %s %s %s: %s at %s/s (%d B/s)%n",
            p.phase().wire(),
            p.source(),
            p.dataset(),
            bytes(p.bytes()),
            shortBytes(p.bytesPerSecond()),
            p.bytesPerSecond());
      }
    };
  }

  private static String shortBytes(long n) {
    String full = bytes(n);
    int paren = full.indexOf(" (");
    return paren < 0 ? full : full.substring(0, paren);
  }

  static String line(DatasetResult d, boolean planOnly) {
    String outcome =
        switch (d.status()) {
          case SENT -> planOnly ? d.plan() : "sent (" + d.plan() + ")";
          case UP_TO_DATE -> d.plan();
          case SKIPPED -> "skipped: " + d.message();
          case FAILED -> (planOnly ? "refused: " : "FAILED: ") + d.message();
        };
    return String.format(
        Locale.ROOT,
        "%-4s %s %s -> %s: %s%s",
        d.phase().wire(),
        d.source(),
        d.dataset(),
        d.target(),
        outcome,
        d.status() == Status.SENT && !planOnly ? ", " + bytes(d.bytes()) : "");
  }

  /** {@code pull host tank/a -> bak/host/tank/a: pruned @a, @b} ({@code would prune} in a plan). */
  static String pruneLine(CycleReport.Pruned p, boolean planOnly) {
    return String.format(
        Locale.ROOT,
        "%-4s %s %s -> %s: %s @%s",
        p.phase().wire(),
        p.source(),
        p.dataset(),
        p.target(),
        planOnly ? "would prune" : "pruned",
        String.join(", @", p.snapshots()));
  }

  static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s (%d bytes)", v, units[u], n);
  }
}
