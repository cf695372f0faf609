package org.zfsbackup.exec;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The private directories of a cycle's ssh control sockets: {@code <base>/zba-<pid>-<random>}, mode
 * 0700, one per cycle, and how the ones that crashed runs left behind are found.
 *
 * <p>A directory in use is known by the lock (fcntl, which the kernel drops when its process dies)
 * that its run holds on the {@link #LOCK} file inside. A pid in the name could not tell: a run in
 * another PID namespace sharing {@code /tmp} (a container, a sandbox) has pids of its own. The lock
 * is taken before the directory gets its name, so no run ever sees it unlocked while in use.
 */
final class ControlDirs {
  private static final Logger LOG = LoggerFactory.getLogger(ControlDirs.class);

  static final String PREFIX = "zba-";

  /** In each directory: locked by the run that uses it. */
  static final String LOCK = ".lock";

  /** A directory without a lock file (an older version's) is left alone this long. */
  static final Duration LEGACY_AGE = Duration.ofMinutes(10);

  private static final Pattern OURS = Pattern.compile("zba-([0-9]{1,19})-[0-9a-z]{1,16}");

  /**
   * The directories this process uses: never looked into by {@link #removeStale} (opening their
   * lock file again and closing it would drop this process's lock: fcntl locks are per process).
   */
  private static final Set<Path> OWN = ConcurrentHashMap.newKeySet();

  private ControlDirs() {}

  /** A directory in use: its lock is held until {@link #close}, which removes it. */
  record Dir(Path path, FileChannel lock) implements AutoCloseable {
    @Override
    public void close() {
      deleteTree(path);
      if (lock != null) {
        try {
          lock.close(); // after the removal: nobody takes a directory in use for ended
        } catch (IOException e) {
          LOG.debug("closing the lock of {}: {}", path, e.toString());
        }
      }
      OWN.remove(path);
    }
  }

  /**
   * Makes a new directory below {@code base}: created under a name no run looks at, locked, then
   * renamed to {@code zba-<pid>-<random>}. Where the file system cannot lock, it goes on without a
   * lock (logged), and {@link #LEGACY_AGE} protects it.
   */
  static Dir create(Path base) throws IOException {
    SecureRandom random = new SecureRandom();
    String rand = Long.toString(random.nextInt(Integer.MAX_VALUE), 36);
    Path made =
        Files.createDirectory(
            base.resolve(PREFIX + "new-" + rand),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    Files.setPosixFilePermissions(made, PosixFilePermissions.fromString("rwx------"));
    FileChannel lock = lock(made.resolve(LOCK));
    long pid = ProcessHandle.current().pid();
    for (int i = 0; ; i++) {
      Path d = base.resolve(PREFIX + pid + "-" + rand);
      if (!Files.exists(d, LinkOption.NOFOLLOW_LINKS)) {
        try {
          Files.move(made, d, StandardCopyOption.ATOMIC_MOVE);
          OWN.add(d);
          return new Dir(d, lock);
        } catch (FileAlreadyExistsException e) {
          // taken meanwhile: another name
        }
      }
      if (i > 10) {
        new Dir(made, lock).close();
        throw new FileAlreadyExistsException(d.toString());
      }
      rand = Long.toString(random.nextInt(Integer.MAX_VALUE), 36);
    }
  }

  private static FileChannel lock(Path file) {
    try {
      FileChannel ch =
          FileChannel.open(
              file,
              StandardOpenOption.CREATE_NEW,
              StandardOpenOption.WRITE,
              LinkOption.NOFOLLOW_LINKS);
      if (ch.tryLock() != null) {
        return ch;
      }
      ch.close();
    } catch (IOException | RuntimeException e) {
      LOG.warn("cannot lock {} ({}): its directory is protected by its age only", file, e);
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      LOG.debug("cannot remove {}: {}", file, e.toString());
    }
    return null;
  }

  /**
   * Removes the directories of runs that ended without cleaning up (a crash, a kill): their sockets
   * are dead or belong to a master that ends by itself. Only directories owned by this process's
   * user are looked at (in those, nobody else can plant a file), never this process's own; one is
   * taken for ended when nobody holds the lock on its regular {@link #LOCK} file, and one without a
   * lock file (an older version's) when its process is gone and it is older than {@link
   * #LEGACY_AGE}. A {@code .lock} that is not a regular file is left alone, never opened.
   */
  static void removeStale(Path base) {
    Object me;
    try {
      me = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException | RuntimeException e) {
      LOG.debug("cannot tell this process's user: no stale control directory is removed");
      return;
    }
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(base, PREFIX + "*")) {
      for (Path d : dirs) {
        var m = OURS.matcher(d.getFileName().toString());
        if (!m.matches()
            || OWN.contains(d)
            || !Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)
            || !me.equals(Files.getAttribute(d, "unix:uid", LinkOption.NOFOLLOW_LINKS))) {
          continue;
        }
        Path lock = d.resolve(LOCK);
        boolean ended;
        if (Files.isRegularFile(lock, LinkOption.NOFOLLOW_LINKS)) {
          ended = unlocked(lock);
        } else if (Files.exists(lock, LinkOption.NOFOLLOW_LINKS)) {
          ended = false; // not ours to open
        } else {
          long pid = Long.parseLong(m.group(1));
          ended =
              ProcessHandle.of(pid).isEmpty()
                  && Files.getLastModifiedTime(d, LinkOption.NOFOLLOW_LINKS)
                      .toInstant()
                      .isBefore(Instant.now().minus(LEGACY_AGE));
        }
        if (ended) {
          LOG.info("removing {}, left by a run that ended without cleaning up", d);
          deleteTree(d);
        }
      }
    } catch (IOException | RuntimeException e) {
      LOG.debug("cannot look for stale control directories in {}: {}", base, e.toString());
    }
  }

  /** Nobody holds a lock on {@code lock}: a shared lock can be taken (read only, no links). */
  private static boolean unlocked(Path lock) {
    try (FileChannel ch =
        FileChannel.open(lock, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      FileLock l = ch.tryLock(0, Long.MAX_VALUE, true);
      if (l == null) {
        return false;
      }
      l.release();
      return true;
    } catch (IOException | RuntimeException e) { // OverlappingFileLockException among them
      return false;
    }
  }

  static void deleteTree(Path d) {
    try (Stream<Path> files = Files.walk(d)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | RuntimeException e) {
      LOG.debug("cannot remove {}: {}", d, e.toString());
    }
  }
}
