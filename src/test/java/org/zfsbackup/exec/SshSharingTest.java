package org.zfsbackup.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.zfs.Endpoint;

/**
 * {@link SshSharing} with a fake runner: which commands run, when a host falls back, and what is
 * cleaned up. The real ssh and sshd are in {@code SshSharingIT}.
 */
class SshSharingTest {
  @TempDir Path base;

  /** Records argv; the probe answers as told, and "opens" the socket when told to. */
  static final class FakeSsh implements ProcessRunner {
    final List<List<String>> calls = new CopyOnWriteArrayList<>();
    Function<List<String>, ProcessResult> probe =
        argv -> new ProcessResult(argv, 0, "", "", false, false);
    boolean createsSocket = true;

    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      calls.add(argv);
      if (argv.contains("-O")) {
        return new ProcessResult(argv, 0, "", "Exit request sent.", false, false);
      }
      ProcessResult r = probe.apply(argv);
      if (r.ok() && createsSocket) {
        String opt =
            argv.stream().filter(a -> a.startsWith("ControlPath=")).findFirst().orElseThrow();
        try {
          Files.createFile(Path.of(opt.substring("ControlPath=".length())));
        } catch (IOException e) {
          throw new AssertionError(e);
        }
      }
      return r;
    }

    @Override
    public PipeResult pipe(
        List<String> s, List<String> r, ByteProgress p, Duration d, KillSwitch k) {
      throw new AssertionError("no streams here");
    }
  }

  static Endpoint host(String host, List<String> ssh) {
    return Endpoint.remote(
        host, Optional.of("root"), Optional.empty(), ssh, List.of("zfs"), Duration.ofSeconds(3));
  }

  static Endpoint host(String host) {
    return host(host, List.of("ssh"));
  }

  SshSharing open(FakeSsh ssh) {
    return new SshSharing.Factory(Optional.of(base), ssh, Duration.ofSeconds(60))
        .open(Duration.ofSeconds(5));
  }

  @Test
  void share_probesEachHostOnce_oneSocketPerHost_exitsEachMasterAndRemovesTheDirectory()
      throws IOException {
    FakeSsh ssh = new FakeSsh();
    SshSharing sharing = open(ssh);

    SshSharing.Connection a = sharing.share(host("a"));
    SshSharing.Connection again = sharing.share(host("a"));
    SshSharing.Connection b = sharing.share(host("b"));

    assertEquals(SshSharing.State.SHARED, a.state());
    assertTrue(a.opened());
    assertFalse(again.opened(), "probed once");
    assertEquals(a.endpoint(), again.endpoint());
    Path dir = sharing.directory().orElseThrow();
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    assertTrue(
        dir.getFileName().toString().matches("zba-" + ProcessHandle.current().pid() + "-[0-9a-z]+"),
        dir.toString());
    assertEquals(dir.resolve("1"), a.endpoint().sharing().orElseThrow().controlPath());
    assertEquals(
        dir.resolve("2"),
        b.endpoint().sharing().orElseThrow().controlPath(),
        "never another host's master");
    assertEquals(
        List.of(
            "ssh",
            "-o",
            "ControlMaster=auto",
            "-o",
            "ControlPath=" + dir.resolve("1"),
            "-o",
            "ControlPersist=60",
            "-o",
            "ConnectTimeout=3",
            "-l",
            "root",
            "a",
            "--",
            "true"),
        ssh.calls.get(0));
    assertEquals(2, ssh.calls.size());

    sharing.close();
    assertTrue(
        ssh.calls.contains(
            List.of(
                "ssh", "-o", "ControlPath=" + dir.resolve("1"), "-O", "exit", "-l", "root", "a")),
        ssh.calls.toString());
    assertEquals(4, ssh.calls.size());
    assertFalse(Files.exists(dir));
    sharing.close();
    assertEquals(4, ssh.calls.size(), "idempotent");
  }

  @Test
  void share_localSide_orSharingOff_runsNothing() {
    FakeSsh ssh = new FakeSsh();
    SshSharing sharing = open(ssh);
    Endpoint local = Endpoint.local(List.of("zfs"));
    assertEquals(local, sharing.share(local).endpoint());
    Endpoint plain = host("a");
    assertEquals(plain, SshSharing.Factory.OFF.open(Duration.ofSeconds(1)).share(plain).endpoint());
    assertEquals(List.of(), ssh.calls);
    assertTrue(sharing.directory().isEmpty(), "no directory until a remote host needs one");
  }

  /** Catches a missing ssh program reported as "ssh refused the sharing options". */
  @Test
  void share_sshCannotStart_saysSo() {
    FakeSsh ssh = new FakeSsh();
    ssh.probe =
        argv -> new ProcessResult(argv, -1, "", "Cannot run program \"ssh\": error=2", true, false);
    SshSharing sharing = open(ssh);

    SshSharing.Connection c = sharing.share(host("a"));

    assertEquals(SshSharing.State.FALLBACK, c.state());
    assertTrue(c.warning().orElseThrow().contains("(ssh could not start: "), c.detail());
    sharing.close();
  }

  @Test
  void share_optionsRefused_plainEndpointAndOneWarning() {
    FakeSsh ssh = new FakeSsh();
    ssh.probe =
        argv ->
            new ProcessResult(
                argv,
                255,
                "",
                "command-line line 0: Bad configuration option: controlmaster",
                false,
                false);
    SshSharing sharing = open(ssh);

    SshSharing.Connection c = sharing.share(host("a"));

    assertEquals(SshSharing.State.FALLBACK, c.state());
    assertEquals(host("a"), c.endpoint());
    assertTrue(c.warning().orElseThrow().contains("ssh refused the sharing options"), c.detail());
    assertTrue(sharing.share(host("a")).warning().isEmpty(), "one warning per host");
    sharing.close();
    assertEquals(1, ssh.calls.size(), "no -O exit where no master was opened: " + ssh.calls);
  }

  // Catches: a probe killed by a stop (SIGTERM, Ctrl-C: exit 143 or 130) reported and logged as
  // "ssh refused the sharing options".
  @Test
  void share_probeStopped_plainWithoutWarning() {
    for (int exit : new int[] {143, 130}) {
      FakeSsh ssh = new FakeSsh();
      ssh.probe = argv -> new ProcessResult(argv, exit, "", "", false, false);
      SshSharing.Connection c = open(ssh).share(host("a"));
      assertEquals(SshSharing.State.HOST_FAILED, c.state());
      assertTrue(c.warning().isEmpty(), c.detail());
      assertTrue(c.detail().contains("probe was stopped"), c.detail());
    }
  }

  @Test
  void share_probeRanButNoSocket_plainAndWarning() {
    FakeSsh ssh = new FakeSsh();
    ssh.createsSocket = false;
    SshSharing.Connection c = open(ssh).share(host("a"));
    assertEquals(SshSharing.State.FALLBACK, c.state());
    assertTrue(c.warning().orElseThrow().contains("no control socket"), c.detail());
  }

  @Test
  void share_hostUnreachable_plainWithoutWarning_theHostsOwnCommandsReportIt() {
    FakeSsh ssh = new FakeSsh();
    ssh.probe =
        argv ->
            new ProcessResult(
                argv, 255, "", "ssh: connect to host a port 22: Connection refused", false, false);
    SshSharing.Connection c = open(ssh).share(host("a"));
    assertEquals(SshSharing.State.HOST_FAILED, c.state());
    assertEquals(host("a"), c.endpoint());
    assertTrue(c.warning().isEmpty());

    FakeSsh silent = new FakeSsh();
    silent.probe = argv -> new ProcessResult(argv, -1, "", "", false, true);
    assertEquals(SshSharing.State.HOST_FAILED, open(silent).share(host("a")).state());
  }

  @Test
  void share_userSetsControlPath_leftAlone_noProbe() {
    FakeSsh ssh = new FakeSsh();
    Endpoint mine = host("a", List.of("ssh", "-o", "ControlPath=none"));
    SshSharing.Connection c = open(ssh).share(mine);
    assertEquals(SshSharing.State.USER_SETTING, c.state());
    assertEquals(mine, c.endpoint());
    assertTrue(c.warning().isEmpty());
    assertEquals(List.of(), ssh.calls);
  }

  @Test
  void share_directoryCannotBeMade_everyHostWarnedOnce() throws IOException {
    FakeSsh ssh = new FakeSsh();
    Path file = Files.writeString(base.resolve("file"), "x");
    SshSharing sharing =
        new SshSharing.Factory(Optional.of(file), ssh, Duration.ofSeconds(60))
            .open(Duration.ofSeconds(5));
    assertTrue(
        sharing
            .share(host("a"))
            .warning()
            .orElseThrow()
            .contains("cannot create a private directory"));
    assertTrue(sharing.share(host("b")).warning().isPresent());
    assertTrue(sharing.share(host("b")).warning().isEmpty());
    assertEquals(List.of(), ssh.calls);
  }

  @Test
  void share_socketPathTooLong_plainAndWarning() throws IOException {
    Path deep = Files.createDirectories(base.resolve("x".repeat(60)).resolve("y".repeat(20)));
    SshSharing.Connection c =
        new SshSharing.Factory(Optional.of(deep), new FakeSsh(), Duration.ofSeconds(60))
            .open(Duration.ofSeconds(5))
            .share(host("a"));
    assertEquals(SshSharing.State.FALLBACK, c.state());
    assertTrue(c.detail().contains("too long"), c.detail());
  }

  @Test
  void removeStale_removesDirectoriesOfGoneProcessesOnly() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    // Without a lock file (an older version's): by its pid, once old enough.
    Path stale = Files.createDirectory(base.resolve("zba-" + gone.pid() + "-abc"));
    Files.createFile(stale.resolve("1"));
    Path young = Files.createDirectory(base.resolve("zba-" + gone.pid() + "-new"));
    long parent = ProcessHandle.current().parent().orElseThrow().pid();
    Path live = Files.createDirectory(base.resolve("zba-" + parent + "-abc"));
    Path other = Files.createDirectory(base.resolve("zba-something"));
    java.nio.file.attribute.FileTime hourAgo =
        java.nio.file.attribute.FileTime.from(java.time.Instant.now().minusSeconds(3600));
    for (Path d : List.of(stale, live, other)) {
      Files.setLastModifiedTime(d, hourAgo);
    }

    ControlDirs.removeStale(base);

    assertFalse(Files.exists(stale));
    assertTrue(Files.exists(young), "being made this instant: its lock may come next");
    assertTrue(Files.exists(live), "a live process's directory is kept");
    assertTrue(Files.exists(other), "not ours");
  }

  /**
   * A run in another PID namespace (a container, a sandbox sharing /tmp) has a pid that means
   * nothing here: its directory is known by the lock it holds (fcntl, from another process: a
   * Python stands in for it). Catches the live directory of a running cycle deleted as stale, which
   * failed its datasets host_unreachable.
   */
  @Test
  void removeStale_aLockedDirectoryIsInUse_whateverItsPidSays() throws Exception {
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    Path inUse = Files.createDirectory(base.resolve("zba-" + gone.pid() + "-ns"));
    Path lock = inUse.resolve(SshSharing.LOCK);
    Files.createFile(lock);
    Process holder =
        new ProcessBuilder(
                "python3",
                "-c",
                "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.lockf(f, fcntl.LOCK_EX);"
                    + " print('locked', flush=True); time.sleep(60)",
                lock.toString())
            .start();
    try {
      assertEquals(
          "locked",
          new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream()))
              .readLine());
      ControlDirs.removeStale(base);
      assertTrue(Files.exists(inUse), "locked: in use, although no such pid runs here");
    } finally {
      holder.destroyForcibly().waitFor();
    }
    ControlDirs.removeStale(base);
    assertFalse(Files.exists(inUse), "the lock is gone with its process: ended");

    // Ours, made by share(): locked while the cycle runs (also after this process looked for
    // stale directories: closing a second handle on the file would drop an fcntl lock), removed by
    // close().
    SshSharing sharing =
        new SshSharing.Factory(Optional.of(base), new FakeSsh(), Duration.ofSeconds(60))
            .open(Duration.ofSeconds(5));
    sharing.share(host("a"));
    Path ours = sharing.directory().orElseThrow();
    ControlDirs.removeStale(base);
    assertEquals("held", lockProbe(ours.resolve(SshSharing.LOCK)));
    sharing.close();
    assertFalse(Files.exists(ours));
  }

  /** What another process finds when it tries to lock {@code file}: "held" or "free". */
  static String lockProbe(Path file) throws Exception {
    Process p =
        new ProcessBuilder(
                "python3",
                "-c",
                "import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n fcntl.lockf(f, fcntl.LOCK_EX"
                    + " | fcntl.LOCK_NB)\n print('free')\nexcept OSError:\n print('held')",
                file.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    p.waitFor();
    return out;
  }

  /**
   * A {@code .lock} planted by someone (a FIFO, a symlink to a device) is never opened: a FIFO
   * would block the cycle for good, a symlink would open its target for writing. Nor is a directory
   * of another user looked into.
   */
  @Test
  void removeStale_plantedLockFiles_neverOpened() throws Exception {
    Path fifo = Files.createDirectory(base.resolve("zba-999999-fifo"));
    org.zfsbackup.testing.Cmd.ok("mkfifo", fifo.resolve(SshSharing.LOCK).toString());
    Path link = Files.createDirectory(base.resolve("zba-999999-link"));
    Path target = Files.writeString(base.resolve("target"), "x");
    Files.createSymbolicLink(link.resolve(SshSharing.LOCK), target);
    java.util.concurrent.ExecutorService one =
        java.util.concurrent.Executors.newSingleThreadExecutor();
    try {
      one.submit(() -> ControlDirs.removeStale(base))
          .get(10, java.util.concurrent.TimeUnit.SECONDS);
    } finally {
      one.shutdownNow();
    }
    assertTrue(Files.exists(fifo) && Files.exists(link), "left alone");
    assertEquals("x", Files.readString(target));
  }
}
