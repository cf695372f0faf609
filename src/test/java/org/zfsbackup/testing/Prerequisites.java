package org.zfsbackup.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * Integration tests need real programs (zfs-fuse, sshd, mosquitto, pv). Locally a missing one skips
 * the test with a reason; under {@code CI=true} it fails loudly, so CI never passes by skipping.
 * {@code scripts/install-prereqs.sh} installs them all.
 */
public final class Prerequisites {
  private Prerequisites() {}

  public static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /** Skips (locally) or fails (CI) unless {@code present}. */
  public static void require(boolean present, String what) {
    if (present) {
      return;
    }
    String message = what + " is missing: run scripts/install-prereqs.sh (as root)";
    if (ci()) {
      throw new AssertionError("CI=true and " + message);
    }
    Assumptions.assumeTrue(false, message);
  }

  /** Requires an executable on PATH (or at an absolute path). */
  public static Path requireProgram(String name) {
    Path found = which(name);
    require(found != null, "program '" + name + "'");
    return found;
  }

  public static Path which(String name) {
    if (name.contains("/")) {
      Path p = Path.of(name);
      return Files.isExecutable(p) ? p : null;
    }
    String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin:/usr/local/sbin";
    for (String dir : path.split(":")) {
      if (dir.isEmpty()) {
        continue;
      }
      Path p = Path.of(dir, name);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** True when we run as root (zfs-fuse and sshd tests need it). */
  public static boolean root() {
    try {
      Process p = new ProcessBuilder("id", "-u").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes()).trim();
      p.waitFor();
      return out.equals("0");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
