package org.zfsbackup.cycle;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.cycle.ConfigDrift.Drift;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.cycle.CycleReport.Pruned;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.event.EventSink;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.exec.SshSharing;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsListing;

/**
 * One backup cycle: the pull phase (every source host into {@code pull.target/<source>/...}), then
 * the push phase (local backups to the offsite host). Each phase is a set of {@link Transfer}s that
 * differ only in which side is local. One failed dataset or unreachable host never stops the
 * others; a stop request ends the cycle between datasets.
 */
public final class BackupCycle implements CycleRunner {
  private static final Logger LOG = LoggerFactory.getLogger(BackupCycle.class);
  static final String HOLD_PREFIX = "zfs-backup-agent:";

  private final AgentConfig config;
  private final ProcessRunner runner;
  private final Clock clock;
  private final SshSharing.Factory sharing;
  private final ConfigDrift drift; // the agent's: whether its file changed since; null: the CLI's

  /** Without ssh connection sharing: every command opens its own connection. */
  public BackupCycle(AgentConfig config, ProcessRunner runner, Clock clock) {
    this(config, runner, clock, SshSharing.Factory.OFF);
  }

  public BackupCycle(
      AgentConfig config, ProcessRunner runner, Clock clock, SshSharing.Factory sharing) {
    this(config, runner, clock, sharing, null);
  }

  private BackupCycle(
      AgentConfig config,
      ProcessRunner runner,
      Clock clock,
      SshSharing.Factory sharing,
      ConfigDrift drift) {
    this.config = config;
    this.runner = runner;
    this.clock = clock;
    this.sharing = sharing;
    this.drift = drift;
  }

  /**
   * Whether the cycle may prune: not while the agent's file changed since it started in its
   * retention, or no longer loads ({@link ConfigDrift}). A change is said once per cycle (logged,
   * published as a warning, in the report).
   */
  private boolean mayPrune(CycleRequest request, EventSink sink, List<String> warnings) {
    Optional<Drift> changed = drift == null ? Optional.empty() : drift.check();
    changed
        .filter(d -> !warnings.contains(d.message()))
        .ifPresent(
            d -> {
              LOG.warn("cycle {}: {}", request.cycleId(), d.message());
              sink.accept(
                  new CycleEvent.Error(
                      request.cycleId(),
                      ErrorKind.WARNING,
                      null,
                      null,
                      null,
                      d.message(),
                      null,
                      null));
              warnings.add(d.message());
            });
    return changed.filter(Drift::holdsBackPruning).isEmpty();
  }

  /** This engine, saying at each cycle whether the configuration file changed ({@code drift}). */
  public BackupCycle watching(ConfigDrift drift) {
    return new BackupCycle(config, runner, clock, sharing, drift);
  }

  /** The production wiring: real processes, the system clock, one ssh connection per host. */
  public static BackupCycle create(AgentConfig config) {
    ProcessRunner runner = new RealProcessRunner(config.commands().pv());
    return new BackupCycle(config, runner, Clock.systemUTC(), SshSharing.Factory.inTmp(runner));
  }

  @Override
  public CycleReport run(CycleRequest request, EventSink sink, CycleControl control) {
    long startNanos = System.nanoTime(); // a wall clock stepped back by NTP meanwhile is not
    CycleReport report = runLocked(request, sink, control);
    report = report.took(Duration.ofNanos(System.nanoTime() - startNanos));
    LOG.info(
        "cycle {} {}: {} {}, {} up to date, {} skipped, {} failed, {} bytes in {} ms",
        report.cycleId(),
        report.outcome().wire(),
        report.count(Status.SENT),
        request.dryRun() ? "to send" : "sent",
        report.count(Status.UP_TO_DATE),
        report.count(Status.SKIPPED),
        report.count(Status.FAILED),
        report.bytes(),
        report.duration().toMillis());
    return report;
  }

