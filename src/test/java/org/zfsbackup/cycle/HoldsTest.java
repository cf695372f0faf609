package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class HoldsTest {
  static final List<String> BATCH = List.of("t/a@s1", "t/b@s1", "t/c@s1");

  @Test
  void notHeld_zfsNamesTheFailures_onlyThoseAreReported() {
    String stderr = "cannot hold snapshot 't/b@s1': dataset is busy\n";
    assertEquals(List.of("t/b@s1"), Holds.notHeld(BATCH, stderr));
  }

  @Test
  void notHeld_zfsNamesNone_theWholeBatchIsReported() {
    assertEquals(BATCH, Holds.notHeld(BATCH, "ssh: connect to host h: Connection refused"));
  }

  @Test
  void notHeld_heldMeanwhile_isWhatWeWanted() {
    String stderr =
        "cannot hold snapshot 't/a@s1': tag already exists on this dataset\n"
            + "cannot hold snapshot 't/c@s1': out of space\n";
    assertEquals(List.of("t/c@s1"), Holds.notHeld(BATCH, stderr));
  }

  /** OpenZFS {@code zfs holds -H}: only this tag's holds are released, never another tool's. */
  @Test
  void tagged_onlyThisTag() {
    String out = "t/a@s1\tzfs-backup-agent:bak\tThu Nov 26 02:00 2026\n"
        + "t/a@s1\tzrepl_last\tThu Nov 26 02:00 2026\n"
        + "t/b@s1\tzfs-backup-agent:bak2\tThu Nov 26 02:00 2026\n";
    assertEquals(List.of("t/a@s1"), Holds.tagged(out, "zfs-backup-agent:bak"));
  }

  /** zfs-fuse prints its missing `zfs holds` on stdout, with ssh-like exit 255. */
  @Test
  void noHoldsCommand_zfsFuseAndOthers() {
    var fuse = new org.zfsbackup.exec.ProcessResult(
        List.of("zfs"), 255, "internal error: /usr/lib/zfs/pyzfs.py not found\n", "", false, false);
    var other = new org.zfsbackup.exec.ProcessResult(
        List.of("zfs"), 2, "", "unrecognized command 'holds'\nusage: zfs command args ...", false, false);
    var ssh = new org.zfsbackup.exec.ProcessResult(
        List.of("ssh"), 255, "", "ssh: connect to host h port 22: Connection refused", false, false);
    org.junit.jupiter.api.Assertions.assertTrue(Holds.noHoldsCommand(fuse));
    org.junit.jupiter.api.Assertions.assertTrue(Holds.noHoldsCommand(other));
    org.junit.jupiter.api.Assertions.assertFalse(Holds.noHoldsCommand(ssh));
  }
}
