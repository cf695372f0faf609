package org.zfsbackup.mqtt;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.zfsbackup.exec.Children;
import org.zfsbackup.exec.ProcessResult;

/**
 * Runs the power command as an argv list, never through a shell, with no timeout: some suspend
 * commands return only when the machine wakes up, which may be hours later. Keeps the last lines of
 * its combined output for the error event.
 */
final class ProcessPowerSwitch implements PowerSwitch {
  private static final int TAIL_LINES = 20;

  @Override
  public ProcessResult run(List<String> argv) {
    Process process;
    try {
      process =
          Children.builder(argv)
              .redirectErrorStream(true)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
    } catch (IOException e) {
      return new ProcessResult(argv, -1, "", String.valueOf(e.getMessage()), true, false);
    }
    Deque<String> tail = new ArrayDeque<>();
    try (BufferedReader r =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (tail.size() == TAIL_LINES) {
          tail.removeFirst();
        }
        tail.addLast(line.length() > 500 ? line.substring(0, 500) : line);
      }
    } catch (IOException e) {
      tail.addLast("(output unreadable: " + e.getMessage() + ")");
    }
    try {
      int exit = process.waitFor();
      return new ProcessResult(argv, exit, "", String.join("\n", tail), false, false);
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      return new ProcessResult(argv, -1, "", "interrupted while waiting", false, false);
    }
  }
}
