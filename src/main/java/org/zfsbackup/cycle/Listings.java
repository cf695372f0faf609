package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.zfs.ZfsListing;

/**
 * Reading what a listing says: which roots are simply missing, and which it left out in silence.
 */
final class Listings {
  private static final Pattern MISSING =
      Pattern.compile("cannot open '([^']+)': dataset does not exist");

  private Listings() {}

  /**
   * The roots a listing that ran left out without saying they do not exist: real zfs names each
   * root or says so, a {@code commands.zfs} wrapper might drop one (every dataset below it would
   * then vanish from the cycle, or be planned as new on a target).
   */
  static List<String> leftOutInSilence(List<String> roots, ZfsListing listing, ProcessResult r) {
    List<String> missing = missingRoots(r);
    return roots.stream().filter(x -> !listing.contains(x) && !missing.contains(x)).toList();
  }

  /** The roots that zfs said do not exist. */
  static List<String> missingRoots(ProcessResult r) {
    List<String> missing = new ArrayList<>();
    Matcher m = MISSING.matcher(r.stderrTail());
    while (m.find()) {
      missing.add(m.group(1));
    }
    return missing;
  }

  /**
   * True when the listing failed only because some of {@code roots} do not exist (the rest is
   * listed).
   */
  static boolean onlyMissing(ProcessResult r, List<String> roots) {
    if (r.startFailed() || r.timedOut() || r.exitCode() != 1) {
      return false;
    }
    List<String> missing = missingRoots(r);
    if (missing.isEmpty() || !roots.containsAll(missing)) {
      return false;
    }
    return r.stderrTail().lines().allMatch(l -> l.isBlank() || MISSING.matcher(l).find());
  }
}
