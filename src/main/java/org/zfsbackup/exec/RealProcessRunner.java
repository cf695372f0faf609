package org.zfsbackup.exec;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs processes with {@link ProcessBuilder}: argv lists, stdin from /dev/null (ssh must never wait
 * for a terminal), every call bounded in time.
 *
 * <p>Streams go through the kernel, not the JVM: {@code send | pv | receive} is one {@link
 * ProcessBuilder#startPipeline} whose pipes the JVM never reads, so memory stays bounded whatever
 * the stream size; {@code pv -n} reports the exact byte count once a second. The extra hop costs
 * throughput on streams that run at memory speed (figures in docs/performance.md). With no counter
 * configured ({@code commands.pv: []}) the pipeline is {@code send | receive} alone, at the speed
 * of a shell pipe, and the count is sampled from the kernel's per-process I/O counters instead
 * (approximate, see {@link #direct}).
 */
public final class RealProcessRunner implements ProcessRunner {
  private static final Logger LOG = LoggerFactory.getLogger(RealProcessRunner.class);
  private static final File DEV_NULL = new File("/dev/null");
  private static final int MAX_STDOUT = 64 * 1024 * 1024;
  private static final long TICK_MS = 1000;

  /**
   * What follows {@code commands.pv}: the running byte count as a bare number ({@code -n -b}) on
   * stderr every second ({@code -i 1}) even without a terminal ({@code -f}); {@code -C}: pv's plain
   * read/write loop, measured faster here than its default {@code splice(2)} (docs/performance.md).
   */
  public static final List<String> PV_FLAGS = List.of("-C", "-f", "-n", "-b", "-i", "1");

  private final List<String> pv;
  private final int maxStdout;
  private final KillPolicy killPolicy;
  private final Set<Process> running = ConcurrentHashMap.newKeySet();

  /**
   * @param pv argv of the byte counter, e.g. {@code [pv]}; empty = a direct pipe, counted from
   *     /proc
   */
  public RealProcessRunner(List<String> pv) {
    this(pv, MAX_STDOUT, KillPolicy.DEFAULT);
  }

  /**
   * @param killPolicy how a stream is ended; tests shorten it
   */
  public RealProcessRunner(List<String> pv, KillPolicy killPolicy) {
    this(pv, MAX_STDOUT, killPolicy);
  }

  /**
   * @param maxStdout the most stdout a short command may print; more is a failure
   */
  RealProcessRunner(List<String> pv, int maxStdout) {
    this(pv, maxStdout, KillPolicy.DEFAULT);
  }

  private RealProcessRunner(List<String> pv, int maxStdout, KillPolicy killPolicy) {
    this.pv = List.copyOf(pv);
    this.maxStdout = maxStdout;
    this.killPolicy = killPolicy;
  }

  public RealProcessRunner() {
    this(List.of("pv"));
  }

  @Override
  public ProcessResult run(List<String> argv, Duration timeout) {
    LOG.debug("run: {}", argv);
    Process p;
    try {
      p = new ProcessBuilder(argv).redirectInput(DEV_NULL).start();
    } catch (IOException e) {
      return new ProcessResult(argv, -1, "", e.getMessage(), true, false);
    }
    running.add(p);
    StdoutCollector out = new StdoutCollector(p.getInputStream(), maxStdout);
    StderrTail err = new StderrTail(p.getErrorStream(), "stderr " + argv.get(0));
    boolean finished;
    try {
      finished = waitFor(p, timeout);
      if (!finished) {
        kill(p);
      }
    } finally {
      running.remove(p);
    }
    String stdout = out.await();
    String stderr = err.await();
    if (out.overflowed) {
      // Cut output is wrong output (a listing missing its last datasets): a failure, never data.
      String why = "its output exceeded " + maxStdout + " bytes and was discarded";
      return new ProcessResult(argv, -1, "", (stderr + "\n" + why).strip(), false, !finished);
    }
    return new ProcessResult(argv, finished ? p.exitValue() : -1, stdout, stderr, false, !finished);
  }

  @Override
  public void stopRunning() {
    for (Process p : running) {
      p.descendants().forEach(ProcessHandle::destroy);
      p.destroy();
    }
  }

  @Override
  public PipeResult pipe(
      List<String> send,
      List<String> receive,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    return pv.isEmpty()
        ? direct(send, receive, progress, stallTimeout, control)
        : kernelPipe(send, receive, progress, stallTimeout, control);
  }

  private PipeResult kernelPipe(
      List<String> send,
      List<String> receive,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    List<String> counter = new ArrayList<>(pv);
    counter.addAll(PV_FLAGS);
    List<ProcessBuilder> builders =
        List.of(
            new ProcessBuilder(send).redirectInput(DEV_NULL),
            new ProcessBuilder(counter),
            new ProcessBuilder(receive).redirectOutput(ProcessBuilder.Redirect.DISCARD));
    List<Process> procs;
    try {
      procs = ProcessBuilder.startPipeline(builders);
    } catch (IOException e) {
      return notStarted(send, receive, e);
    }
    ExitOrder order = new ExitOrder(procs);
    AtomicLong bytes = new AtomicLong();
    StderrTail sendErr = new StderrTail(procs.get(0).getErrorStream(), "stderr send");
    StderrTail pvErr =
        new StderrTail(
            procs.get(1).getErrorStream(),
            "pv",
            line -> {
              String t = line.trim();
              if (t.matches("[0-9]{1,19}")) {
                bytes.set(Long.parseLong(t));
              }
            });
    StderrTail recvErr = new StderrTail(procs.get(2).getErrorStream(), "stderr receive");
    Watch watch = supervise(procs, bytes, progress, stallTimeout, control);
    // An abandoned process keeps its stderr open: do not wait for its end long.
    long tail = watch.stuck ? 1_000 : 5_000;
    pvErr.await(tail);
    ProcessResult s =
        new ProcessResult(send, exit(procs.get(0)), "", sendErr.await(tail), false, false);
    ProcessResult r =
        new ProcessResult(receive, exit(procs.get(2)), "", recvErr.await(tail), false, false);
    PipeResult.Stage first =
        order.firstFailed(
            PipeResult.Stage.SEND, PipeResult.Stage.COUNTER, PipeResult.Stage.RECEIVE);
    return new PipeResult(bytes.get(), s, r, watch.stalled, watch.killed, watch.stuck, first);
  }

  /**
   * {@code send | receive} with nothing in between: the fastest pipe, but the byte count is read
   * from the kernel's per-process I/O counters ({@code /proc/PID/io}: the sender's {@code wchar},
   * else the receiver's {@code rchar}, each summed over the process and its children), sampled
   * every 20 ms. It is approximate: what a process wrote in its last 20 ms before exiting may be
   * missed, and where the data is moved by a daemon (zfs-fuse) rather than by the zfs process
   * itself the counters stay at zero.
   */
  private PipeResult direct(
      List<String> send,
      List<String> receive,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    List<ProcessBuilder> builders =
        List.of(
            new ProcessBuilder(send).redirectInput(DEV_NULL),
            new ProcessBuilder(receive).redirectOutput(ProcessBuilder.Redirect.DISCARD));
    List<Process> procs;
    try {
      procs = ProcessBuilder.startPipeline(builders);
    } catch (IOException e) {
      return notStarted(send, receive, e);
    }
    Process s = procs.get(0);
    Process r = procs.get(1);
    ExitOrder order = new ExitOrder(procs);
    AtomicLong bytes = new AtomicLong();
    StderrTail sendErr = new StderrTail(s.getErrorStream(), "stderr send");
    StderrTail recvErr = new StderrTail(r.getErrorStream(), "stderr receive");
    Thread sampler =
        new Thread(
            () -> {
              IoCounters sender = new IoCounters(s.toHandle(), "wchar");
              IoCounters receiver = new IoCounters(r.toHandle(), "rchar");
              while (r.isAlive()) {
                bytes.accumulateAndGet(Math.max(sender.read(), receiver.read()), Math::max);
                try {
                  Thread.sleep(20);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "io-sampler");
    sampler.setDaemon(true);
    sampler.start();
    Watch watch = supervise(procs, bytes, progress, stallTimeout, control);
    sampler.interrupt();
    return new PipeResult(
        bytes.get(),
        new ProcessResult(
            send, exit(s), "", sendErr.await(watch.stuck ? 1_000 : 5_000), false, false),
        new ProcessResult(
            receive, exit(r), "", recvErr.await(watch.stuck ? 1_000 : 5_000), false, false),
        watch.stalled,
        watch.killed,
        watch.stuck,
        order.firstFailed(PipeResult.Stage.SEND, PipeResult.Stage.RECEIVE));
  }

  /**
   * When each process of a pipeline exited (as the JVM's reaper saw it), to tell which stage failed
   * first: the cause is the first failure, the rest usually follow from it.
   */
  private static final class ExitOrder {
    private final List<Process> procs;
    private final long[] exited;
    private final List<java.util.concurrent.CompletableFuture<Void>> seen = new ArrayList<>();

    ExitOrder(List<Process> procs) {
      this.procs = procs;
      this.exited = new long[procs.size()];
      for (int i = 0; i < procs.size(); i++) {
        int n = i;
        seen.add(procs.get(i).onExit().thenRun(() -> exited[n] = System.nanoTime()));
      }
    }

    /**
     * The stage of the first process to exit with a failure; null when none did (or unknown). A
     * process still running (abandoned, stuck) has not exited: it is not waited for.
     */
    PipeResult.Stage firstFailed(PipeResult.Stage... stages) {
      PipeResult.Stage first = null;
      long firstAt = Long.MAX_VALUE;
      for (int i = 0; i < procs.size(); i++) {
        Process p = procs.get(i);
        if (p.isAlive()) {
          continue;
        }
        try {
          seen.get(i).get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
          return null; // not seen exiting: no order to tell
        }
        if (p.exitValue() != 0 && exited[i] < firstAt) {
          firstAt = exited[i];
          first = stages[i];
        }
      }
      return first;
    }
  }

  private static PipeResult notStarted(List<String> send, List<String> receive, IOException e) {
    ProcessResult failed = new ProcessResult(send, -1, "", e.getMessage(), true, false);
    return new PipeResult(
        0, failed, new ProcessResult(receive, -1, "", "", true, false), false, false);
  }

  private static final class Watch {
    volatile boolean stalled;
    volatile boolean killed;
    volatile boolean stuck;
  }

  /**
   * How a stream is ended when it must be: SIGTERM to every process of the stream and what they
   * started (ssh, zfs), SIGKILL to those still alive {@code killGrace} later, and {@code
   * abandonAfter} after the SIGTERM whatever still runs is abandoned (reported stuck, left running)
   * so the cycle goes on and ends with a result. A process SIGKILL cannot end is one in
   * uninterruptible sleep: a receive blocked in the kernel on a pool with {@code failmode=wait}.
   */
  public record KillPolicy(Duration killGrace, Duration abandonAfter) {
    /** Fits in the agent's shutdown grace (20 s) and in systemd's default stop timeout (90 s). */
    public static final KillPolicy DEFAULT =
        new KillPolicy(Duration.ofSeconds(5), Duration.ofSeconds(15));
  }

  /** Ends the processes of one stream, TERM first; every method is safe from any thread. */
  private static final class Ender {
    private final List<Process> procs;
    private final KillPolicy policy;
    private final List<ProcessHandle> tree = new ArrayList<>();
    private long terminatedAt;
    private boolean forced;

    Ender(List<Process> procs, KillPolicy policy) {
      this.procs = procs;
      this.policy = policy;
    }

    /** SIGTERM to the stream's processes and their descendants; the first call only. */
    synchronized void terminate() {
      if (terminatedAt != 0) {
        return;
      }
      terminatedAt = System.nanoTime();
      for (Process p : procs) {
        p.descendants().forEach(tree::add);
        tree.add(p.toHandle());
      }
      tree.forEach(ProcessHandle::destroy);
    }

    synchronized boolean terminated() {
      return terminatedAt != 0;
    }

    /**
     * Called while waiting after {@link #terminate}: SIGKILL once the grace has passed; true when
     * the bound has passed and something still runs (it is abandoned).
     */
    synchronized boolean overdue() {
      long elapsed = System.nanoTime() - terminatedAt;
      if (!forced && elapsed >= policy.killGrace().toNanos()) {
        forced = true;
        tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
      }
      return elapsed >= policy.abandonAfter().toNanos();
    }
  }

  /**
   * Waits for every process; reports progress each second, bytes moved or not; ends them all on a
   * stall or a forced stop (see {@link KillPolicy}), and abandons what outlives that.
   */
  private Watch supervise(
      List<Process> procs,
      AtomicLong bytes,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    Watch watch = new Watch();
    Ender ender = new Ender(procs, killPolicy);
    Runnable killer =
        () -> {
          watch.killed = true;
          ender.terminate();
        };
    control.register(killer);
    try {
      long lastBytes = -1;
      long lastMove = System.nanoTime();
      Process last = procs.get(procs.size() - 1);
      while (true) {
        boolean done = waitFor(last, Duration.ofMillis(TICK_MS));
        long now = System.nanoTime();
        long b = bytes.get();
        if (b != lastBytes) {
          lastBytes = b;
          lastMove = now;
        }
        // Every tick, moved or not: a paused stream still reports (the contract's "at least every
        // 5 s while streaming"; the agent thins these out for MQTT).
        progress.bytes(b);
        if (done) {
          break;
        }
        if (ender.terminated()) {
          if (ender.overdue()) {
            watch.stuck = true;
            break;
          }
        } else if (now - lastMove > stallTimeout.toNanos()) {
          LOG.warn(
              "no byte moved for {} s: killing {}",
              stallTimeout.toSeconds(),
              procs.get(0).info().command().orElse("stream"));
          watch.stalled = true;
          ender.terminate();
        }
      }
      // The receiver is done; the others end on EOF or SIGPIPE. Bound that wait too.
      long tailStart = System.nanoTime();
      while (!watch.stuck && procs.stream().anyMatch(Process::isAlive)) {
        if (!ender.terminated()
            && System.nanoTime() - tailStart > Duration.ofSeconds(30).toNanos()) {
          ender.terminate();
        }
        if (ender.terminated() && ender.overdue()) {
          watch.stuck = true;
        }
        waitFor(
            procs.stream().filter(Process::isAlive).findFirst().orElse(last),
            Duration.ofMillis(100));
      }
      if (watch.stuck) {
        LOG.error(
            "abandoned, still running {} s after SIGTERM (SIGKILL after {} s; stuck in the kernel?): {}",
            killPolicy.abandonAfter().toSeconds(),
            killPolicy.killGrace().toSeconds(),
            procs.stream()
                .filter(Process::isAlive)
                .map(p -> p.pid() + " " + p.info().commandLine().orElse("?"))
                .toList());
      }
      progress.bytes(bytes.get());
    } finally {
      control.unregister(killer);
    }
    return watch;
  }

  /** The exit code, or -1 for a process that was abandoned still running. */
  private static int exit(Process p) {
    return p.isAlive() ? -1 : p.exitValue();
  }

  private static boolean waitFor(Process p, Duration timeout) {
    try {
      return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      kill(p);
      return false;
    }
  }

  /** Kills a process and what it started (ssh, zfs), forcibly. */
  static void kill(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  /** Collects stdout on its own thread so a chatty process never blocks on a full pipe. */
  private static final class StdoutCollector {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final Thread thread;
    volatile boolean overflowed;

    StdoutCollector(InputStream in, int max) {
      thread =
          new Thread(
              () -> {
                byte[] chunk = new byte[64 * 1024];
                try (in) {
                  int n;
                  while ((n = in.read(chunk)) > 0) {
                    if (buf.size() + n > max) {
                      overflowed = true;
                      continue; // keep draining, drop the excess
                    }
                    buf.write(chunk, 0, n);
                  }
                } catch (IOException e) {
                  // process gone
                }
              },
              "stdout");
      thread.setDaemon(true);
      thread.start();
    }

    String await() {
      try {
        thread.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return buf.toString(StandardCharsets.UTF_8);
    }
  }
}
