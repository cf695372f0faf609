package org.zfsbackup.check;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.zfsbackup.exec.SshSharing;
import org.zfsbackup.zfs.Endpoint;

/**
 * The {@code check} lines for ssh connection sharing: one per ssh host (user@host:port), after the
 * others. Each opens the host's master as a cycle would, in a private directory of its own, and
 * closes it. A host where sharing falls back gets a {@code warn} line (cycles still run, one
 * connection per command); the exit code stays 0. A host that does not answer gets a {@code warn}
 * line too: its own line already fails.
 */
final class SharingCheck {
  private SharingCheck() {}

  /**
   * @param endpoints the sides {@link Preflight} checks (pull sources, then push), each ssh host
   *     once however often it appears; the local ones have no line
   */
  static void addItems(
      List<Endpoint> endpoints,
      SshSharing.Factory sharing,
      Duration timeout,
      List<String> names,
      List<Callable<CheckItem>> tasks) {
    if (sharing.base().isEmpty()) {
      return;
    }
    Map<String, Endpoint> hosts = new LinkedHashMap<>();
    for (Endpoint e : endpoints) {
      if (!e.isLocal()) {
        hosts.putIfAbsent(e.label(), e);
      }
    }
    for (Endpoint host : hosts.values()) {
      String name = "ssh sharing " + host.label();
      names.add(name);
      tasks.add(() -> item(name, sharing, host, timeout));
    }
  }

  static CheckItem item(String name, SshSharing.Factory factory, Endpoint host, Duration timeout) {
    try (SshSharing sharing = factory.open(timeout)) {
      SshSharing.Connection c = sharing.share(host);
      return switch (c.state()) {
        case SHARED -> CheckItem.ok(name, "ok, one connection for every command of a cycle");
        case USER_SETTING ->
            CheckItem.ok(name, "as commands.ssh sets it (ControlPath/ControlMaster)");
        case OFF -> CheckItem.ok(name, "off");
        case FALLBACK -> CheckItem.warn(name, Preflight.oneLine(c.detail()));
        case HOST_FAILED -> CheckItem.warn(name, "not tried, ssh to this host failed");
      };
    }
  }
}
