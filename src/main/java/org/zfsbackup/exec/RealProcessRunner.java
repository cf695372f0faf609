package org.zfsbackup.exec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
 * (approximate, see {@link Pipelines}).
 *
 * <p>The work is split by responsibility: {@link ShortCommands} runs short commands, {@link
 * Pipelines} runs streams, each watched by a {@link Watchdog} that ends them through a {@link
 * ProcessKiller}; {@link ExitOrder} tells which stage failed first.
 */
public final class RealProcessRunner implements ProcessRunner {
  private static final int MAX_STDOUT = 64 * 1024 * 1024;

  /**
   * What follows {@code commands.pv}: the running byte count as a bare number ({@code -n -b}) on
   * stderr every second ({@code -i 1}) even without a terminal ({@code -f}); {@code -C}: pv's plain
   * read/write loop, measured faster here than its default {@code splice(2)} (docs/performance.md).
   */
  private static final List<String> PV_FLAGS = List.of("-C", "-f", "-n", "-b", "-i", "1");

  private final ShortCommands commands;
  private final Pipelines pipelines;
  private final boolean countsInTheStream;

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
    this.commands = new ShortCommands(maxStdout);
    this.pipelines = new Pipelines(pv, new Watchdog(killPolicy));
    this.countsInTheStream = !pv.isEmpty();
  }

  public RealProcessRunner() {
    this(List.of("pv"));
  }

  @Override
  public boolean countsInTheStream() {
    return countsInTheStream;
  }

  /**
   * The argv of the byte counter a stream goes through: {@code pv} followed by {@link #PV_FLAGS}.
   *
   * @param pv {@code commands.pv}, e.g. {@code [pv]}
   * @return empty when {@code pv} is (a direct pipe, counted from /proc)
   */
  public static List<String> counter(List<String> pv) {
    if (pv.isEmpty()) {
      return List.of();
    }
    List<String> argv = new ArrayList<>(pv);
    argv.addAll(PV_FLAGS);
    return List.copyOf(argv);
  }

  @Override
  public ProcessResult run(List<String> argv, Duration timeout) {
    return commands.run(argv, timeout);
  }

  @Override
  public void stopRunning() {
    commands.stopRunning();
  }

  @Override
  public PipeResult pipe(
      List<String> send,
      List<String> receive,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    return pipelines.pipe(send, receive, progress, stallTimeout, control);
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
}
