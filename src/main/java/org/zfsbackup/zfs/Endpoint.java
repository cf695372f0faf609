package org.zfsbackup.zfs;

import java.nio.file.Path;
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
 * @param label for messages: {@code local} or {@code user@host:port}
 * @param ssh ssh argv prefix from {@code commands.ssh}
 * @param zfs zfs argv prefix from {@code commands.zfs} (as run on that side)
 * @param sharing the OpenSSH connection this side's commands share, when there is one
 */
public record Endpoint(
    String label,
    Optional<String> host,
    Optional<String> user,
    Optional<Integer> port,
    List<String> ssh,
    List<String> zfs,
    Duration connectTimeout,
    Optional<Sharing> sharing) {

  private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_./:@=,+%^-]+");

  public static Endpoint local(List<String> zfs) {
    return new Endpoint(
        "local",
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        List.of(),
        zfs,
        Duration.ZERO,
        Optional.empty());
  }

  public static Endpoint remote(
      String host,
      Optional<String> user,
      Optional<Integer> port,
      List<String> ssh,
      List<String> zfs,
      Duration connectTimeout) {
    String label = user.map(u -> u + "@").orElse("") + host + port.map(p -> ":" + p).orElse("");
    return new Endpoint(
        label,
        Optional.of(host),
        user,
        port,
        List.copyOf(ssh),
        List.copyOf(zfs),
        connectTimeout,
        Optional.empty());
  }

  /** The local side when {@code host} is empty, else the host over ssh. */
  public static Endpoint of(
      Optional<String> host,
      Optional<String> user,
      Optional<Integer> port,
      List<String> ssh,
      List<String> zfs,
      Duration connectTimeout) {
    return host.map(h -> remote(h, user, port, ssh, zfs, connectTimeout))
        .orElseGet(() -> local(zfs));
  }

  public boolean isLocal() {
    return host.isEmpty();
  }

  /**
   * How a user runs a command on this side by hand, for messages: empty here, else {@code ssh [-p
   * PORT] [USER@]HOST } (without the agent's own ssh options).
   */
  public String byHand() {
    return host.map(
            h ->
                "ssh "
                    + port.map(p -> "-p " + p + " ").orElse("")
                    + user.map(u -> u + "@").orElse("")
                    + h
                    + " ")
        .orElse("");
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

  /**
   * OpenSSH connection sharing: every command to this side goes through the master listening on
   * {@code controlPath} ({@code ControlMaster=auto}: the first command that finds no live master
   * becomes one, so a master that died is replaced by the next command instead of every later
   * command connecting on its own). The master stays up {@code persist} after its last session.
   */
  public record Sharing(Path controlPath, Duration persist) {
    /** The ssh options, after the user's prefix (ssh keeps the first value of an option). */
    public List<String> options() {
      return List.of(
          "-o", "ControlMaster=auto",
          "-o", "ControlPath=" + escaped(controlPath),
          "-o", "ControlPersist=" + Math.max(1, persist.toSeconds()));
    }
  }

  /** This side with its commands sharing one connection; the local side stays as it is. */
  public Endpoint shared(Sharing through) {
    if (isLocal()) {
      return this;
    }
    return new Endpoint(label, host, user, port, ssh, zfs, connectTimeout, Optional.of(through));
  }

  /** This side with every command on a connection of its own. */
  public Endpoint unshared() {
    return new Endpoint(label, host, user, port, ssh, zfs, connectTimeout, Optional.empty());
  }

  /**
   * This side with every command on a connection of its own, also where {@code ~/.ssh/config} would
   * share one ({@code commands.ssh} comes first, and ssh keeps the first value of an option, so a
   * user who sets these there keeps them).
   */
  public Endpoint ownConnection() {
    if (isLocal()) {
      return this;
    }
    List<String> own = new ArrayList<>(ssh);
    own.addAll(List.of("-o", "ControlMaster=no", "-o", "ControlPath=none"));
    return new Endpoint(label, host, user, port, own, zfs, connectTimeout, Optional.empty());
  }

  /**
   * Whether {@code commands.ssh} already says how to share connections ({@code ControlPath}, {@code
   * ControlMaster}, {@code -S}, {@code -M}): then the user's choice stands, and the agent adds
   * nothing ({@code -o ControlPath=none} turns sharing off).
   */
  public boolean sharingSetByUser() {
    for (String arg : ssh) {
      String a = arg.toLowerCase(java.util.Locale.ROOT);
      if (a.contains("controlpath")
          || a.contains("controlmaster")
          || arg.equals("-M")
          || arg.startsWith("-S")) {
        return true;
      }
    }
    return false;
  }

  /** argv that runs {@code program} on this side: as is locally, through ssh otherwise. */
  public List<String> command(List<String> program) {
    if (isLocal()) {
      return List.copyOf(program);
    }
    List<String> cmd = new ArrayList<>(ssh);
    sharing.ifPresent(s -> cmd.addAll(s.options()));
    if (!connectTimeout.isZero()) {
      cmd.add("-o");
      cmd.add("ConnectTimeout=" + Math.max(1, connectTimeout.toSeconds()));
    }
    cmd.addAll(destination());
    cmd.add("--");
    for (String arg : program) {
      cmd.add(quote(arg));
    }
    return List.copyOf(cmd);
  }

  /**
   * argv of {@code ssh -O <operation>} ({@code check}, {@code exit}) for this side's shared
   * connection: talks to the master through its socket, opens no connection.
   */
  public List<String> control(String operation) {
    Sharing s =
        sharing.orElseThrow(() -> new IllegalStateException(label + " shares no connection"));
    List<String> cmd = new ArrayList<>(ssh);
    cmd.addAll(List.of("-o", "ControlPath=" + escaped(s.controlPath()), "-O", operation));
    cmd.addAll(destination());
    return List.copyOf(cmd);
  }

  private List<String> destination() {
    List<String> cmd = new ArrayList<>();
    port.ifPresent(
        p -> {
          cmd.add("-p");
          cmd.add(String.valueOf(p));
        });
    user.ifPresent(
        u -> {
          cmd.add("-l");
          cmd.add(u);
        });
    cmd.add(host.get());
    return cmd;
  }

  /** ssh expands {@code %} tokens in a ControlPath: a literal path doubles them. */
  private static String escaped(Path path) {
    return path.toString().replace("%", "%%");
  }

  /** Quotes one argument for a POSIX shell; plain words stay as they are. */
  static String quote(String arg) {
    if (SAFE.matcher(arg).matches()) {
      return arg;
    }
    return "'" + arg.replace("'", "'\\''") + "'";
  }
}
