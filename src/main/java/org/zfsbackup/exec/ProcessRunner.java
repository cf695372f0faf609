package org.zfsbackup.exec;

import java.time.Duration;
import java.util.List;

/**
 * The one port through which the agent runs processes. Every command is an argv list, never a shell
 * line. Implementations bound every call in time.
 */
public interface ProcessRunner {

  /**
   * Runs {@code argv} to completion, or kills it after {@code timeout}.
   *
   * @return the exit code and output; a process that could not start or timed out is a result with
   *     {@link ProcessResult#startFailed()} or {@link ProcessResult#timedOut()} set, not an
   *     exception
   */
  ProcessResult run(List<String> argv, Duration timeout);

  /**
   * Streams {@code send}'s stdout into {@code receive}'s stdin with bounded memory, counting bytes.
   *
   * @param progress called with the running byte count, about once a second, from another thread
   * @param stallTimeout kill both processes when no byte moves for this long
   * @param control registers a killer so a forced stop can end the stream
   */
  PipeResult pipe(
      List<String> send,
      List<String> receive,
      ByteProgress progress,
      Duration stallTimeout,
      KillSwitch control);

  /**
   * Ends (SIGTERM) every {@link #run} command still running, for a forced stop: each returns as a
   * failed result. Streams are ended through their {@link KillSwitch} instead.
   */
  default void stopRunning() {}

  /**
   * Whether a stream's bytes are counted by a process in the stream itself ({@code pv}). When they
   * are sampled from the send and receive processes' own I/O counters instead, an ssh in the stream
   * must carry the data itself, not hand it to a shared connection's master.
   */
  default boolean countsInTheStream() {
    return true;
  }

  /** Receives the running byte count of a stream. */
  @FunctionalInterface
  interface ByteProgress {
    void bytes(long total);
  }

  /** Where a pipe registers the action that kills it. */
  interface KillSwitch {
    void register(Runnable kill);

    void unregister(Runnable kill);
  }
}
