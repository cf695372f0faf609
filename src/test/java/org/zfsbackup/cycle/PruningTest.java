package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.KeepPolicy;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.RetentionConfig;
import org.zfsbackup.cycle.CycleReport.DatasetResult;
import org.zfsbackup.cycle.CycleReport.Status;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.event.CycleEvent.Phase;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.testing.LogCapture;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsListing;

/**
 * Pruning's protections from listings that real ZFS does not produce in a successful cycle (where
 * every base is also the newest snapshot): a push base older than the newest on the backup server.
 * The listings are scripted; {@link RetentionIT} runs the whole cycle on zfs-fuse.
 */
class PruningTest {
  static final String BAK = "bak/h/tank/d";
  static final String OFF = "off/h/tank/d";
  static final long DAY = 86_400;
  static final long JAN1 = 1_767_225_600L; // 2026-01-01T00:00:00Z

  /** name, guid, createtxg, creation, userrefs lines for a dataset and its snapshots. */
  static String listing(String ds, String... snaps) {
    StringBuilder b = new StringBuilder();
    b.append(ds).append("\tguid\t9").append(ds.length()).append('\n');
    b.append(ds).append("\tcreatetxg\t1\n");
    b.append(ds).append("\tcreation\t").append(JAN1).append('\n');
    b.append(ds).append("\tuserrefs\t-\n");
    int i = 0;
    for (String s : snaps) {
      i++;
      String name = ds + "@" + s;
      b.append(name).append("\tguid\t").append(100 + s.charAt(0)).append('\n');
      b.append(name).append("\tcreatetxg\t").append(10 + i).append('\n');
      b.append(name).append("\tcreation\t").append(JAN1 + i * DAY).append('\n');
      b.append(name).append("\tuserrefs\t0\n");
    }
    return b.toString();
  }

  static class Scripted implements ProcessRunner {
    final List<String> destroys = new ArrayList<>();
    String backup;
    String offsite;

    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      String cmd = String.join(" ", argv);
      if (cmd.contains("destroy")) {
        destroys.add(argv.get(argv.size() - 1).replace("'", ""));
        return new ProcessResult(argv, 0, "", "", false, false);
      }
      String out = cmd.contains("-r off") ? offsite : backup;
      if (out == null) {
        return new ProcessResult(
            argv, 255, "", "ssh: connect to host albion: refused", false, false);
      }
      return new ProcessResult(argv, 0, out, "", false, false);
    }