  private CycleReport runLocked(CycleRequest request, EventSink sink, CycleControl control) {
    Instant started = clock.instant();
    LOG.info("cycle {} started{}", request.cycleId(), request.dryRun() ? " (dry run)" : "");
    sink.accept(new CycleEvent.CycleStarted(request.cycleId(), request.runId(), started));
    List<String> warnings = new ArrayList<>();
    Path lockFile = CycleLock.fileFor(config.stateFile());
    if (request.dryRun()) {
      CycleLock.holder(lockFile)
          .map(
              pid ->
                  ("a backup cycle is running now with this configuration, or the agent's"
                          + " power-down (process %d holds %s): this plan shows the datasets as"
                          + " they are now; a dataset a cycle is receiving may show as to send"
                          + " again, or refused; plan again once it ended")
                      .formatted(pid, lockFile))
          .ifPresent(warnings::add);
      return cycle(request, sink, control, started, warnings);
    }
    CycleLock.Attempt attempt = CycleLock.tryAcquire(lockFile);
    if (attempt instanceof CycleLock.Busy busy) {
      String msg =
          "another backup cycle is running with this configuration ("
              + busy.file()
              + " is locked, by `run` from cron or the agent); nothing was done";
      LOG.error(CycleReport.IN_REPORT, "cycle {} not started: {}", request.cycleId(), msg);
      sink.accept(
          new CycleEvent.Error(
              request.cycleId(), ErrorKind.CYCLE_LOCKED, null, null, null, msg, null, null));
      warnings.add(msg);
      return finish(request, started, List.of(), warnings, List.of(), Outcome.FAILED);
    }
    if (attempt instanceof CycleLock.Unavailable u) {
      String msg =
          "cannot take the cycle lock " + u.file() + " (" + u.why() + "): running without it";
      LOG.warn("cycle {}: {}", request.cycleId(), msg);
      sink.accept(
          new CycleEvent.Error(
              request.cycleId(), ErrorKind.WARNING, null, null, null, msg, null, null));
      warnings.add(msg);
      return cycle(request, sink, control, started, warnings);
    }
    try (CycleLock held = ((CycleLock.Acquired) attempt).lock()) {
      return cycle(request, sink, control, started, warnings);
    }
  }

  private CycleReport cycle(
      CycleRequest request,
      EventSink sink,
      CycleControl control,
      Instant started,
      List<String> warnings) {
    // The agent's file edited since it started: said, and no pruning while its retention differs.
    boolean prune = mayPrune(request, sink, warnings);
    // A forced stop (and SIGTERM) ends the short command in flight too (a listing of a host that
    // hangs, over ssh), not only the stream: nothing the cycle started outlives it.
    Runnable stopShort = runner::stopRunning;
    control.register(stopShort);
    // One ssh connection per host for the whole cycle, closed when it ends (docs/design.md).
    try (CycleSsh ssh = CycleSsh.open(sharing, config, request, sink, control)) {
      try {
        return phases(request, sink, control, started, warnings, ssh, prune);
      } finally {
        control.unregister(stopShort); // first: a late stop must not kill the masters' -O exit
      }
    }
  }

