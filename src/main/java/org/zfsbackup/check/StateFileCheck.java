package org.zfsbackup.check;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Predicate;

/** {@code check}'s state file item: can the agent keep its state and its cycle lock there. */
final class StateFileCheck {
  private StateFileCheck() {}

  /**
   * The agent keeps {@code last_success_at} and its cycle lock beside it: a state file that cannot
   * be written loses them at each restart. A file is created and removed in its directory to see; a
   * directory still to be made is judged by the nearest one that exists.
   */
  static CheckItem item(Path file) {
    return item(file, Files::isWritable);
  }

  /** {@code writable}: whether this user may create in a directory (root may everywhere). */
  static CheckItem item(Path file, Predicate<Path> writable) {
    String name = "state file";
    Path dir = file.toAbsolutePath().getParent();
    Path existing = dir;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    String problem = null;
    if (Files.isDirectory(file)) {
      problem = file + " is a directory";
    } else if (existing == null || !Files.isDirectory(existing)) {
      problem = "no directory to create " + dir + " in";
    } else if (existing.equals(dir)) {
      // A state file's worth of bytes, not only an empty file: a full file system has inodes. A
      // save writes the new file beside the old one, as big as it is now (its result grows with
      // the datasets), or a first one of a few KiB.
      Path probe = null;
      try {
        long size = Math.max(4096, Files.isRegularFile(file) ? Files.size(file) : 0);
        probe = Files.createTempFile(dir, ".zfs-backup-agent-check", ".tmp");
        try (FileChannel out = FileChannel.open(probe, StandardOpenOption.WRITE)) {
          ByteBuffer bytes = ByteBuffer.allocate((int) Math.min(size, 64L << 20));
          while (bytes.hasRemaining()) {
            out.write(bytes);
          }
          out.force(true);
        }
      } catch (IOException e) {
        String why =
            e instanceof FileSystemException f && f.getReason() != null
                ? f.getReason()
                : e.getMessage() != null && !e.getMessage().contains("/")
                    ? e.getMessage() // "No space left on device"
                    : e.getClass().getSimpleName();
        problem = "cannot write in " + dir + " (" + why + ")";
      } finally {
        try {
          if (probe != null) {
            Files.deleteIfExists(probe);
          }
        } catch (IOException e) {
          // left behind: a hidden file, as big as the state file at most
        }
      }
    } else if (!writable.test(existing)) {
      // The dedicated-user unit's StateDirectory= makes it at the first start, as root.
      return CheckItem.warn(
          name,
          dir
              + " does not exist yet and this user cannot create it ("
              + existing
              + " is not writable): the systemd units create it at the first start; otherwise"
              + " create it for the agent's user");
    }
    return problem == null
        ? CheckItem.ok(name, file + " writable")
        : CheckItem.fail(name, problem + ": last_success_at would be lost at each restart");
  }
}
