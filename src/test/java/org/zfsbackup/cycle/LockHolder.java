package org.zfsbackup.cycle;

import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Another process holding a cycle lock, as a `run` from cron would: locks, says so, waits for stdin
 * to close.
 */
public final class LockHolder {
  public static void main(String[] args) throws Exception {
    try (FileChannel ch =
        FileChannel.open(Path.of(args[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      ch.lock();
      System.out.println("locked");
      System.out.flush();
      while (System.in.read() >= 0) {
        // hold until the test closes our stdin (or dies)
      }
    }
  }
}
