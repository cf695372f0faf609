package org.zfsbackup.check;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.testing.Cmd;
import org.zfsbackup.testing.Prerequisites;

/**
 * {@code check}'s state file item on a real file system that is full (a tmpfs of 256 KiB, filled):
 * it has inodes left, so an empty file can still be created there, but no state file can be saved.
 */
class StateFileFullIT {
  /**
   * Catches "ok state file: ... writable" on a full file system, where every save of the state then
   * fails with "No space left on device" (audit8 #3).
   */
  @Test
  void stateItem_fullFileSystem_failsSayingWhy(@TempDir Path dir) throws IOException {
    Prerequisites.require(
        "root".equals(System.getProperty("user.name")), "root (to mount a tmpfs)");
    Path mnt = Files.createDirectory(dir.resolve("full"));
    Cmd.ok("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt.toString());
    try {
      Path filler = mnt.resolve("filler");
      try (OutputStream out = Files.newOutputStream(filler)) {
        for (int i = 0; i < 128; i++) {
          out.write(new byte[4096]);
        }
      } catch (IOException full) {
        // as meant
      }
      CheckItem item = StateFileCheck.item(mnt.resolve("state.json"));
      assertFalse(item.ok(), item.line());
      assertTrue(
          item.line()
              .startsWith("FAIL state file: cannot write in " + mnt + " (No space left on device)"),
          item.line());
      Files.delete(filler);
      assertTrue(StateFileCheck.item(mnt.resolve("state.json")).ok(), "with room again");
      try (var left = Files.list(mnt)) {
        assertTrue(left.findAny().isEmpty(), "the probe left nothing behind");
      }

      // 40 KiB free: room for a small state file's next save (verify13 N1: a 64 KiB probe failed
      // here), but not for a big one's (the result of many datasets), written beside it.
      Path state = mnt.resolve("state.json");
      Files.write(state, new byte[614]);
      leaveFree(mnt, filler, 40 * 1024);
      assertTrue(StateFileCheck.item(state).ok(), StateFileCheck.item(state).line());
      Files.delete(filler);
      Files.write(state, new byte[100 * 1024]);
      leaveFree(mnt, filler, 40 * 1024);
      CheckItem big = StateFileCheck.item(state);
      assertFalse(big.ok(), big.line());
    } finally {
      Cmd.ok("umount", mnt.toString());
    }
  }

  /** Writes {@code filler} so that about {@code free} bytes stay free on {@code mnt}. */
  private static void leaveFree(Path mnt, Path filler, long free) throws IOException {
    long usable = Files.getFileStore(mnt).getUsableSpace();
    Files.write(filler, new byte[(int) Math.max(0, usable - free)]);
  }
}
