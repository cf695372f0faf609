package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.zfsbackup.exec.ProcessResult;

/**
 * What zfs answers to the {@code hold}, {@code release} and {@code holds} calls of {@link Holds},
 * read: which snapshots of a batch failed, whether the answer says so at all, which carry a tag.
 * zfs names each snapshot it could not handle ({@code cannot hold snapshot 'pool/ds@snap': ...};
 * zfs-fuse {@code cannot release 'tag' from 'pool/ds@snap': ...}), on stderr, of which only the
 * last {@link ProcessResult#STDERR_LINES} lines are kept.
 */
final class HoldAnswers {
  private HoldAnswers() {}

  /** {@code stderr} names {@code snapshot} (quoted, as zfs names it). */
  static boolean named(String stderr, String snapshot) {
    return stderr.contains("'" + snapshot + "'");
  }

  static String datasetOf(String snapshot) {
    return snapshot.substring(0, snapshot.indexOf('@'));
  }

  static String nameOf(String snapshot) {
    return snapshot.substring(snapshot.indexOf('@') + 1);
  }

  /**
   * The snapshots of a failed {@code zfs hold} batch that are not held. zfs holds each snapshot on
   * its own and names those it could not hold; when it names none (ssh failed, the tail was cut),
   * every one of the batch is reported. One held meanwhile ({@code tag already exists}) is what we
   * wanted.
   */
  static List<String> notHeld(List<String> batch, String stderr) {
    return failed(batch, stderr, "tag already exists");
  }

  /**
   * The snapshots of a failed {@code zfs release} batch whose hold is still there: as {@link
   * #notHeld}; one without our hold ({@code no such tag on this dataset}, released meanwhile) is
   * what we wanted.
   */
  static List<String> notReleased(List<String> batch, String stderr) {
    // A snapshot destroyed meanwhile (a pruner took an unheld one) took its holds with it.
    return failed(batch, stderr, "no such tag", "dataset does not exist");
  }

  private static List<String> failed(List<String> batch, String stderr, String... harmless) {
    List<String> named = batch.stream().filter(s -> named(stderr, s)).toList();
    return (unclear(batch, stderr) ? batch : named)
        .stream()
            .filter(
                s -> Arrays.stream(harmless).noneMatch(h -> stderr.contains("'" + s + "': " + h)))
            .toList();
  }

  /**
   * zfs's answer to a failed batch does not tell which snapshots failed: it names none of them (ssh
   * failed, a timeout), or it may have lost its first lines (only the last {@link
   * ProcessResult#STDERR_LINES} are kept) and does not name every one, so an unnamed one may have
   * failed too.
   */
  static boolean unclear(List<String> batch, String stderr) {
    long named = batch.stream().filter(s -> named(stderr, s)).count();
    return named == 0
        || named < batch.size() && stderr.lines().count() >= ProcessResult.STDERR_LINES;
  }

  /**
   * zfs-fuse: {@code zfs holds} is a Python script it does not ship; it says so on stdout
   * ("internal error: /usr/lib/zfs/pyzfs.py not found", exit 255). A zfs without the subcommand at
   * all says "unrecognized command 'holds'".
   */
  static boolean noHoldsCommand(ProcessResult r) {
    String said = r.stderrTail() + "\n" + r.stdout();
    return said.contains("pyzfs.py not found") || said.contains("unrecognized command 'holds'");
  }

  /**
   * The snapshots of {@code zfs holds -H} output ({@code snapshot TAB tag TAB time} per line) that
   * carry {@code tag}.
   */
  static List<String> tagged(String holdsOutput, String tag) {
    List<String> snaps = new ArrayList<>();
    for (String line : holdsOutput.split("\n")) {
      String[] f = line.split("\t");
      if (f.length >= 2 && f[1].equals(tag) && !snaps.contains(f[0])) {
        snaps.add(f[0]);
      }
    }
    return snaps;
  }
}
