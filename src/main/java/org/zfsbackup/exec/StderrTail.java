package org.zfsbackup.exec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.Predicate;

/**
 * Drains a stream on its own thread, keeping only the last lines (bounded memory, whatever the
 * process prints), optionally handing each line to a consumer first, which may take it.
 */
final class StderrTail {
  static final int LINES = 20;
  private static final int MAX_LINE = 1000;

  private final Deque<String> lines = new ArrayDeque<>();
  private final Thread thread;

  /** {@code taken}: true for a line that is not to be kept (pv's byte counts). */
  StderrTail(InputStream in, String name, Predicate<String> taken) {
    thread =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  if (taken == null || !taken.test(line)) {
                    add(line);
                  }
                }
              } catch (IOException e) {
                // the process went away; what we have is the tail
              }
            },
            name);
    thread.setDaemon(true);
    thread.start();
  }

  StderrTail(InputStream in, String name) {
    this(in, name, null);
  }

  synchronized void add(String line) {
    if (line.isBlank()) {
      return;
    }
    lines.addLast(line.length() > MAX_LINE ? line.substring(0, MAX_LINE) + "..." : line);
    while (lines.size() > LINES) {
      lines.removeFirst();
    }
  }

  String await() {
    return await(5_000);
  }

  /** The tail, after waiting at most {@code millis} for the end of the stream. */
  String await(long millis) {
    try {
      thread.join(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      return String.join("\n", lines);
    }
  }
}
