package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.Main;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.testing.TestConfigs;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CycleLockTest {
  @TempDir Path dir;

  /** Fails the test if the cycle runs anything: a locked-out cycle must not even list. */
  static final class NothingRuns implements ProcessRunner {
    final List<List<String>> calls = Collections.synchronizedList(new ArrayList<>());

    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      calls.add(argv);
      return new ProcessResult(argv, 1, "", "not expected", false, false);
    }

    @Override
    public PipeResult pipe(
        List<String> send, List<String> receive, ByteProgress p, Duration stall, KillSwitch k) {
      calls.add(send);
      throw new AssertionError("no stream expected");
    }
  }

  /** The zfs subcommands that change a pool; none of them may run in a dry run. */
  static final Set<String> CHANGES_ZFS =
      Set.of(
          "receive",
          "recv",
          "create",
          "set",
          "inherit",
          "hold",
          "release",
          "destroy",
          "rollback",
          "snapshot",
          "rename",
          "promote",
          "clone",
          "mount",
          "unmount",
          "umount",
          "bookmark");

  /** The commands among {@code calls} that change ZFS: {@code zfs <verb>} with a verb above. */
  static List<List<String>> changingZfs(List<List<String>> calls) {
    List<List<String>> changing = new ArrayList<>();
    synchronized (calls) {
      for (List<String> argv : calls) {
        for (int i = 0; i + 1 < argv.size(); i++) {
          String program = argv.get(i);
          boolean zfs = program.equals("zfs") || program.endsWith("/zfs");
          if (zfs && CHANGES_ZFS.contains(argv.get(i + 1))) {
            changing.add(argv);
            break;
          }
        }
      }
    }
    return changing;
  }

  /**
   * Answers the two listings with a state in which a real cycle has work of every kind: {@code
   * new/data} is not on the target (create its parent, receive it), {@code src/old} is up to date
   * but its copy can still mount and its base has no hold (set canmount=off, hold). Every other
   * command and every stream "succeeds" doing nothing, and is recorded.
   */
  static final class WorkToDo implements ProcessRunner {
    static final String SOURCE =
        """
        new/data\tguid\t100
        new/data\tcreatetxg\t10
        new/data\tcanmount\ton
        new/data\tuserrefs\t-
        new/data@a\tguid\t101
        new/data@a\tcreatetxg\t11
        new/data@a\tuserrefs\t0
        new/data@b\tguid\t102
        new/data@b\tcreatetxg\t12
        new/data@b\tuserrefs\t0
        src/old\tguid\t200
        src/old\tcreatetxg\t20
        src/old\tcanmount\ton
        src/old\tuserrefs\t-
        src/old@s1\tguid\t201
        src/old@s1\tcreatetxg\t21
        src/old@s1\tuserrefs\t0
        """;
    static final String TARGET =
        """
        bak/t\tguid\t900
        bak/t\tcreatetxg\t1
        bak/t\tcanmount\ton
        bak/t\tuserrefs\t-
        bak/t/h\tguid\t901
        bak/t/h\tcreatetxg\t2
        bak/t/h\tcanmount\toff
        bak/t/h\tuserrefs\t-
        bak/t/h/src\tguid\t902
        bak/t/h/src\tcreatetxg\t3
        bak/t/h/src\tcanmount\toff
        bak/t/h/src\tuserrefs\t-
        bak/t/h/src/old\tguid\t903
        bak/t/h/src/old\tcreatetxg\t4
        bak/t/h/src/old\tcanmount\ton
        bak/t/h/src/old\tuserrefs\t-
        bak/t/h/src/old@s1\tguid\t201
        bak/t/h/src/old@s1\tcreatetxg\t5
        bak/t/h/src/old@s1\tuserrefs\t0
        """;

    final List<List<String>> calls = Collections.synchronizedList(new ArrayList<>());
    final List<List<String>> streams = Collections.synchronizedList(new ArrayList<>());

    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      calls.add(argv);
      if (argv.size() > 2 && argv.get(0).equals("zfs") && argv.get(1).equals("get")) {
        List<String> roots = argv.subList(argv.indexOf("-r") + 1, argv.size());
        if (roots.equals(List.of("new/data", "src/old"))) {
          return new ProcessResult(argv, 0, SOURCE, "", false, false);
        }
        if (roots.equals(List.of("bak/t"))) {
          return new ProcessResult(argv, 0, TARGET, "", false, false);
        }
      }
      return new ProcessResult(argv, 0, "", "", false, false);
    }

    @Override
    public PipeResult pipe(
        List<String> send, List<String> receive, ByteProgress p, Duration stall, KillSwitch k) {
      calls.add(send);
      calls.add(receive);
      streams.add(send);
      ProcessResult sent = new ProcessResult(send, 0, "", "", false, false);
      ProcessResult received = new ProcessResult(receive, 0, "", "", false, false);
      return new PipeResult(0, sent, received, false, false);
    }
  }

  AgentConfig config() {
    return config("src/data");
  }

  /**
   * One local source {@code h} into {@code bak/t}; a test's configs share one state file (lock).
   */
  AgentConfig config(String... datasets) {
    AgentConfig c =
        TestConfigs.config(
            List.of("ssh"),
            "bak/t",
            List.of(TestConfigs.localSource("h", datasets)),
            Optional.empty());
    return TestConfigs.withStateFile(c, dir.resolve("state/state.json"));
  }

  @Test
  void tryAcquire_heldInThisProcess_busyUntilClosed() {
    Path file = dir.resolve("a/state.json.lock");
    CycleLock.Attempt first = CycleLock.tryAcquire(file);
    CycleLock lock = assertInstanceOf(CycleLock.Acquired.class, first).lock();
    assertTrue(Files.exists(file), "the directory and the file are created");
    assertInstanceOf(CycleLock.Busy.class, CycleLock.tryAcquire(file));
    lock.close();
    try (CycleLock again =
        assertInstanceOf(CycleLock.Acquired.class, CycleLock.tryAcquire(file)).lock()) {
      assertEquals(file, CycleLock.fileFor(dir.resolve("a/state.json")));
    }
  }

  @Test
  void tryAcquire_createsTheFileForEveryUser() throws Exception {
    Path file = dir.resolve("state.json.lock");
    try (CycleLock lock =
        assertInstanceOf(CycleLock.Acquired.class, CycleLock.tryAcquire(file)).lock()) {
      assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }
  }

  /**
   * In a directory someone else may change (the agent user's, with root's {@code run} first; one
   * writable by all), a file could be swapped in between the create and the chmod: the lock file
   * keeps the umask's mode there.
   */
  @Test
  void tryAcquire_inADirectoryOthersCanChange_leavesTheModeAlone() throws Exception {
    Path theirs = Files.createDirectory(dir.resolve("theirs"));
    Files.setAttribute(theirs, "unix:uid", 65534);
    Path open = Files.createDirectory(dir.resolve("open"));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));

    for (Path d : List.of(theirs, open)) {
      Path file = d.resolve("state.json.lock");
      try (CycleLock lock =
          assertInstanceOf(CycleLock.Acquired.class, CycleLock.tryAcquire(file)).lock()) {
        assertFalse(
            Files.getPosixFilePermissions(file).contains(PosixFilePermission.OTHERS_WRITE),
            file.toString());
      }
    }
  }

  /**
   * The agent's own user meets the lock file a root {@code run} created first (it keeps the umask's
   * mode where root does not chmod): the warning says why and what to do. Run as nobody, in a JVM
   * of its own (setpriv), since root may write any file.
   */
  @Test
  void tryAcquire_asAnotherUserOnRootsFile_saysWhyAndWhatToDo() throws Exception {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path file = Files.createFile(dir.resolve("state.json.lock"));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

    String out = probeAsNobody(file);

    assertTrue(
        out.contains("Unavailable")
            && out.contains("this user may not write it: another user created it first")
            && out.contains("remove it once, while no cycle runs"),
        out);
  }

  /**
   * A directory this user cannot write, with no lock file in it: the warning says so. Catches the
   * "another user created it first; remove it" warning for a file that does not exist.
   */
  @Test
  void tryAcquire_asAUserWhoCannotWriteTheDirectory_saysSo() throws Exception {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path file = dir.resolve("state.json.lock");

    String out = probeAsNobody(file);

    assertTrue(
        out.contains("Unavailable")
            && out.contains("this user may not create it: it cannot write in " + dir)
            && !out.contains("another user created it first"),
        out);
  }

  /** What {@link LockProbe} prints for {@code file}, run as nobody in a JVM of its own. */
  static String probeAsNobody(Path file) throws Exception {
    Process p =
        new ProcessBuilder(
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                LockProbe.class.getName(),
                file.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    return out;
  }

  /** Prints what {@link CycleLock#tryAcquire} finds for the file in {@code args[0]}. */
  public static final class LockProbe {
    public static void main(String[] args) {
      System.out.println(CycleLock.tryAcquire(Path.of(args[0])));
    }
  }

  /**
   * The state directory may be the agent user's while root runs {@code run}: a symlink planted
   * there must not make root create or chmod its target, and a FIFO must not hang it.
   */
  @Test
  void tryAcquire_symlinkOrFifo_isRefusedAndItsTargetLeftAlone() throws Exception {
    Path victim = Files.writeString(dir.resolve("victim"), "root only");
    Files.setPosixFilePermissions(victim, PosixFilePermissions.fromString("rw-------"));
    Path planted = Files.createSymbolicLink(dir.resolve("state.json.lock"), victim);
    Path dangling =
        Files.createSymbolicLink(dir.resolve("state.json.agent.lock"), dir.resolve("created"));
    Path fifo = dir.resolve("other.lock");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());

    for (Path file : List.of(planted, dangling, fifo)) {
      CycleLock.Unavailable u =
          assertInstanceOf(
              CycleLock.Unavailable.class, CycleLock.tryAcquire(file), file.toString());
      assertTrue(u.why().contains("not a regular file"), u.why());
    }
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(victim)));
    assertFalse(Files.exists(dir.resolve("created")), "nothing created through the symlink");
  }

  @Test
  void tryAcquire_directoryIsAFile_unavailableWithTheReason() throws Exception {
    Files.writeString(dir.resolve("not-a-dir"), "x");
    CycleLock.Unavailable u =
        assertInstanceOf(
            CycleLock.Unavailable.class,
            CycleLock.tryAcquire(dir.resolve("not-a-dir/state.json.lock")));
    assertTrue(u.why().contains("not-a-dir"), u.why());
  }

  @Test
  void run_whileAnotherProcessHoldsTheLock_failsAtOnceTouchingNothing() throws Exception {
    AgentConfig config = config();
    Path lockFile = CycleLock.fileFor(config.stateFile());
    Files.createDirectories(lockFile.getParent());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process holder =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                LockHolder.class.getName(),
                lockFile.toString())
            .redirectErrorStream(true)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(
              new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("locked", out.readLine());

      NothingRuns runner = new NothingRuns();
      List<CycleEvent> events = Collections.synchronizedList(new ArrayList<>());
      CycleReport r =
          new BackupCycle(config, runner, Clock.systemUTC())
              .run(new CycleRequest("c1", null, Set.of(), false), events::add, new CycleControl());
      assertEquals(Outcome.FAILED, r.outcome());
      assertTrue(runner.calls.isEmpty(), "nothing ran: " + runner.calls);
      CycleEvent.Error e = CycleResults.errors(events).get(0);
      assertEquals("cycle_locked", e.kind().wire());
      assertTrue(e.message().contains(lockFile.toString()), e.message());

      // The CLI: exit 1, and the reason even with --quiet.
      ByteArrayOutputStream so = new ByteArrayOutputStream();
      ByteArrayOutputStream se = new ByteArrayOutputStream();
      int code =
          Main.exitCode(
              CliCycle.run(
                  new BackupCycle(config, runner, Clock.systemUTC()),
                  false,
                  true,
                  new PrintStream(so, true, StandardCharsets.UTF_8),
                  new PrintStream(se, true, StandardCharsets.UTF_8)));
      assertEquals(1, code);
      assertTrue(
          se.toString(StandardCharsets.UTF_8).contains("error: another backup cycle is running"),
          se.toString(StandardCharsets.UTF_8));

      // A dry run changes nothing: it does not wait for, or take, the lock.
      CycleReport dry =
          new BackupCycle(config, runner, Clock.systemUTC())
              .run(new CycleRequest("c2", null, Set.of(), true), e2 -> {}, new CycleControl());
      assertTrue(runner.calls.size() > 0, "the dry run listed");
      assertTrue(dry.datasets().size() > 0);
      assertEquals(List.of(), changingZfs(runner.calls), "the dry run changed nothing");
      // ... and says that a cycle runs, which may show what it is receiving as refused.
      assertEquals(Optional.of(holder.pid()), CycleLock.holder(lockFile));
      assertTrue(
          dry.warnings().stream()
              .anyMatch(
                  w ->
                      w.startsWith(
                          "a backup cycle is running now with this configuration, or the agent's power-down (process "
                              + holder.pid()
                              + " holds "
                              + lockFile
                              + ")")),
          dry.warnings().toString());

      // The same where a real cycle would change ZFS in every way it can (the control below): the
      // dry run plans it all and changes nothing. Catches a dry run that creates parents, streams,
      // receives, sets canmount, or places or releases holds.
      WorkToDo work = new WorkToDo();
      CycleReport plan =
          new BackupCycle(config("new/data", "src/old"), work, Clock.systemUTC())
              .run(new CycleRequest("c2b", null, Set.of(), true), e2 -> {}, new CycleControl());
      assertEquals(Outcome.SUCCESS, plan.outcome(), plan.toString());
      assertEquals(
          List.of(
              "new/data: SENT would send full @a, incremental @a..@b",
              "src/old: UP_TO_DATE up to date at @s1"),
          plan.datasets().stream()
              .map(d -> d.dataset() + ": " + d.status() + " " + d.plan())
              .toList());
      assertEquals(List.of(), changingZfs(work.calls), "a dry run changes nothing: " + work.calls);
      assertEquals(List.of(), work.streams, "a dry run streams nothing");
    } finally {
      holder.getOutputStream().close();
      holder.waitFor(10, TimeUnit.SECONDS);
      holder.destroyForcibly();
    }
    // Released when the holder is gone: the next cycle runs (and fails on the fake runner, not the
    // lock).
    CycleReport after =
        new BackupCycle(config, new NothingRuns(), Clock.systemUTC())
            .run(new CycleRequest("c3", null, Set.of(), false), e -> {}, new CycleControl());
    assertTrue(after.datasets().size() > 0, "ran past the lock: " + after);
    // The control for the dry run's warning: no holder, no warning.
    assertEquals(Optional.empty(), CycleLock.holder(lockFile));
    CycleReport alone =
        new BackupCycle(config, new NothingRuns(), Clock.systemUTC())
            .run(new CycleRequest("c3b", null, Set.of(), true), e -> {}, new CycleControl());
    assertTrue(
        alone.warnings().stream().noneMatch(w -> w.contains("cycle is running")),
        alone.warnings().toString());

    // The control for the dry run above: on the same listings a real cycle does try each change,
    // so the dry run's empty list of changes is the dry run's doing, not the fixture's.
    WorkToDo work = new WorkToDo();
    new BackupCycle(config("new/data", "src/old"), work, Clock.systemUTC())
        .run(new CycleRequest("c4", null, Set.of(), false), e -> {}, new CycleControl());
    // No release: holds move once per transfer (Holds.apply), and a first send (full @a, then
    // @a..@b) has no old base of ours to let go; the base it leaves, @b, is held.
    assertEquals(
        Set.of("create", "receive", "set", "hold"),
        changingZfs(work.calls).stream().map(c -> c.get(1)).collect(Collectors.toSet()),
        "a real cycle on these listings changes ZFS: " + work.calls);
    assertEquals(2, work.streams.size(), "full @a, then -I @a..@b: " + work.calls);
  }
}
