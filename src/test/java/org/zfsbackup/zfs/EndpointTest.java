package org.zfsbackup.zfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Golden argv of the ssh side with and without connection sharing. */
class EndpointTest {
  static final Endpoint.Sharing SHARING =
      new Endpoint.Sharing(Path.of("/tmp/zba-42-x1/1"), Duration.ofMinutes(5));

  static Endpoint remote(List<String> ssh) {
    return Endpoint.remote(
        "host-storage",
        Optional.of("zbackup"),
        Optional.of(2222),
        ssh,
        List.of("zfs"),
        Duration.ofSeconds(15));
  }

  @Test
  void remote_quotesArgumentsAndBoundsTheConnect() {
    Endpoint e = remote(List.of("ssh", "-o", "BatchMode=yes"));
    assertEquals(
        List.of(
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=15",
            "-p",
            "2222",
            "-l",
            "zbackup",
            "host-storage",
            "--",
            "zfs",
            "send",
            "-I",
            "tank/d@a",
            "'tank/d@it'\\''s'"),
        e.zfs("send", "-I", "tank/d@a", "tank/d@it's"));
    assertEquals("zbackup@host-storage:2222", e.label());
  }

  @Test
  void local_runsZfsDirectly() {
    assertEquals(
        List.of("sudo", "zfs", "list"), Endpoint.local(List.of("sudo", "zfs")).zfs("list"));
  }

  @Test
  void command_shared_sharingOptionsAfterTheUsersPrefixBeforeTheDestination() {
    Endpoint e =
        remote(List.of("ssh", "-i", "/root/.ssh/backup", "-o", "BatchMode=yes")).shared(SHARING);
    assertEquals(
        List.of(
            "ssh",
            "-i",
            "/root/.ssh/backup",
            "-o",
            "BatchMode=yes",
            "-o",
            "ControlMaster=auto",
            "-o",
            "ControlPath=/tmp/zba-42-x1/1",
            "-o",
            "ControlPersist=300",
            "-o",
            "ConnectTimeout=15",
            "-p",
            "2222",
            "-l",
            "zbackup",
            "host-storage",
            "--",
            "zfs",
            "send",
            "-I",
            "tank/data@a",
            "tank/data@b"),
        e.zfs("send", "-I", "tank/data@a", "tank/data@b"));
  }

  @Test
  void command_unshared_asBefore() {
    Endpoint e = remote(List.of("ssh", "-o", "BatchMode=yes")).shared(SHARING).unshared();
    assertEquals(
        List.of(
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=15",
            "-p",
            "2222",
            "-l",
            "zbackup",
            "host-storage",
            "--",
            "zfs",
            "list"),
        e.zfs("list"));
    assertEquals(remote(List.of("ssh", "-o", "BatchMode=yes")), e);
  }

  @Test
  void control_exit_talksToTheMasterThroughItsSocket() {
    Endpoint e = remote(List.of("ssh", "-o", "BatchMode=yes")).shared(SHARING);
    assertEquals(
        List.of(
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ControlPath=/tmp/zba-42-x1/1",
            "-O",
            "exit",
            "-p",
            "2222",
            "-l",
            "zbackup",
            "host-storage"),
        e.control("exit"));
    assertThrows(IllegalStateException.class, () -> e.unshared().control("exit"));
  }

  @Test
  void sharing_percentInThePath_isLiteral() {
    Endpoint.Sharing s = new Endpoint.Sharing(Path.of("/tmp/a%b/1"), Duration.ofSeconds(1));
    assertEquals("ControlPath=/tmp/a%%b/1", s.options().get(3));
  }

  @Test
  void shared_localSide_staysLocal() {
    Endpoint local = Endpoint.local(List.of("zfs"));
    assertSame(local, local.shared(SHARING));
    assertEquals(List.of("zfs", "list"), local.shared(SHARING).zfs("list"));
  }

  @Test
  void sharingSetByUser_controlPathOrMasterInThePrefix() {
    assertFalse(remote(List.of("ssh", "-o", "BatchMode=yes", "-i", "/k")).sharingSetByUser());
    assertTrue(remote(List.of("ssh", "-o", "ControlPath=none")).sharingSetByUser());
    assertTrue(remote(List.of("ssh", "-oControlMaster=no")).sharingSetByUser());
    assertTrue(remote(List.of("ssh", "-S", "/run/x")).sharingSetByUser());
    assertTrue(remote(List.of("ssh", "-M")).sharingSetByUser());
    assertFalse(remote(List.of("ssh", "-s")).sharingSetByUser(), "-s is a subsystem, not a socket");
  }
}
