package org.zfsbackup.e2e;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.zfsbackup.testing.Prerequisites;

/** The built jar ({@code target/zfs-backup-agent.jar}), run in its own JVM as a user runs it. */
final class BuiltJar {
  private BuiltJar() {}

  /**
   * {@code java -Xmx256m -jar target/zfs-backup-agent.jar ARGS...} with this JVM's java; skips
   * (locally) or fails (CI) when the jar was not built. The caller sets redirects and environment.
   */
  static ProcessBuilder command(String... args) {
    Path jar = Path.of("target/zfs-backup-agent.jar").toAbsolutePath();
    Prerequisites.require(
        Files.isRegularFile(jar), "the built jar (mvn package before the integration tests)");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> argv = new ArrayList<>(List.of(java, "-Xmx256m", "-jar", jar.toString()));
    argv.addAll(List.of(args));
    return new ProcessBuilder(argv);
  }
}
