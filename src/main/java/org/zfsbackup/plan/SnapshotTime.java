package org.zfsbackup.plan;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * When a snapshot was taken, as retention sees it: its {@code creation} property, or the timestamp
 * in its name. Names are read in the formats of the common snapshot tools, each a wall-clock time
 * of the configured zone (which is what these tools write by default):
 *
 * <ul>
 *   <li>sanoid: {@code autosnap_2026-01-04_00:00:01_daily}
 *   <li>zfs-auto-snapshot: {@code zfs-auto-snap_daily-2026-01-04-0000}
 *   <li>zfs_autobackup: {@code offsite1-20260104000000}
 * </ul>
 *
 * A name without such a timestamp, or with one that is no valid date or time ({@code 2026-02-30},
 * {@code 25:00}), is undatable: empty, and retention never destroys it. Pure.
 */
public final class SnapshotTime {
  /** Tried in this order; the first that matches decides, valid date or not. */
  private static final List<Pattern> FORMATS =
      List.of(
          // sanoid: 2026-01-04_00:00:01
          Pattern.compile(
              "(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})_([0-9]{2}):([0-9]{2}):([0-9]{2})(?![0-9])"),
          // zfs-auto-snapshot: 2026-01-04-0000
          Pattern.compile(
              "(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})-([0-9]{2})([0-9]{2})(?![0-9])"),
          // zfs_autobackup: 20260104000000
          Pattern.compile(
              "(?<![0-9])([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})(?![0-9])"));

  private SnapshotTime() {}

  /** The wall-clock time in {@code name}; empty when it has none or an invalid one. */
  public static Optional<LocalDateTime> fromName(String name) {
    for (Pattern format : FORMATS) {
      Matcher m = format.matcher(name);
      if (m.find()) {
        try {
          return Optional.of(
              LocalDateTime.of(
                  num(m, 1),
                  num(m, 2),
                  num(m, 3),
                  num(m, 4),
                  num(m, 5),
                  m.groupCount() >= 6 ? num(m, 6) : 0));
        } catch (DateTimeException e) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }

  /**
   * The time retention uses, in {@code zone}: from the name (a wall-clock time there; in a DST gap
   * it moves forward, in an overlap it is the earlier of the two), or from {@code creation} (epoch
   * seconds; null when unknown). Empty = undatable.
   */
  public static Optional<ZonedDateTime> of(
      String name, Long creation, boolean fromName, ZoneId zone) {
    if (fromName) {
      return fromName(name).map(t -> t.atZone(zone));
    }
    return Optional.ofNullable(creation).map(s -> Instant.ofEpochSecond(s).atZone(zone));
  }

  private static int num(Matcher m, int group) {
    return Integer.parseInt(m.group(group));
  }
}
