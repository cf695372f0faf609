package org.zfsbackup.exec;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs short commands: an argv, stdin from /dev/null, bounded in time and in the stdout kept;
 * remembers those running so a forced stop can end them.
 */
final class ShortCommands {
  // Logs as the runner it works for: the log lines stay those of RealProcessRunner.
  private static final Logger LOG = LoggerFactory.getLogger(RealProcessRunner.class);
  private static final File DEV_NULL = new File("/dev/null");

  private final int maxStdout;
  private final Set<Process> running = ConcurrentHashMap.newKeySet();

  /**
   * @param maxStdout the most stdout a short command may print; more is a failure
   */
  ShortCommands(int maxStdout) {
    this.maxStdout = maxStdout;
  }

  /** See {@link ProcessRunner#run}. */
  ProcessResult run(List<String> argv, Duration timeout) {
    LOG.debug("run: {}", argv);
    Process p;
    try {
      p = Children.builder(argv).redirectInput(DEV_NULL).start();
    } catch (IOException e) {
      return new ProcessResult(argv, -1, "", e.getMessage(), true, false);
    }
    running.add(p);
    StdoutCollector out = new StdoutCollector(p.getInputStream(), maxStdout);
    StderrTail err = new StderrTail(p.getErrorStream(), "stderr " + argv.get(0));
    boolean finished;
    try {
      finished = ProcessKiller.waitFor(p, timeout);
      if (!finished) {
        ProcessKiller.kill(p);
      }
    } finally {
      running.remove(p);
    }
    String stdout = out.await();
    String stderr = err.await();
    if (out.overflowed || out.noMemory) {
      // Cut output is wrong output (a listing missing its last datasets): a failure, never data.
      String why =
          out.noMemory
              ? "the agent ran out of memory holding its output (a larger heap, -Xmx, or a"
                  + " smaller replication.parallel_sources helps); the output was discarded"
              : "its output exceeded " + maxStdout + " bytes and was discarded";
      return new ProcessResult(argv, -1, "", (stderr + "\n" + why).strip(), false, !finished);
    }
    return new ProcessResult(argv, finished ? p.exitValue() : -1, stdout, stderr, false, !finished);
  }

  /** See {@link ProcessRunner#stopRunning}. */
  void stopRunning() {
    running.forEach(ProcessKiller::terminate);
  }

  /** Collects stdout on its own thread so a chatty process never blocks on a full pipe. */
  private static final class StdoutCollector {
    private volatile ByteArrayOutputStream buf = new ByteArrayOutputStream();
    private final Thread thread;
    volatile boolean overflowed;
    volatile boolean noMemory; // then the stream is closed: the command dies of SIGPIPE

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
                } catch (OutOfMemoryError e) { // only this command fails, not the whole cycle
                  buf = new ByteArrayOutputStream(0);
                  noMemory = true;
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
      try {
        return buf.toString(StandardCharsets.UTF_8);
      } catch (OutOfMemoryError e) {
        noMemory = true;
        return "";
      } finally {
        buf = new ByteArrayOutputStream(0); // held no longer than the string
      }
    }
  }
}
