package org.zfsbackup.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a test-setup command (argv, no shell), bounded in time; fails the test when it fails. */
public final class Cmd {
  private Cmd() {}

  public record Result(int code, String out, String err) {}

  public static String ok(String... argv) {
    return ok(List.of(argv), 120);
  }

  public static String ok(List<String> argv, int timeoutSeconds) {
    Result r = run(argv, timeoutSeconds);
    if (r.code() != 0) {
      throw new AssertionError(
          String.join(" ", argv) + " exited " + r.code() + ": " + r.err() + r.out());
    }
    return r.out();
  }

  public static Result run(String... argv) {
    return run(List.of(argv), 120);
  }

  public static Result run(List<String> argv, int timeoutSeconds) {
    try {
      Process p =
          new ProcessBuilder(argv)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
      var out = new java.util.concurrent.CompletableFuture<String>();
      var err = new java.util.concurrent.CompletableFuture<String>();
      new Thread(() -> out.complete(read(p.getInputStream()))).start();
      new Thread(() -> err.complete(read(p.getErrorStream()))).start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new AssertionError(
            String.join(" ", argv) + " did not finish in " + timeoutSeconds + " s");
      }
      return new Result(
          p.exitValue(), out.get(10, TimeUnit.SECONDS), err.get(10, TimeUnit.SECONDS));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static String read(java.io.InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}
