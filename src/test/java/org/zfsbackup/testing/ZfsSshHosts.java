package org.zfsbackup.testing;

import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.zfsbackup.config.AgentConfig.PushConfig;

/**
 * The hosts of a replication IT on real ZFS: throwaway pools named {@code <prefix>src}, {@code
 * <prefix>bak} and (optionally) {@code <prefix>off}, and optionally a real sshd on 127.0.0.1 to
 * reach them. Close stops sshd before destroying the pools.
 */
public final class ZfsSshHosts implements AutoCloseable {
  public final ZfsPools pools;

  /** The sshd, or null when the hosts are local only. */
  public final SshServer ssh;

  public final String src;
  public final String bak;

  /** The "offsite" pool, or null when there is none. */
  public final String off;

  private ZfsSshHosts(String prefix, Supplier<SshServer> sshd, boolean offsite) {
    pools = new ZfsPools();
    SshServer started = null;
    try {
      started = sshd == null ? null : sshd.get();
      src = pools.create(prefix + "src");
      bak = pools.create(prefix + "bak");
      off = offsite ? pools.create(prefix + "off") : null;
    } catch (RuntimeException | Error e) {
      close(started, pools);
      throw e;
    }
    ssh = started;
  }

  /** Source, backup and offsite pools reached over a real sshd. */
  public static ZfsSshHosts overSsh(String prefix) {
    return new ZfsSshHosts(prefix, SshServer::new, true);
  }

  /** Source, backup and offsite pools reached over a real sshd logging at {@code logLevel}. */
  public static ZfsSshHosts overSsh(String prefix, String logLevel) {
    return new ZfsSshHosts(prefix, () -> new SshServer(logLevel), true);
  }

  /** Source and backup pools only (no offsite), reached over a real sshd. */
  public static ZfsSshHosts overSshNoOffsite(String prefix) {
    return new ZfsSshHosts(prefix, SshServer::new, false);
  }

  /** Source, backup and offsite pools, all local: no sshd. */
  public static ZfsSshHosts local(String prefix) {
    return new ZfsSshHosts(prefix, null, true);
  }

  /**
   * A push of {@code target} to {@code offTarget}, received with {@link
   * TestConfigs#ZFS_FUSE_RECEIVE}, pruning {@code target}: as root@127.0.0.1 over the sshd, or
   * locally (no host, user or port) when there is no sshd.
   */
  public PushConfig push(String offTarget, String target) {
    return new PushConfig(
        ssh == null ? Optional.empty() : Optional.of("127.0.0.1"),
        ssh == null ? Optional.empty() : Optional.of("root"),
        ssh == null ? Optional.empty() : Optional.of(ssh.port),
        offTarget,
        target,
        false,
        TestConfigs.ZFS_FUSE_RECEIVE,
        List.of(target));
  }

  @Override
  public void close() {
    close(ssh, pools);
  }

  private static void close(SshServer ssh, ZfsPools pools) {
    if (ssh != null) {
      ssh.close();
    }
    pools.close();
  }
}