  private CycleReport phases(
      CycleRequest request,
      EventSink sink,
      CycleControl control,
      Instant started,
      List<String> warnings,
      CycleSsh ssh,
      boolean prune) {
    List<DatasetResult> results = new ArrayList<>();

    TransferContext.Scope scope = scope(request, sink, control);
    sink.accept(new CycleEvent.PhaseStarted(request.cycleId(), Phase.PULL));
    Endpoint local = Endpoint.local(config.commands().zfs());
    String pullTarget = config.pull().target();
    TargetSide pullSide = new TargetSide(local, pullTarget);
    Optional<PushConfig> push = config.push();
    Pruning pruning =
        new Pruning(prune ? config.retention() : Optional.empty(), config, scope, local);
    // The sources side by side (replication.parallel_sources), each host's datasets in order; the
    // results, and the source listings retention needs, in the configuration's order.
    List<Supplier<Ran>> pulls = new ArrayList<>();
    for (SourceConfig source : config.pull().sources()) {
      Set<String> only = CycleRules.selection(request, source);
      if (only != null && only.isEmpty()) {
        continue;
      }
      pulls.add(
          () -> {
            List<String> sharingWarnings = new ArrayList<>();
            Endpoint from =
                ssh.endpoint(
                    config.endpoint(source.host(), source.user(), source.port()),
                    Phase.PULL,
                    source.name(),
                    sharingWarnings);
            TransferContext.Route route =
                new TransferContext.Route(
                    Phase.PULL,
                    source.name(),
                    from,
                    source.datasets(),
                    only,
                    pullSide,
                    d -> pullTarget + "/" + source.name() + "/" + d,
                    config.pull().receiveOptions(),
                    false,
                    HOLD_PREFIX + pullTarget,
                    Map.of(),
                    Map.of());
            return run(route, scope, sharingWarnings);
          });
    }
    int parallel = config.replication().parallelSources();
    for (Ran ran : SideBySide.run(pulls, parallel, "zba-pull")) {
      collect(ran.result(), results, warnings);
      pruning.listed(Phase.PULL, ran.sourceName(), ran.sourceListing());
    }

    // The push host's shared connection, set by the push phase (which warned already if it could
    // not be shared): retention's offsite listing and destroys go through it.
    Endpoint offsite = null;
    if (push.isPresent()) {
      PushConfig p = push.get();
      Set<String> only = CycleRules.pushSelection(request, config.pull().sources(), pullTarget);
      if (only == null || !only.isEmpty()) {
        if (!control.stopRequested()) {
          sink.accept(new CycleEvent.PhaseStarted(request.cycleId(), Phase.PUSH));
        }
        List<String> sharingWarnings = new ArrayList<>();
        Endpoint remote =
            ssh.endpoint(
                config.endpoint(p.host(), p.user(), p.port()),
                Phase.PUSH,
                "local",
                sharingWarnings);
        warnings.addAll(sharingWarnings);
        offsite = remote;
        String holdTag = HOLD_PREFIX + p.host().map(h -> h + ":").orElse("") + p.target();
        TargetSide pushSide = new TargetSide(remote, p.target());
        Map<String, String> heldBack = CycleRules.heldBack(results);
        Map<String, String> notThereYet =
            CycleRules.notThereYet(results, request.dryRun(), pullTarget);
        // Independent trees of push.datasets side by side, like the sources of the pull phase.
        List<Supplier<Ran>> pushes = new ArrayList<>();
        for (List<String> tree : Datasets.trees(p.datasets())) {
          TransferContext.Route route =
              new TransferContext.Route(
                  Phase.PUSH,
                  "local",
                  local,
                  tree,
                  only,
                  pushSide,
                  CycleRules.pushMapping(p),
                  p.receiveOptions(),
                  p.raw(),
                  holdTag,
                  heldBack,
                  notThereYet);
          pushes.add(() -> run(route, scope, List.of()));
        }
        for (Ran ran : SideBySide.run(pushes, parallel, "zba-push")) {
          collect(ran.result(), results, warnings);
          pruning.listed(Phase.PUSH, ran.sourceName(), ran.sourceListing());
        }
      }
    }

    // Asked again before pruning: the file may have been edited while the streams ran.
    boolean stillPrune = prune && mayPrune(request, sink, warnings);
    Pruning.Result pruned = stillPrune ? pruning.prune(results, offsite) : Pruning.Result.NOTHING;
    warnings.addAll(pruned.warnings());
    return finish(
        request,
        started,
        results,
        warnings,
        pruned.pruned(),
        CycleRules.outcome(results, control, config.pull().target()));
  }

  /** What every transfer of this cycle shares. */
  private TransferContext.Scope scope(CycleRequest request, EventSink sink, CycleControl control) {
    var rc = config.replication();
    return new TransferContext.Scope(
        request.cycleId(),
        request.dryRun(),
        sink,
        control,
        runner,
        rc.shortCommandTimeout(),
        rc.stallTimeout(),
        rc.holds(),
        rc.resumable());
  }

  /**
   * What one transfer did, and the source listing it planned with (retention finds each dataset's
   * base in it; null when the source could not be listed).
   */
  private record Ran(Transfer.Result result, String sourceName, ZfsListing sourceListing) {}

  /** One transfer; the warnings of its host's connection sharing come first. */
  private static Ran run(
      TransferContext.Route route, TransferContext.Scope scope, List<String> sharingWarnings) {
    Transfer transfer = new Transfer(new TransferContext(scope, route));
    Transfer.Result r = transfer.run();
    if (!sharingWarnings.isEmpty()) {
      List<String> all = new ArrayList<>(sharingWarnings);
      all.addAll(r.warnings());
      r = new Transfer.Result(r.datasets(), all);
    }
    return new Ran(r, route.sourceName(), transfer.sourceListing());
  }

  private static void collect(
      Transfer.Result transfer, List<DatasetResult> results, List<String> warnings) {
    results.addAll(transfer.datasets());
    warnings.addAll(transfer.warnings());
  }

  private CycleReport finish(
      CycleRequest request,
      Instant started,
      List<DatasetResult> results,
      List<String> warnings,
      List<Pruned> pruned,
      Outcome outcome) {
    Instant finished = clock.instant();
    return new CycleReport(
        request.cycleId(), request.runId(), outcome, started, finished, results, warnings, pruned);
  }
}