    @Override
    public PipeResult pipe(
        List<String> send, List<String> receive, ByteProgress p, Duration stall, KillSwitch k) {
      throw new UnsupportedOperationException();
    }
  }

  static AgentConfig config(KeepPolicy backup, KeepPolicy offsite) {
    PushConfig push =
        new PushConfig(
            Optional.of("albion"),
            Optional.empty(),
            Optional.empty(),
            "off",
            "bak",
            true,
            List.of(),
            List.of("bak"));
    AgentConfig c =
        TestConfigs.config(
            List.of("ssh"),
            "bak",
            List.of(TestConfigs.localSource("h", "tank/d")),
            Optional.of(push));
    RetentionConfig r =
        new RetentionConfig(
            Optional.ofNullable(backup),
            Optional.ofNullable(offsite),
            "creation",
            Optional.of("UTC"));
    return TestConfigs.withRetention(c, Optional.of(r));
  }

  static Pruning pruning(AgentConfig c, Scripted runner, List<CycleEvent> events, boolean dryRun) {
    TransferContext.Scope scope =
        new TransferContext.Scope(
            "t",
            dryRun,
            events::add,
            new CycleControl(),
            runner,
            Duration.ofSeconds(5),
            Duration.ofSeconds(5),
            false,
            true);
    return new Pruning(c.retention(), c, scope, Endpoint.local(List.of("zfs")));
  }

  /** The push host's side, as the push phase hands it to {@link Pruning#prune}. */
  static final Endpoint OFFSITE =
      Endpoint.remote(
          "albion",
          Optional.empty(),
          Optional.empty(),
          List.of("ssh"),
          List.of("zfs"),
          Duration.ofSeconds(5));

  static final KeepPolicy LAST1 = new KeepPolicy(1, 0, 0, 0, 0, 0);

  static List<DatasetResult> replicated(Status pull, Status push) {
    return List.of(
        new DatasetResult(Phase.PULL, "h", "tank/d", BAK, pull, 0, "", null, null),
        new DatasetResult(Phase.PUSH, "local", BAK, OFF, push, 0, "", null, null));
  }

  /** Catches: the push base destroyed on the backup server when it is not its newest snapshot. */
  @Test
  void backupTier_pushBaseOlderThanNewest_isKept() {
    Scripted runner = new Scripted();
    runner.backup = listing(BAK, "a", "b", "c");
    runner.offsite = listing(OFF, "a", "b");
    List<CycleEvent> events = new ArrayList<>();
    Pruning p = pruning(config(LAST1, null), runner, events, false);
    p.listed(
        Phase.PULL,
        "h",
        ZfsListing.parse(
            listing("tank/d", "a", "b", "c").replaceAll("(?m)^.*\tcreation\t.*\n", "")));
    Pruning.Result r = p.prune(replicated(Status.UP_TO_DATE, Status.UP_TO_DATE), OFFSITE);
    assertEquals(List.of("bak/h/tank/d@a"), runner.destroys);
    assertEquals(1, r.pruned().size());
    assertEquals(List.of("a"), r.pruned().get(0).snapshots());
  }

  /** Catches: a backup dataset pruned when its push failed (its push base is then unknown). */
  @Test
  void backupTier_pushFailed_leftAlone() {
    Scripted runner = new Scripted();
    runner.backup = listing(BAK, "a", "b", "c");
    runner.offsite = listing(OFF, "a", "b");
    Pruning p = pruning(config(LAST1, null), runner, new ArrayList<>(), false);
    Pruning.Result r = p.prune(replicated(Status.SENT, Status.FAILED), OFFSITE);
    assertEquals(List.of(), runner.destroys);
    assertTrue(r.pruned().isEmpty());
  }

  /**
   * Catches: the offsite tier's incremental base (newest in common with the backup) lost, and the
   * offsite destroys not going over ssh.
   */
  @Test
  void offsiteTier_baseKept_destroysOverSsh() {
    Scripted runner = new Scripted();
    runner.backup = listing(BAK, "a", "b", "c");
    // Offsite: a, b, then x (not on the backup, e.g. taken there by hand): b is the base.
    runner.offsite = listing(OFF, "a", "b", "x");
    Pruning p = pruning(config(null, LAST1), runner, new ArrayList<>(), false);
    p.listed(
        Phase.PUSH,
        "local",
        ZfsListing.parse(runner.backup.replaceAll("(?m)^.*\tcreation\t.*\n", "")));
    p.prune(replicated(Status.SENT, Status.UP_TO_DATE), OFFSITE);
    assertEquals(1, runner.destroys.size(), runner.destroys.toString());
    assertTrue(runner.destroys.get(0).endsWith("off/h/tank/d@a"), runner.destroys.toString());
  }

  /**
   * A stop (cancel, suspend, SIGTERM) while the offsite tier is pruned: the backup tier is neither
   * listed nor pruned. Catches pruning that went on for every dataset of both tiers after the stop
   * (minutes on a first prune, beyond systemd's stop timeout).
   */
  @Test
  void stopWhilePruning_nothingMoreIsListedOrDestroyed() {
    CycleControl control = new CycleControl();
    List<String> calls = new ArrayList<>();
    Scripted runner =
        new Scripted() {
          @Override
          public ProcessResult run(List<String> argv, Duration timeout) {
            calls.add(String.join(" ", argv));
            if (String.join(" ", argv).contains("destroy")) {
              control.stop(CycleControl.StopReason.CANCEL, false);
            }
            return super.run(argv, timeout);
          }
        };
    runner.backup = listing(BAK, "a", "b", "c");
    runner.offsite = listing(OFF, "a", "b", "c");
    TransferContext.Scope scope =
        new TransferContext.Scope(
            "t",
            false,
            e -> {},
            control,
            runner,
            Duration.ofSeconds(5),
            Duration.ofSeconds(5),
            false,
            true);
    AgentConfig cfg = config(LAST1, LAST1);
    Pruning p = new Pruning(cfg.retention(), cfg, scope, Endpoint.local(List.of("zfs")));
    p.listed(Phase.PUSH, "local", ZfsListing.parse(runner.backup));
    Pruning.Result r = p.prune(replicated(Status.UP_TO_DATE, Status.UP_TO_DATE), OFFSITE);
    assertEquals(1, runner.destroys.size(), "only the offsite destroy in flight: " + calls);
    assertTrue(runner.destroys.get(0).contains("off/h/tank/d@a,b"), runner.destroys.toString());
    assertTrue(calls.stream().noneMatch(c -> c.contains("-r bak")), "backup not listed: " + calls);
    assertEquals(1, r.pruned().size(), "the destroy that went through is reported");
  }

  /** Catches: a dry run that destroys, or says nothing of what it would destroy. */
  @Test
  void dryRun_listsAndDestroysNothing() {
    Scripted runner = new Scripted();
    runner.backup = listing(BAK, "a", "b", "c");
    runner.offsite = listing(OFF, "a", "b", "c");
    List<CycleEvent> events = new ArrayList<>();
    Pruning p = pruning(config(LAST1, LAST1), runner, events, true);
    Pruning.Result r = p.prune(replicated(Status.UP_TO_DATE, Status.UP_TO_DATE), OFFSITE);
    assertEquals(List.of(), runner.destroys);
    assertEquals(2, r.pruned().size());
    r.pruned().forEach(x -> assertEquals(List.of("a", "b"), x.snapshots()));
    assertEquals(
        2,
        events.stream()
            .filter(e -> e instanceof CycleEvent.Progress pr && pr.pruned() != null)
            .count());
  }

  /**
   * Catches: an offsite tier that cannot be listed failing the cycle or going unreported, or the
   * backup tier pruned without its push base.
   */
  @Test
  void offsiteUnlistable_isAWarning_pushedBackupLeftAlone() {
    Scripted runner = new Scripted();
    runner.backup = listing(BAK, "a", "b", "c");
    runner.offsite = null;
    List<CycleEvent> events = new ArrayList<>();
    Pruning.Result r =
        pruning(config(LAST1, LAST1), runner, events, false)
            .prune(replicated(Status.SENT, Status.SENT), OFFSITE);
    assertEquals(List.of(), runner.destroys);
    assertEquals(1, r.warnings().size(), r.warnings().toString());
    assertTrue(r.warnings().get(0).contains("cannot list off"), r.warnings().toString());
    assertTrue(
        events.stream()
            .anyMatch(
                e ->
                    e instanceof CycleEvent.Error err
                        && err.message().startsWith("prune_failed: ")),
        events.toString());
  }

  /**
   * Catches: the backup root's warning logged as {@code pull null: ...}: pruning the backup root
   * has no source, and the log line must say so by naming the phase alone.
   */
  @Test
  void backupRootUnlistable_logLineNamesThePhaseWithoutNull() {
    Scripted runner = new Scripted();
    runner.backup = null;
    runner.offsite = listing(OFF, "a", "b");
    List<String> lines;
    try (LogCapture logs = LogCapture.of(Transfer.class)) {
      pruning(config(LAST1, null), runner, new ArrayList<>(), false)
          .prune(replicated(Status.SENT, Status.SENT), OFFSITE);
      lines = logs.messages();
    }
    assertTrue(
        lines.stream().anyMatch(l -> l.startsWith("pull: bak: cannot list bak on ")),
        lines.toString());
    assertTrue(lines.stream().noneMatch(l -> l.contains("null")), lines.toString());
  }

  /** Catches: nothing configured still listing or destroying. */
  @Test
  void noRetention_doesNothing() {
    Scripted runner = new Scripted();
    AgentConfig c = config(LAST1, null);
    AgentConfig none = TestConfigs.withRetention(c, Optional.empty());
    Pruning.Result r =
        pruning(none, runner, new ArrayList<>(), false)
            .prune(replicated(Status.SENT, Status.SENT), OFFSITE);
    assertEquals(Pruning.Result.NOTHING, r);
    assertEquals(Set.of(), Set.copyOf(runner.destroys));
  }
}
