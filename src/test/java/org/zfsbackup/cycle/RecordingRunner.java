package org.zfsbackup.cycle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;

/**
 * Passes every call on to a real runner and records it: each command run, and each pipe's send and
 * receive. Safe for cycles that run sources side by side. A test may override {@code run} or {@code
 * pipe} to watch or disturb a call, then call {@code super}.
 */
class RecordingRunner implements ProcessRunner {
  /** The two sides of one stream. */
  record Pipe(List<String> send, List<String> receive) {}

  final ProcessRunner real;
  private final List<List<String>> commands = new ArrayList<>();
  private final List<Pipe> pipes = new ArrayList<>();

  RecordingRunner(ProcessRunner real) {
    this.real = real;
  }

  @Override
  public ProcessResult run(List<String> argv, Duration timeout) {
    synchronized (this) {
      commands.add(argv);
    }
    return real.run(argv, timeout);
  }

  @Override
  public PipeResult pipe(
      List<String> send, List<String> receive, ByteProgress p, Duration stall, KillSwitch k) {
    synchronized (this) {
      commands.add(send);
      commands.add(receive);
      pipes.add(new Pipe(send, receive));
    }
    return real.pipe(send, receive, p, stall, k);
  }

  /** Every argv so far, in order: a command's, a pipe's send then its receive. */
  synchronized List<List<String>> commands() {
    return List.copyOf(commands);
  }

  /** The streams so far. */
  synchronized List<Pipe> pipes() {
    return List.copyOf(pipes);
  }

  /** The receive side of every stream so far. */
  synchronized List<List<String>> receives() {
    return pipes.stream().map(Pipe::receive).toList();
  }

  /** Forgets what was recorded. */
  synchronized void clear() {
    commands.clear();
    pipes.clear();
  }
}
