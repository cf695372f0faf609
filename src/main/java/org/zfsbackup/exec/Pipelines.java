package org.zfsbackup.exec;

import java.io.File;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.exec.ProcessRunner.ByteProgress;
import org.zfsbackup.exec.ProcessRunner.KillSwitch;

/**
 * Runs one stream as a pipeline the JVM never reads: {@code send | pv | receive} counted by pv, or
 * {@code send | receive} alone counted from /proc (see {@link #run}); each watched by a {@link
 * Watchdog} to its end, each stage's stderr tail and exit code, and which stage failed first.
 */
final class Pipelines {
  // Logs as the runner it works for: the log lines stay those of RealProcessRunner.
  private static final Logger LOG = LoggerFactory.getLogger(RealProcessRunner.class);
  private static final File DEV_NULL = new File("/dev/null");

  /** The byte counter with its flags ({@link RealProcessRunner#counter}); empty = none. */
  private final List<String> counter;

  private final Watchdog watchdog;

  /**
   * @param pv argv of the byte counter, without its flags; empty = a direct pipe, counted from
   *     /proc
   */
  Pipelines(List<String> pv, Watchdog watchdog) {
    this.counter = RealProcessRunner.counter(pv);
    this.watchdog = watchdog;
  }

  PipeResult pipe(
      List<String> send,
      List<String> receive,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    return run(send, counter, receive, progress, stallTimeout, control);
  }

  /**
   * Runs {@code send | counter | receive}, or {@code send | receive} when {@code counter} is empty.
   *
   * <p>With a counter, the bytes are those pv prints on its stderr. Without, it is the fastest
   * pipe, but the byte count is read from the kernel's per-process I/O counters ({@code
   * /proc/PID/io}: the sender's {@code wchar}, else the receiver's {@code rchar}, each summed over
   * the process and its children), sampled every 20 ms. It is approximate: what a process wrote in
   * its last 20 ms before exiting may be missed, and where the data is moved by a daemon (zfs-fuse)
   * rather than by the zfs process itself the counters stay at zero.
   *
   * @param counter argv of the byte counter with its flags; empty = none
   */
  private PipeResult run(
      List<String> send,
      List<String> counter,
      List<String> receive,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control) {
    boolean counted = !counter.isEmpty();
    // log_level: debug shows each stream's commands, as the scripts' --debug did (-u, -w, -F ...).
    LOG.debug("stream: {} | {}{}", send, counted ? counter + " | " : "", receive);
    List<ProcessBuilder> builders = new ArrayList<>();
    builders.add(Children.builder(send).redirectInput(DEV_NULL));
    if (counted) {
      builders.add(Children.builder(counter));
    }
    builders.add(Children.builder(receive).redirectOutput(ProcessBuilder.Redirect.DISCARD));
    List<Process> procs;
    try {
      procs = ProcessBuilder.startPipeline(builders);
    } catch (IOException e) {
      return notStarted(send, counter, receive, e);
    }
    Process s = procs.get(0);
    Process r = procs.get(procs.size() - 1);
    ExitOrder order = new ExitOrder(procs);
    AtomicLong bytes = new AtomicLong();
    StderrTail sendErr = new StderrTail(s.getErrorStream(), "stderr send");
    StderrTail pvErr = counted ? countFromPv(procs.get(1), bytes) : null;
    StderrTail recvErr = new StderrTail(r.getErrorStream(), "stderr receive");
    Thread sampler = counted ? null : sampleIo(s, r, bytes);
    // Moving: the count grows. pv paces its counts on the wall clock, and after an NTP step back it
    // is silent that long while the data flows: what it has read ({@code /proc}) counts too (both
    // only grow, so their sum moves when either does).
    IoCounters pvReads =
        counted ? new IoCounters(procs.get(1).toHandle(), "rchar", 10_000_000_000L) : null;
    LongSupplier moving = counted ? () -> bytes.get() + pvReads.read() : bytes::get;
    Watchdog.Watch watch =
        watchdog.supervise(procs, bytes, moving, progress, stallTimeout, control);
    if (sampler != null) {
      sampler.interrupt();
    }
    // An abandoned process keeps its stderr open: do not wait for its end long.
    long tail = watch.stuck ? 1_000 : 5_000;
    String pvTail = pvErr == null ? "" : pvErr.await(tail);
    ProcessResult sent = new ProcessResult(send, exit(s), "", sendErr.await(tail), false, false);
    ProcessResult pv =
        counted ? new ProcessResult(counter, exit(procs.get(1)), "", pvTail, false, false) : null;
    ProcessResult received =
        new ProcessResult(receive, exit(r), "", recvErr.await(tail), false, false);
    PipeResult.Stage first =
        counted
            ? order.firstFailed(
                PipeResult.Stage.SEND, PipeResult.Stage.COUNTER, PipeResult.Stage.RECEIVE)
            : order.firstFailed(PipeResult.Stage.SEND, PipeResult.Stage.RECEIVE);
    return new PipeResult(
        bytes.get(), sent, received, watch.stalled, watch.killed, watch.stuck, first, pv);
  }

  /**
   * Reads pv's stderr: each line a byte count, the last one kept in {@code bytes}; the others (what
   * pv says when it fails) are its tail.
   */
  private static StderrTail countFromPv(Process pv, AtomicLong bytes) {
    return new StderrTail(
        pv.getErrorStream(),
        "pv",
        line -> {
          String t = line.trim();
          if (t.matches("[0-9]{1,19}")) {
            bytes.set(Long.parseLong(t));
            return true;
          }
          return false;
        });
  }

  /** Starts the io-sampler: every 20 ms while the receive runs, the /proc count into bytes. */
  private static Thread sampleIo(Process s, Process r, AtomicLong bytes) {
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
    return sampler;
  }

  /**
   * The pipeline could not start: reported on the send's side, naming the program that is missing
   * (Java's message quotes it: {@code Cannot run program "pv"}), which may be the counter's.
   */
  private static PipeResult notStarted(
      List<String> send, List<String> counter, List<String> receive, IOException e) {
    String why = String.valueOf(e.getMessage());
    List<String> culprit =
        Stream.of(send, counter, receive)
            .filter(argv -> !argv.isEmpty() && why.contains("\"" + argv.get(0) + "\""))
            .findFirst()
            .orElse(send);
    ProcessResult failed = new ProcessResult(culprit, -1, "", why, true, false);
    return new PipeResult(
        0, failed, new ProcessResult(receive, -1, "", "", true, false), false, false);
  }

  /** The exit code, or -1 for a process that was abandoned still running. */
  private static int exit(Process p) {
    return p.isAlive() ? -1 : p.exitValue();
  }
}
