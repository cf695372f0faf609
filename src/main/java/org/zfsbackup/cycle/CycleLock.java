package org.zfsbackup.cycle;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * One backup cycle at a time per configuration, across processes: a {@code run} from cron and the
 * agent's own cycle must not receive into the same datasets at once. An exclusive lock (POSIX
 * {@code fcntl}, released by the kernel if the process dies) on {@code <state_file>.lock}, held for
 * the whole cycle. Dry runs change nothing and take no lock. The agent takes it too, for its
 * power-down: a suspend waits for a {@code run} from cron instead of cutting it off.
 */
public final class CycleLock implements AutoCloseable {

  /** What {@link #tryAcquire} found. */
  public sealed interface Attempt {}

  /** Ours until {@link CycleLock#close}. */
  public record Acquired(CycleLock lock) implements Attempt {}

  /** Another cycle holds it. */
  public record Busy(Path file) implements Attempt {}

  /** The lock file cannot be created or locked (a read-only or missing directory). */
  public record Unavailable(Path file, String why) implements Attempt {}

  private final FileChannel channel;
  private final FileLock lock;

  private CycleLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  public static Path fileFor(Path stateFile) {
    return stateFile.resolveSibling(stateFile.getFileName() + ".lock");
  }

  /**
   * Locks {@code file}, creating it if needed. The state directory may belong to the agent's own
   * user while root runs {@code run} from cron: a symlink there is never followed, a file that is
   * not a regular one (a FIFO) never locked, and only a file this call created has its mode changed
   * (see {@link #shareWithOtherUsers}).
   */
  public static Attempt tryAcquire(Path file) {
    FileChannel channel = null;
    try {
      Path dir = file.toAbsolutePath().getParent();
      if (dir != null) {
        Files.createDirectories(dir);
      }
      boolean created = false;
      try {
        channel = FileChannel.open(file, Set.of(CREATE_NEW, READ, WRITE, NOFOLLOW_LINKS));
        created = true;
      } catch (FileAlreadyExistsException e) {
        if (!Files.isRegularFile(file, NOFOLLOW_LINKS)) {
          return new Unavailable(file, "it is not a regular file (a symlink?): remove it");
        }
        // Read and write: a FIFO swapped in meanwhile does not block it (nor could it be locked).
        channel = FileChannel.open(file, Set.of(READ, WRITE, NOFOLLOW_LINKS));
      }
      if (created) {
        shareWithOtherUsers(file);
      }
      FileLock lock = channel.tryLock();
      if (lock == null) {
        channel.close();
        return new Busy(file);
      }
      return new Acquired(new CycleLock(channel, lock));
    } catch (OverlappingFileLockException e) {
      closeQuietly(channel);
      return new Busy(file); // held by another cycle of this same process
    } catch (AccessDeniedException e) {
      closeQuietly(channel);
      if (!Files.exists(file, NOFOLLOW_LINKS)) {
        return new Unavailable(
            file,
            "this user may not create it: it cannot write in "
                + file.toAbsolutePath().getParent()
                + " (the state_file's directory: make it this user's)");
      }
      return new Unavailable(
          file,
          "this user may not write it: another user created it first (a root run in the agent"
              + " user's directory?); remove it once, while no cycle runs, and the next one makes"
              + " it shareable");
    } catch (IOException | SecurityException e) {
      closeQuietly(channel);
      return new Unavailable(file, e.toString());
    }
  }

  /**
   * A root {@code run} from cron and an agent running as its own user lock the same file: let both
   * open it for writing (it stays empty; the directory's own mode still decides who gets in). Done
   * by the process that created it, and only in a directory that no one else can change: there,
   * nothing can be swapped in (a symlink, a hard link, a FIFO) between the create and the chmod.
   * Elsewhere (root's {@code run} first in the agent user's directory) the file keeps the umask's
   * mode; the agent's user then cannot lock it and its cycles warn so (remove the file).
   */
  private static void shareWithOtherUsers(Path file) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Map<String, Object> attrs = Files.readAttributes(dir, "unix:uid,mode");
      int owner = (Integer) attrs.get("uid");
      int mode = (Integer) attrs.get("mode");
      int us = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid"); // this process
      if (owner == us && (mode & 022) == 0) {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));
      }
    } catch (IOException | RuntimeException e) {
      // not a POSIX file system: as it is
    }
  }

  /**
   * The pid of the process that holds the lock on {@code file} now, read from {@code /proc/locks}
   * without taking it (a {@code plan} that took it for a moment could make a {@code run} starting
   * at that instant skip its night); empty when no one holds it, or when that cannot be told (no
   * {@code /proc}, a file system that shows other inode numbers).
   */
  public static Optional<Long> holder(Path file) {
    try {
      Map<String, Object> attrs = Files.readAttributes(file, "unix:dev,ino", NOFOLLOW_LINKS);
      long dev = (Long) attrs.get("dev");
      long major = ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
      long minor = (dev & 0xff) | ((dev >>> 12) & ~0xffL);
      String id = "%02x:%02x:%d".formatted(major, minor, (Long) attrs.get("ino"));
      // "1: POSIX  ADVISORY  WRITE 1234 fe:00:2385513 0 EOF" (a waiter's line has "->" after 1:)
      try (Stream<String> lines = Files.lines(Path.of("/proc/locks"))) {
        return lines
            .map(line -> line.trim().split("\\s+"))
            .filter(f -> f.length >= 6 && f[1].equals("POSIX") && f[5].equals(id))
            .map(f -> Long.parseLong(f[4]))
            .findFirst();
      }
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // no lock file yet, or no /proc: nothing to tell
    }
  }

  @Override
  public void close() {
    try {
      lock.release();
    } catch (IOException e) {
      // closing the channel releases it too
    }
    closeQuietly(channel);
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // nothing more to do
      }
    }
  }
}
