package org.zfsbackup.cycle;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
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

  /** Without ssh connection sharing: every command opens its own connection. */
  public BackupCycle(AgentConfig config, ProcessRunner runner, Clock clock) {
    this(config, runner, clock, SshSharing.Factory.OFF);
  }

  public BackupCycle(
      AgentConfig config, ProcessRunner runner, Clock clock, SshSharing.Factory sharing) {
    this.config = config;
    this.runner = runner;
    this.clock = clock;
    this.sharing = sharing;
  }

  /** The production wiring: real processes, the system clock, one ssh connection per host. */
  public static BackupCycle create(AgentConfig config) {
    ProcessRunner runner = new RealProcessRunner(config.commands().pv());
    return new BackupCycle(config, runner, Clock.systemUTC(), SshSharing.Factory.inTmp(runner));
  }

  @Override
  public CycleReport run(CycleRequest request, EventSink sink, CycleControl control) {
    Instant started = clock.instant();
    LOG.info("cycle {} started{}", request.cycleId(), request.dryRun() ? " (dry run)" : "");
    sink.accept(new CycleEvent.CycleStarted(request.cycleId(), request.runId(), started));
    List<String> warnings = new ArrayList<>();
    if (request.dryRun()) {
      return cycle(request, sink, control, started, warnings);
    }
    CycleLock.Attempt attempt = CycleLock.tryAcquire(CycleLock.fileFor(config.stateFile()));
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
    // A forced stop (and SIGTERM) ends the short command in flight too (a listing of a host that
    // hangs, over ssh), not only the stream: nothing the cycle started outlives it.
    Runnable stopShort = runner::stopRunning;
    control.register(stopShort);
    // One ssh connection per host for the whole cycle, closed when it ends (docs/design.md).
    try (CycleSsh ssh = CycleSsh.open(sharing, config, request, sink, control)) {
      return phases(request, sink, control, started, warnings, ssh);
    } finally {
      control.unregister(stopShort);
    }
  }

  private CycleReport phases(
      CycleRequest request,
      EventSink sink,
      CycleControl control,
      Instant started,
      List<String> warnings,
      CycleSsh ssh) {
    List<DatasetResult> results = new ArrayList<>();

    TransferContext.Scope scope = scope(request, sink, control);
    sink.accept(new CycleEvent.PhaseStarted(request.cycleId(), Phase.PULL));
    Endpoint local = Endpoint.local(config.commands().zfs());
    String pullTarget = config.pull().target();
    TargetSide pullSide = new TargetSide(local, pullTarget);
    Optional<PushConfig> push = config.push();
    Pruning pruning = new Pruning(config, scope, local);
    // The sources side by side (replication.parallel_sources), each host's datasets in order; the
    // results, and the source listings retention needs, in the configuration's order.
    List<Supplier<Ran>> pulls = new ArrayList<>();
    for (SourceConfig source : config.pull().sources()) {
      Set<String> only = selection(request, source.name());
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
      Set<String> only = pushSelection(request);
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
        Map<String, String> heldBack = heldBack(results);
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
                  pushMapping(p),
                  p.receiveOptions(),
                  p.raw(),
                  holdTag,
                  heldBack);
          pushes.add(() -> run(route, scope, List.of()));
        }
        for (Ran ran : SideBySide.run(pushes, parallel, "zba-push")) {
          collect(ran.result(), results, warnings);
          pruning.listed(Phase.PUSH, ran.sourceName(), ran.sourceListing());
        }
      }
    }

    Pruning.Result pruned = pruning.prune(results, offsite);
    warnings.addAll(pruned.warnings());
    return finish(request, started, results, warnings, pruned.pruned(), outcome(results, control));
  }

  /** The pull failures that mean a backup copy is not what its source sent. */
  private static final Set<ErrorKind> NOT_FROM_SOURCE =
      EnumSet.of(ErrorKind.DIVERGED, ErrorKind.NO_COMMON_SNAPSHOT, ErrorKind.TARGET_EXISTS);

  /**
   * The backup copies the push leaves alone this cycle, with the reason: those whose pull was
   * refused because the copy holds snapshots its source did not send (diverged), shares none with
   * it, or is not the agent's. Pushing them would carry the same problem offsite, and move the
   * push's hold onto a snapshot the documented fix ({@code zfs rollback -r}) has to destroy.
   * Another pull failure (an unreachable host) leaves the copy as the last cycle made it, and it is
   * pushed as usual.
   */
  static Map<String, String> heldBack(List<DatasetResult> pulled) {
    Map<String, String> heldBack = new HashMap<>();
    for (DatasetResult d : pulled) {
      if (d.phase() == Phase.PULL && NOT_FROM_SOURCE.contains(d.kind())) {
        heldBack.put(
            d.target(),
            "not pushed: its pull was refused this cycle ("
                + d.kind().wire()
                + "), and pushing it would carry that offsite; fix the backup copy as the pull"
                + " error says, then run again");
      }
    }
    return heldBack;
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
    CycleReport report =
        new CycleReport(
            request.cycleId(),
            request.runId(),
            outcome,
            started,
            finished,
            results,
            warnings,
            pruned);
    LOG.info(
        "cycle {} {}: {} sent, {} up to date, {} skipped, {} failed, {} bytes in {} ms",
        report.cycleId(),
        report.outcome().wire(),
        report.count(Status.SENT),
        report.count(Status.UP_TO_DATE),
        report.count(Status.SKIPPED),
        report.count(Status.FAILED),
        report.bytes(),
        report.duration().toMillis());
    return report;
  }

  /**
   * The contract's path mapping: the local dataset minus {@code strip_prefix}, below {@code
   * target}.
   */
  static UnaryOperator<String> pushMapping(PushConfig p) {
    String prefix = p.stripPrefix();
    return d -> {
      if (d.equals(prefix)) {
        return p.target();
      }
      if (!d.startsWith(prefix + "/")) {
        throw new IllegalArgumentException(d + " is not below strip_prefix " + prefix);
      }
      return p.target() + d.substring(prefix.length());
    };
  }

  static Outcome outcome(List<DatasetResult> results, CycleControl control) {
    if (control.stopRequested()) {
      return switch (control.stopReason()) {
        case SUSPEND -> Outcome.SUSPENDED;
        case CANCEL -> Outcome.CANCELLED;
        case INTERRUPT -> Outcome.INTERRUPTED;
      };
    }
    long failed = results.stream().filter(r -> r.status() == Status.FAILED).count();
    long good =
        results.stream()
            .filter(r -> r.status() == Status.SENT || r.status() == Status.UP_TO_DATE)
            .count();
    if (failed == 0) {
      return Outcome.SUCCESS;
    }
    return good > 0 ? Outcome.PARTIAL : Outcome.FAILED;
  }

  /**
   * The datasets of {@code source} a request is limited to ({@code source:dataset} entries, each
   * selecting that dataset and its children); null when the request is not limited.
   */
  static Set<String> selection(CycleRequest request, String source) {
    if (request.only().isEmpty()) {
      return null;
    }
    Set<String> roots = new LinkedHashSet<>();
    for (String entry : request.only()) {
      int colon = entry.indexOf(':');
      if (colon > 0 && entry.substring(0, colon).equals(source)) {
        roots.add(entry.substring(colon + 1));
      }
    }
    return roots;
  }

  /** A limited run pushes only what it pulled: {@code pull.target/<source>/<dataset>} and below. */
  private Set<String> pushSelection(CycleRequest request) {
    if (request.only().isEmpty()) {
      return null;
    }
    Set<String> roots = new LinkedHashSet<>();
    for (String entry : request.only()) {
      int colon = entry.indexOf(':');
      if (colon > 0) {
        roots.add(
            config.pull().target()
                + "/"
                + entry.substring(0, colon)
                + "/"
                + entry.substring(colon + 1));
      }
    }
    return roots;
  }
}
