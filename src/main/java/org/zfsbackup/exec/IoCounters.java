package org.zfsbackup.exec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads Linux's per-process I/O counters ({@code /proc/PID/io}); 0 where they cannot be read. */
final class IoCounters {
  private IoCounters() {}

  /** {@code field} ({@code rchar} or {@code wchar}) of {@code process} plus all its descendants. */
  static long tree(ProcessHandle process, String field) {
    long sum = read(process.pid(), field);
    for (ProcessHandle child : (Iterable<ProcessHandle>) process.descendants()::iterator) {
      sum += read(child.pid(), field);
    }
    return sum;
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
