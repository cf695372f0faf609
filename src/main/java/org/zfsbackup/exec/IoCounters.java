package org.zfsbackup.exec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads one of Linux's per-process I/O counters ({@code /proc/PID/io}: {@code rchar} or {@code
 * wchar}) for a process and its descendants (a wrapper such as {@code sudo zfs} moves the data in
 * its child). Finding the descendants scans every process, so that is done at most every half
 * second; reading the counters of known processes is cheap. 0 where nothing can be read.
 */
final class IoCounters {
  private static final long RESCAN_NANOS = 500_000_000L;

  private final ProcessHandle root;
  private final String field;
  private final long rescanNanos;
  private List<Long> pids = List.of();
  private long lastScan;
  private long best;

  IoCounters(ProcessHandle root, String field) {
    this(root, field, RESCAN_NANOS);
  }

  /** {@code rescan}: how often to look for descendants (each look scans every process). */
  IoCounters(ProcessHandle root, String field, long rescanNanos) {
    this.root = root;
    this.field = field;
    this.rescanNanos = rescanNanos;
  }

  /**
   * The largest total seen so far (counters vanish with their process; the total never goes down).
   */
  long read() {
    long now = System.nanoTime();
    if (pids.isEmpty() || now - lastScan > rescanNanos) {
      List<Long> found = new ArrayList<>();
      found.add(root.pid());
      root.descendants().forEach(d -> found.add(d.pid()));
      pids = found;
      lastScan = now;
    }
    long sum = 0;
    for (long pid : pids) {
      sum += read(pid, field);
    }
    best = Math.max(best, sum);
    return best;
  }

  static long read(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "io"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.substring(field.length() + 1).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone, or not ours to read
    }
    return 0;
  }
}
