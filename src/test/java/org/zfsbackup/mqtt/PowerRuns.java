package org.zfsbackup.mqtt;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A real power command for tests that counts its runs: each run appends one line to a file, then
 * blocks until the test opens a gate, the way a suspend returns only when the machine wakes up. So
 * a test decides when the "machine" wakes up instead of racing a fixed {@code sleep}, and asserts
 * how many times the command ran instead of whether a marker file exists. The wait is bounded (30
 * s) so a failing test never leaves a command hanging; {@link #close()} opens the gate.
 */
final class PowerRuns implements AutoCloseable {
  private static final String SCRIPT =
      "echo run >> \"$1\"; i=0; "
          + "while [ ! -e \"$2\" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done";

  private final Path runs;
  private final Path gate;

  /** {@code open}: the command returns at once (a resume right after the suspend). */
  PowerRuns(Path dir, boolean open) {
    this.runs = dir.resolve("power-runs");
    this.gate = dir.resolve("power-gate");
    if (open) {
      open();
    }
  }

  /** The argv for {@code power.command}. */
  List<String> command() {
    return List.of("sh", "-c", SCRIPT, "power", runs.toString(), gate.toString());
  }

  /** How many times the command has started so far. */
  int count() {
    try {
      return Files.exists(runs) ? Files.readAllLines(runs, StandardCharsets.UTF_8).size() : 0;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the command has started {@code n} times (or more); fails after {@code timeout}. */
  void awaitCount(int n, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (count() < n) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the power command ran " + count() + " times, not " + n);
      }
      AgentBrokerScenarios.sleep(20);
    }
  }

  /** Lets every run of the command (the current one and later ones) return: the wake-up. */
  void open() {
    try {
      if (!Files.exists(gate)) {
        Files.createFile(gate);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    open();
  }
}
