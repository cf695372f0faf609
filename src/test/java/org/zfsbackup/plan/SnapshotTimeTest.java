package org.zfsbackup.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The name formats retention reads (catches: a format not recognised, an invalid date kept as a
 * time).
 */
class SnapshotTimeTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      delimiter = '|',
      nullValues = "undatable",
      value = {
        // sanoid
        "autosnap_2026-01-04_00:00:01_daily | 2026-01-04T00:00:01",
        "autosnap_2025-12-31_23:59:59_hourly | 2025-12-31T23:59:59",
        "autosnap_2026-03-15_12:00:00_monthly | 2026-03-15T12:00",
        // zfs-auto-snapshot
        "zfs-auto-snap_daily-2026-01-04-0000 | 2026-01-04T00:00",
        "zfs-auto-snap_frequent-2026-07-09-1345 | 2026-07-09T13:45",
        // zfs_autobackup
        "offsite1-20260104000000 | 2026-01-04T00:00",
        "bak-20261231235930 | 2026-12-31T23:59:30",
        // no timestamp: undatable
        "manual | undatable",
        "before-upgrade | undatable",
        "a | undatable",
        "2026 | undatable",
        // a timestamp that is no valid date or time: undatable
        "autosnap_2026-02-30_00:00:01_daily | undatable",
        "zfs-auto-snap_daily-2026-13-01-0000 | undatable",
        "name-20260230000000 | undatable",
        "autosnap_2026-01-04_24:00:00_daily | undatable",
        "zfs-auto-snap_hourly-2026-01-04-2360 | undatable",
        // too many or too few digits is not a zfs_autobackup timestamp
        "name-202601040000001 | undatable",
        "name-2026010400000 | undatable",
      })
  void fromName_formats(String name, String expected) {
    assertEquals(
        Optional.ofNullable(expected).map(LocalDateTime::parse), SnapshotTime.fromName(name));
  }

  @Test
  void of_name_isWallClockOfTheZone() {
    ZoneId berlin = ZoneId.of("Europe/Berlin");
    assertEquals(
        Optional.of(ZonedDateTime.of(2026, 1, 4, 0, 0, 1, 0, berlin)),
        SnapshotTime.of("autosnap_2026-01-04_00:00:01_daily", 1L, true, berlin));
  }

  @Test
  void of_creation_isEpochSecondsInTheZone() {
    ZoneId berlin = ZoneId.of("Europe/Berlin");
    // 2026-01-04T00:00:00Z is 01:00 in Berlin; the name is ignored.
    assertEquals(
        Optional.of(ZonedDateTime.of(2026, 1, 4, 1, 0, 0, 0, berlin)),
        SnapshotTime.of("autosnap_2020-01-01_00:00:00_daily", 1767484800L, false, berlin));
    assertEquals(Optional.empty(), SnapshotTime.of("x", null, false, berlin));
  }

  @Test
  void of_nameInDstGap_movesForward() {
    ZoneId berlin = ZoneId.of("Europe/Berlin");
    // 2026-03-29 02:30 never happened in Berlin (02:00 -> 03:00).
    assertEquals(
        3,
        SnapshotTime.of("autosnap_2026-03-29_02:30:00_hourly", null, true, berlin).get().getHour());
  }
}
