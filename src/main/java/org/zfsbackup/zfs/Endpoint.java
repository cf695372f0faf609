package org.zfsbackup.zfs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One side of a replication: the local machine, or a host reached over ssh. Push and pull differ
 * only in which side is local. Builds argv lists; runs nothing.
 *
 * <p>ssh hands the remote command to the remote user's shell as one line, so each remote argument
 * is quoted here (every argument that reaches the remote side is also a validated dataset or
 * snapshot name, or a configured option).
 *
 * @param label  for messages: {@code local} or {@code user@host:port}
 * @param ssh    ssh argv prefix from {@code commands.ssh}
 * @param zfs    zfs argv prefix from {@code commands.zfs} (as run on that side)
 */
public record Endpoint(
    String label,
    Optional<String> host,
    Optional<String> user,
    Optional<Integer> port,
    List<String> ssh,
    List<String> zfs,
    Duration connectTimeout) {

  private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_./:@=,+%^-]+");

  public static Endpoint local(List<String> zfs) {
    return new Endpoint("local", Optional.empty(), Optional.empty(), Optional.empty(), List.of(), zfs, Duration.ZERO);
  }

  public static Endpoint remote(
      String host, Optional<String> user, Optional<Integer> port, List<String> ssh, List<String> zfs, Duration connectTimeout) {
    String label = user.map(u -> u + "@").orElse("") + host + port.map(p -> ":" + p).orElse("");
    return new Endpoint(label, Optional.of(host), user, port, List.copyOf(ssh), List.copyOf(zfs), connectTimeout);
  }

  /** The local side when {@code host} is empty, else the host over ssh. */
  public static Endpoint of(
      Optional<String> host, Optional<String> user, Optional<Integer> port, List<String> ssh, List<String> zfs, Duration connectTimeout) {
    return host.map(h -> remote(h, user, port, ssh, zfs, connectTimeout)).orElseGet(() -> local(zfs));
  }

  public boolean isLocal() {
    return host.isEmpty();
  }

  /** argv that runs {@code zfs <args>} on this side. */
  public List<String> zfs(List<String> args) {
    List<String> cmd = new ArrayList<>(zfs);
    cmd.addAll(args);
    return command(cmd);
  }

  public List<String> zfs(String... args) {
    return zfs(List.of(args));
  }

  /** argv that runs {@code program} on this side: as is locally, through ssh otherwise. */
  public List<String> command(List<String> program) {
    if (isLocal()) {
      return List.copyOf(program);
    }
    List<String> cmd = new ArrayList<>(ssh);
    if (!connectTimeout.isZero()) {
      cmd.add("-o");
      cmd.add("ConnectTimeout=" + Math.max(1, connectTimeout.toSeconds()));
    }
    port.ifPresent(p -> {
      cmd.add("-p");
      cmd.add(String.valueOf(p));
    });
    user.ifPresent(u -> {
      cmd.add("-l");
      cmd.add(u);
    });
    cmd.add(host.get());
    cmd.add("--");
    for (String arg : program) {
      cmd.add(quote(arg));
    }
    return List.copyOf(cmd);
  }

  /** Quotes one argument for a POSIX shell; plain words stay as they are. */
  static String quote(String arg) {
    if (SAFE.matcher(arg).matches()) {
      return arg;
    }
    return "'" + arg.replace("'", "'\\''") + "'";
  }
}
