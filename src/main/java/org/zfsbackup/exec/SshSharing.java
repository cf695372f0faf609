package org.zfsbackup.exec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.zfs.Endpoint;

/**
 * One ssh connection per host for a whole cycle: OpenSSH connection sharing with a master per host
 * whose control socket lives in a private directory of this cycle's (mode 0700, removed by {@link
 * #close}, which also ends each master with {@code ssh -O exit}).
 *
 * <p>How, and why this way:
 *
 * <ul>
 *   <li>The master is opened explicitly, once per host, by the first {@link #share} for it: {@code
 *       ssh <commands.ssh> -o ControlMaster=auto -o ControlPath=<dir>/<n> -o ControlPersist=<s>
 *       host -- true}. That probe proves the options are accepted and the socket appears; where
 *       either fails the host gets plain connections and one warning, and its backups still run.
 *       Without the probe, an ssh that refuses the options would fail every command.
 *   <li>Every command then runs with the same options. {@code ControlMaster=auto} (not {@code no})
 *       makes a command that finds no live master become the new one: ssh removes a dead master's
 *       socket and listens again, so a master killed mid-cycle costs the step in flight and the
 *       next command reconnects once, for all that follow.
 *   <li>{@code ControlPersist} backgrounds the master (its stdio on /dev/null, so no command's
 *       output waits for it) and ends it after that long without a session: the masters of an agent
 *       that died do not outlive it by more than that.
 *   <li>The socket path is literal and short ({@code /tmp/zba-<pid>-<rand>/<n>}, one {@code n} per
 *       user@host:port, so one host's master never serves another): ssh binds {@code <path>.<16
 *       random chars>} first, and a unix socket path has 104 bytes on BSD, 108 on Linux. Not below
 *       {@code $HOME} or {@code $TMPDIR}, whose length is unknown.
 *   <li>The directory is new for every cycle, so sockets left by a crashed run never block one;
 *       those of runs that ended are removed when the next directory is made ({@link ControlDirs}).
 *   <li>A {@code commands.ssh} that sets ControlPath or ControlMaster itself is left alone.
 * </ul>
 *
 * <p>Thread-safe: hosts may be opened from several threads; each host is probed once.
 */
public final class SshSharing implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SshSharing.class);

  /** Idle time after which a master exits by itself; covers the gaps between a host's commands. */
  public static final Duration PERSIST = Duration.ofMinutes(5);

  /** 104 bytes (BSD; Linux allows 108), less ssh's {@code .<16 random chars>} and the NUL. */
  static final int MAX_SOCKET_PATH = 104 - 18;

  /** In each private directory: locked by the run that uses it ({@link ControlDirs}). */
  public static final String LOCK = ControlDirs.LOCK;

  /**
   * ssh's own words for a host it could not reach or log in to: a probe that fails this way says
   * nothing about sharing (the host's commands fail and are reported as without it).
   */
  private static final Pattern HOST_FAILURE =
      Pattern.compile(
          "(?i)connect to host|could not resolve|connection (refused|timed out|closed|reset)"
              + "|no route to host|network is unreachable|permission denied|host key verification"
              + "|timed out|kex_exchange_identification|banner exchange");

  /** How a cycle gets its {@link SshSharing}: where the private directories go, or none at all. */
  public record Factory(Optional<Path> base, ProcessRunner runner, Duration persist) {
    /** No sharing: every command opens its own connection. */
    public static final Factory OFF = new Factory(Optional.empty(), null, PERSIST);

    /** The production setting: private directories in /tmp. */
    public static Factory inTmp(ProcessRunner runner) {
      return new Factory(Optional.of(Path.of("/tmp")), runner, PERSIST);
    }

    /**
     * @param probeTimeout bound for opening one host's master
     */
    public SshSharing open(Duration probeTimeout) {
      return open(probeTimeout, () -> false);
    }

    /** As {@link #open(Duration)}; {@code stopped}: a stop kills probes (not the host's fault). */
    public SshSharing open(Duration probeTimeout, BooleanSupplier stopped) {
      return new SshSharing(this, probeTimeout, stopped);
    }
  }

  /** What {@link #share} found for one host. */
  public enum State {
    /** Commands share one connection. */
    SHARED,
    /** {@code commands.ssh} sets ControlPath or ControlMaster: used as it is. */
    USER_SETTING,
    /** Sharing could not be set up: plain connections, and a warning. */
    FALLBACK,
    /** The probe could not reach or log in to the host: plain connections, no warning. */
    HOST_FAILED,
    /** Sharing is off (dry runs, tests), or the side is local. */
    OFF
  }

  /**
   * @param endpoint the side to run this host's commands through
   * @param detail for a line of {@code check} or a warning
   * @param opened true for the one call that probed the host: report a fallback then, once
   * @param probe the probe's result, when one ran
   */
  public record Connection(
      Endpoint endpoint,
      State state,
      String detail,
      boolean opened,
      Optional<ProcessResult> probe) {
    /** The warning to report, once per host, when sharing could not be set up. */
    public Optional<String> warning() {
      return opened && state == State.FALLBACK ? Optional.of(detail) : Optional.empty();
    }
  }

  private final Factory factory;
  private final Duration probeTimeout;
  private final BooleanSupplier stopped;
  private final Map<String, FutureTask<Connection>> hosts = new ConcurrentHashMap<>();

  /** Every side a master was started for, shared or not: a killed probe can leave one behind. */
  private final List<Endpoint> masters = new java.util.concurrent.CopyOnWriteArrayList<>();

  private final AtomicInteger sockets = new AtomicInteger();
  private ControlDirs.Dir dir;

  private String dirProblem;
  private boolean closed;

  private SshSharing(Factory factory, Duration probeTimeout, BooleanSupplier stopped) {
    this.factory = factory;
    this.probeTimeout = probeTimeout;
    this.stopped = stopped;
  }

  /**
   * The side through which to run this host's commands: shared where sharing works, plain where
   * not. The first call for a host opens its master (bounded by the probe timeout).
   */
  public Connection share(Endpoint plain) {
    if (plain.isLocal() || factory.base().isEmpty()) {
      return new Connection(plain, State.OFF, "off", false, Optional.empty());
    }
    FutureTask<Connection> first =
        new FutureTask<>(
            () -> {
              try {
                return open(plain.unshared());
              } catch (RuntimeException e) {
                return fallback(plain.unshared(), "unexpected " + e, null);
              }
            });
    FutureTask<Connection> task = hosts.putIfAbsent(plain.label(), first);
    if (task == null) {
      first.run();
      task = first;
    }
    try {
      Connection c = task.get();
      return task == first
          ? c
          : new Connection(c.endpoint(), c.state(), c.detail(), false, c.probe());
    } catch (ExecutionException e) {
      throw new IllegalStateException("opening the shared ssh connection failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Connection(
          plain.unshared(), State.FALLBACK, "interrupted", false, Optional.empty());
    }
  }

  private Connection open(Endpoint plain) {
    if (plain.sharingSetByUser()) {
      return new Connection(
          plain, State.USER_SETTING, "as set in commands.ssh", true, Optional.empty());
    }
    Optional<Path> socket = nextSocket();
    if (socket.isEmpty()) {
      return fallback(plain, dirProblem, null);
    }
    Endpoint shared = plain.shared(new Endpoint.Sharing(socket.get(), factory.persist()));
    masters.add(shared);
    ProcessResult r = factory.runner().run(shared.command(List.of("true")), probeTimeout);
    if (r.ok() && Files.exists(socket.get())) {
      LOG.info("ssh to {} shares one connection (control socket {})", plain.label(), socket.get());
      return new Connection(
          shared, State.SHARED, "one connection for every command", true, Optional.of(r));
    }
    if (r.ok()) {
      return fallback(plain, "ssh opened no control socket (is commands.ssh OpenSSH?)", r);
    }
    if (!r.startFailed() && (r.timedOut() || HOST_FAILURE.matcher(r.stderrTail()).find())) {
      LOG.debug("ssh sharing for {} not tried: {}", plain.label(), r.describe());
      return new Connection(
          plain, State.HOST_FAILED, "not tried: " + r.describe(), true, Optional.of(r));
    }
    if (r.diedOfStopSignal() || stopped.getAsBoolean()) { // a stop, not ssh (which exits 255)
      LOG.info("ssh sharing for {} not set up: its probe was stopped", plain.label());
      return new Connection(
          plain, State.HOST_FAILED, "not tried: its probe was stopped", true, Optional.of(r));
    }
    String why = r.startFailed() ? "ssh could not start: " : "ssh refused the sharing options: ";
    return fallback(plain, why + r.describe(), r);
  }

  private Connection fallback(Endpoint plain, String why, ProcessResult r) {
    String msg =
        "cannot share one ssh connection to "
            + plain.label()
            + " ("
            + why
            + "): every command opens its own connection";
    LOG.warn(msg);
    return new Connection(plain, State.FALLBACK, msg, true, Optional.ofNullable(r));
  }

  /** The next socket path in this cycle's directory, made on first use; empty when impossible. */
  private synchronized Optional<Path> nextSocket() {
    if (closed) {
      dirProblem = "the cycle's ssh connections are closed";
      return Optional.empty();
    }
    if (dir == null && dirProblem == null) {
      Path base = factory.base().get();
      try {
        ControlDirs.removeStale(base);
        dir = ControlDirs.create(base);
      } catch (IOException | RuntimeException e) {
        dirProblem = "cannot create a private directory for control sockets in " + base + ": " + e;
      }
    }
    if (dir == null) {
      return Optional.empty();
    }
    Path socket = dir.path().resolve(String.valueOf(sockets.incrementAndGet()));
    if (socket.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
        > MAX_SOCKET_PATH) {
      dirProblem = "the control socket path " + socket + " is too long for a unix socket";
      return Optional.empty();
    }
    return Optional.of(socket);
  }

  /** Ends every master with {@code ssh -O exit} and removes the directory. Idempotent. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    // Shared or not: a probe killed by a stop may have left its master running (ControlPersist
    // forks it off before the probe's command runs).
    for (Endpoint master : masters) {
      Path socket = master.sharing().get().controlPath();
      if (Files.exists(socket)) {
        ProcessResult r = factory.runner().run(master.control("exit"), Duration.ofSeconds(10));
        if (!r.ok()) {
          LOG.debug("ssh -O exit for {}: {}", master.label(), r.describe());
        }
      }
    }
    ControlDirs.Dir d;
    synchronized (this) {
      d = dir;
    }
    if (d != null) {
      d.close();
    }
  }

  /** This cycle's directory, once made (for tests). */
  synchronized Optional<Path> directory() {
    return Optional.ofNullable(dir).map(ControlDirs.Dir::path);
  }
}
