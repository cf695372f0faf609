package org.zfsbackup.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.DayOfWeek;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.zfsbackup.plan.RetentionPolicy.Candidate;
import org.zfsbackup.plan.RetentionPolicy.Decision;
import org.zfsbackup.plan.RetentionPolicy.Guard;
import org.zfsbackup.plan.RetentionPolicy.Policy;

/**
 * The retention policy as a pure function. The first tests are restic's own documented examples
 * (doc/060_forget.rst), ported; then the protections, ISO weeks, time zones and DST.
 */
class RetentionPolicyTest {
  static final ZoneId UTC = ZoneOffset.UTC;
  static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");

  static Policy last(int n) {
    return new Policy(n, 0, 0, 0, 0, 0);
  }

  static Policy daily(int n) {
    return new Policy(0, 0, n, 0, 0, 0);
  }

  static Policy hourly(int n) {
    return new Policy(0, n, 0, 0, 0, 0);
  }

  /** Snapshots named by their local time ({@code 2025-04-21 11:00:00}), createtxg in list order. */
  static List<Candidate> at(ZoneId zone, String... times) {
    List<Candidate> list = new ArrayList<>();
    for (int i = 0; i < times.length; i++) {
      ZonedDateTime t = LocalDateTime.parse(times[i].replace(' ', 'T')).atZone(zone);
      list.add(new Candidate(new Snapshot(times[i], "g" + i, 10 + i), t, Set.of()));
    }
    return list;
  }

  static List<String> kept(List<Decision> decisions) {
    return decisions.stream().filter(Decision::keep).map(Decision::name).toList();
  }

  static Map<String, List<String>> reasons(List<Decision> decisions) {
    return decisions.stream().collect(Collectors.toMap(Decision::name, Decision::reasons));
  }

  /** restic: {@code forget --keep-last 1} keeps 4bba301e and removes 8c02b94b. */
  @Test
  void resticExample_keepLast1() {
    List<Decision> d =
        RetentionPolicy.decide(last(1), at(UTC, "2017-02-21 10:48:33", "2017-02-21 10:49:18"));
    assertEquals(List.of("2017-02-21 10:49:18"), kept(d));
    assertEquals(List.of("2017-02-21 10:48:33"), RetentionPolicy.destroyed(d));
    assertEquals(List.of("not kept by the policy"), d.get(0).reasons());
    assertTrue(d.get(1).reasons().contains("last snapshot"), d.toString());
  }

  /**
   * restic: backups every weekday for two weeks, a second one on Fridays, the Wednesday of the
   * second week missed. {@code --keep-daily 5} keeps one per day for the last five days that have a
   * snapshot, so it reaches back to the previous Friday's later snapshot.
   */
  @Test
  void resticExample_keepDaily5_countsOnlyDaysThatHaveASnapshot() {
    List<Candidate> snaps =
        at(
            UTC,
            "2025-04-21 11:00:00", // 60e5c031
            "2025-04-22 11:00:00", // 1dccffe9
            "2025-04-23 11:00:00", // 90a5c949
            "2025-04-24 11:00:00", // 79580708
            "2025-04-25 11:00:00", // 8a603ddf
            "2025-04-25 23:00:00", // ae33bf10
            "2025-04-28 11:00:00", // fb8b1418
            "2025-04-29 11:00:00", // 1db188b4
            "2025-05-01 11:00:00", // 7baa4f28
            "2025-05-02 11:00:00", // 05c48af3
            "2025-05-02 23:00:00"); // ad72e262
    List<Decision> d = RetentionPolicy.decide(daily(5), snaps);
    assertEquals(
        List.of(
            "2025-04-25 23:00:00",
            "2025-04-28 11:00:00",
            "2025-04-29 11:00:00",
            "2025-05-01 11:00:00",
            "2025-05-02 23:00:00"),
        kept(d));
    assertEquals(
        List.of(
            "2025-04-21 11:00:00",
            "2025-04-22 11:00:00",
            "2025-04-23 11:00:00",
            "2025-04-24 11:00:00",
            "2025-04-25 11:00:00",
            "2025-05-02 11:00:00"),
        RetentionPolicy.destroyed(d));
    kept(d).forEach(k -> assertTrue(reasons(d).get(k).contains("daily snapshot"), k));
  }

  /**
   * restic: one backup every day for 100 years; {@code --keep-daily 7 --keep-weekly 5
   * --keep-monthly 12 --keep-yearly 75} keeps the 7 newest dailies, 4 more last-days-of-the-week
   * (the dailies include one), 12 or 11 last-days-of-the-month and 75 or 74 last-days-of-the-year.
   */
  @Test
  void resticExample_hundredYearsOfDailies() {
    // Ends on a Sunday, so the 7 dailies are one whole week, as in restic's text.
    LocalDate end = LocalDate.of(2026, 6, 14);
    LocalDate start = end.minusYears(100).plusDays(1);
    List<Candidate> snaps = new ArrayList<>();
    long txg = 1;
    for (LocalDate day = start; !day.isAfter(end); day = day.plusDays(1)) {
      ZonedDateTime t = day.atTime(3, 0).atZone(UTC);
      snaps.add(new Candidate(new Snapshot(day.toString(), "g" + txg, txg++), t, Set.of()));
    }
    List<Decision> d = RetentionPolicy.decide(new Policy(0, 0, 7, 5, 12, 75), snaps);
    Map<String, List<String>> why = reasons(d);
    List<LocalDate> keptDays = kept(d).stream().map(LocalDate::parse).toList();

    List<LocalDate> dailies = with(why, "daily snapshot");
    assertEquals(7, dailies.size());
    assertEquals(end.minusDays(6), dailies.get(0));
    List<LocalDate> weeklies = with(why, "weekly snapshot");
    assertEquals(5, weeklies.size());
    // 4 last-days-of-the-week besides the dailies: Sundays.
    List<LocalDate> weeklyOnly = weeklies.stream().filter(w -> !dailies.contains(w)).toList();
    assertEquals(4, weeklyOnly.size());
    weeklyOnly.forEach(w -> assertEquals(DayOfWeek.SUNDAY, w.getDayOfWeek(), w.toString()));
    List<LocalDate> monthlies = with(why, "monthly snapshot");
    assertEquals(12, monthlies.size());
    monthlies.stream()
        .filter(m -> !m.equals(end))
        .forEach(m -> assertEquals(m.lengthOfMonth(), m.getDayOfMonth(), m.toString()));
    List<LocalDate> yearlies = with(why, "yearly snapshot");
    assertEquals(75, yearlies.size());
    yearlies.stream()
        .filter(y -> !y.equals(end))
        .forEach(y -> assertEquals(12 * 100 + 31, y.getMonthValue() * 100 + y.getDayOfMonth()));
    // Nothing else is kept, and no "oldest" rule: every count was used up.
    long union =
        java.util.stream.Stream.of(dailies, weeklies, monthlies, yearlies)
            .flatMap(List::stream)
            .distinct()
            .count();
    assertEquals(union, keptDays.size());
    assertTrue(why.values().stream().flatMap(List::stream).noneMatch(r -> r.startsWith("oldest")));
    // 7 dailies + 4 weekly Sundays + 10 month ends (June's newest is a daily, Sunday 2026-05-31
    // a weekly) + 73 year ends (2026's newest is a daily, 2025-12-31 a monthly): the overlaps of
    // restic's "12 or 11", "75 or 74".
    assertEquals(7 + 4 + 10 + 73, keptDays.size());
  }

  static List<LocalDate> with(Map<String, List<String>> why, String reason) {
    return why.entrySet().stream()
        .filter(e -> e.getValue().contains(reason))
        .map(e -> LocalDate.parse(e.getKey()))
        .sorted()
        .toList();
  }

  /** docs/configuration.md's worked example 1 (catches the docs and the code disagreeing). */
  @Test
  void docsWorkedExample1_dailyWeeklyMonthly() {
    List<Candidate> snaps = new ArrayList<>();
    long txg = 1;
    for (LocalDate day = LocalDate.of(2025, 6, 18);
        !day.isAfter(LocalDate.of(2026, 6, 17));
        day = day.plusDays(1)) {
      snaps.add(
          new Candidate(
              new Snapshot(day.toString(), "g" + txg, txg++), day.atStartOfDay(BERLIN), Set.of()));
    }
    List<Decision> d = RetentionPolicy.decide(new Policy(0, 0, 7, 4, 6, 0), snaps);
    assertEquals(
        List.of(
            "2026-01-31",
            "2026-02-28",
            "2026-03-31",
            "2026-04-30",
            "2026-05-31",
            "2026-06-07",
            "2026-06-11",
            "2026-06-12",
            "2026-06-13",
            "2026-06-14",
            "2026-06-15",
            "2026-06-16",
            "2026-06-17"),
        kept(d));
  }

  /** A count not used up keeps the oldest snapshot too (restic 0.17: "oldest daily snapshot"). */
  @Test
  void countLeft_keepsTheOldestToo() {
    List<Decision> d =
        RetentionPolicy.decide(
            daily(30),
            at(
                UTC,
                "2026-01-01 01:00:00",
                "2026-01-01 13:00:00",
                "2026-01-02 01:00:00",
                "2026-01-02 13:00:00"));
    assertEquals(
        List.of("2026-01-01 01:00:00", "2026-01-01 13:00:00", "2026-01-02 13:00:00"), kept(d));
    assertEquals(List.of("oldest daily snapshot"), d.get(0).reasons());
  }

  /** Catches a calendar (not ISO) week: Mon 2025-12-29 .. Sun 2026-01-04 is one week, 2026-W01. */
  @Test
  void weekly_isoWeeksAcrossTheNewYear() {
    List<Decision> d =
        RetentionPolicy.decide(
            new Policy(0, 0, 0, 2, 0, 0),
            at(
                UTC,
                "2025-12-27 12:00:00", // Sat, 2025-W52
                "2025-12-28 12:00:00", // Sun, 2025-W52
                "2025-12-29 12:00:00", // Mon, 2026-W01
                "2026-01-01 12:00:00", // Thu, 2026-W01
                "2026-01-04 12:00:00")); // Sun, 2026-W01
    assertEquals(List.of("2025-12-28 12:00:00", "2026-01-04 12:00:00"), kept(d));
  }

  @Test
  void monthlyAndYearly_newestOfEachPeriod() {
    List<Decision> d =
        RetentionPolicy.decide(
            new Policy(0, 0, 0, 0, 2, 1),
            at(
                UTC,
                "2025-11-30 12:00:00",
                "2025-12-15 12:00:00",
                "2025-12-31 12:00:00",
                "2026-01-10 12:00:00",
                "2026-01-20 12:00:00"));
    assertEquals(List.of("2025-12-31 12:00:00", "2026-01-20 12:00:00"), kept(d));
    assertEquals(
        List.of("monthly snapshot", "yearly snapshot", "newest snapshot"), d.get(4).reasons());
  }

  @Test
  void keepLast_andPeriods_areOred() {
    List<Decision> d =
        RetentionPolicy.decide(
            new Policy(2, 0, 1, 0, 0, 0),
            at(
                UTC,
                "2026-01-01 10:00:00",
                "2026-01-02 10:00:00",
                "2026-01-02 11:00:00",
                "2026-01-02 12:00:00"));
    assertEquals(List.of("2026-01-02 11:00:00", "2026-01-02 12:00:00"), kept(d));
    assertEquals(List.of("last snapshot", "daily snapshot", "newest snapshot"), d.get(3).reasons());
  }

  // --- protections ---

  /** The newest by createtxg is kept even when the policy (by time) would drop it. */
  @Test
  void newestByTxg_isKept_evenIfItsNameIsOld() {
    List<Candidate> snaps = new ArrayList<>(at(UTC, "2026-01-05 00:00:00", "2026-01-06 00:00:00"));
    snaps.add(
        new Candidate(
            new Snapshot("renamed-old", "gx", 99),
            ZonedDateTime.of(2020, 1, 1, 0, 0, 0, 0, UTC),
            Set.of()));
    List<Decision> d = RetentionPolicy.decide(last(1), snaps);
    assertEquals(List.of("2026-01-06 00:00:00", "renamed-old"), kept(d));
    assertEquals(List.of("newest snapshot"), reasons(d).get("renamed-old"));
  }

  @Test
  void guardedAndUndatable_areKept_andUndatableCountsForNoPeriod() {
    List<Candidate> snaps = new ArrayList<>();
    ZonedDateTime t0 = ZonedDateTime.of(2026, 1, 1, 0, 0, 0, 0, UTC);
    snaps.add(new Candidate(new Snapshot("base", "g1", 1), t0, EnumSet.of(Guard.INCREMENTAL_BASE)));
    snaps.add(
        new Candidate(new Snapshot("pushbase", "g2", 2), t0.plusDays(1), Set.of(Guard.PUSH_BASE)));
    snaps.add(new Candidate(new Snapshot("held", "g3", 3), t0.plusDays(2), Set.of(Guard.HELD)));
    snaps.add(new Candidate(new Snapshot("manual", "g4", 4), null, Set.of()));
    snaps.add(new Candidate(new Snapshot("plain", "g5", 5), t0.plusDays(3), Set.of()));
    snaps.add(new Candidate(new Snapshot("newer", "g6", 6), t0.plusDays(4), Set.of()));
    snaps.add(new Candidate(new Snapshot("newest", "g7", 7), t0.plusDays(5), Set.of()));
    List<Decision> d = RetentionPolicy.decide(last(2), snaps);
    assertEquals(List.of("base", "pushbase", "held", "manual", "newer", "newest"), kept(d));
    assertEquals(List.of("plain"), RetentionPolicy.destroyed(d));
    Map<String, List<String>> why = reasons(d);
    assertEquals(List.of("incremental base"), why.get("base"));
    assertEquals(List.of("push base"), why.get("pushbase"));
    assertEquals(List.of("held"), why.get("held"));
    assertEquals(List.of("undatable"), why.get("manual"));
    assertEquals(List.of("last snapshot"), why.get("newer"));
  }

  @Test
  void onlyUndatable_keepsEverything() {
    List<Candidate> snaps =
        List.of(
            new Candidate(new Snapshot("a", "g1", 1), null, Set.of()),
            new Candidate(new Snapshot("b", "g2", 2), null, Set.of()));
    assertEquals(List.of(), RetentionPolicy.destroyed(RetentionPolicy.decide(daily(1), snaps)));
    assertEquals(List.of(), RetentionPolicy.decide(daily(1), List.of()));
  }

  // --- time zones and DST ---

  /** The same instants fall on two days in Berlin and on one day in UTC. */
  @Test
  void daily_periodsAreDaysOfTheZone() {
    ZonedDateTime a = ZonedDateTime.of(2026, 1, 10, 22, 30, 0, 0, UTC); // 23:30 in Berlin
    ZonedDateTime b = ZonedDateTime.of(2026, 1, 10, 23, 30, 0, 0, UTC); // 00:30 on the 11th
    ZonedDateTime c = ZonedDateTime.of(2026, 1, 11, 12, 0, 0, 0, UTC);
    for (ZoneId zone : List.of(UTC, BERLIN)) {
      List<Candidate> snaps =
          List.of(
              new Candidate(new Snapshot("a", "g1", 1), a.withZoneSameInstant(zone), Set.of()),
              new Candidate(new Snapshot("b", "g2", 2), b.withZoneSameInstant(zone), Set.of()),
              new Candidate(new Snapshot("c", "g3", 3), c.withZoneSameInstant(zone), Set.of()));
      List<Decision> d = RetentionPolicy.decide(daily(2), snaps);
      // UTC: days 10 (a, b) and 11 (c) -> b and c. Berlin: days 10 (a) and 11 (b, c) -> a and c.
      assertEquals(zone == UTC ? List.of("b", "c") : List.of("a", "c"), kept(d), zone.toString());
    }
  }

  /** Autumn: 02:00-02:59 happens twice in Berlin (2026-10-25) and is one hour of the clock. */
  @Test
  void hourly_dstFallBack_repeatedHourIsOnePeriod() {
    ZonedDateTime summer = ZonedDateTime.of(2026, 10, 25, 0, 30, 0, 0, UTC); // 02:30 CEST
    ZonedDateTime winter = ZonedDateTime.of(2026, 10, 25, 1, 30, 0, 0, UTC); // 02:30 CET
    ZonedDateTime before = ZonedDateTime.of(2026, 10, 24, 23, 30, 0, 0, UTC); // 01:30 CEST
    List<Candidate> snaps =
        List.of(
            new Candidate(
                new Snapshot("before", "g0", 1), before.withZoneSameInstant(BERLIN), Set.of()),
            new Candidate(
                new Snapshot("summer", "g1", 2), summer.withZoneSameInstant(BERLIN), Set.of()),
            new Candidate(
                new Snapshot("winter", "g2", 3), winter.withZoneSameInstant(BERLIN), Set.of()));
    List<Decision> d = RetentionPolicy.decide(hourly(2), snaps);
    assertEquals(List.of("before", "winter"), kept(d));
    // In UTC the three are three hours: hourly 2 keeps the two newest.
    List<Candidate> utc =
        snaps.stream()
            .map(c -> new Candidate(c.snapshot(), c.time().withZoneSameInstant(UTC), c.guards()))
            .toList();
    assertEquals(List.of("summer", "winter"), kept(RetentionPolicy.decide(hourly(2), utc)));
  }

  /** Spring: 2026-03-29 has 23 hours in Berlin; its first and last hour are still one day. */
  @Test
  void daily_dstSpringForward_shortDayIsOneDay() {
    ZonedDateTime early = ZonedDateTime.of(2026, 3, 28, 23, 30, 0, 0, UTC); // 00:30 CET, 29th
    ZonedDateTime late = ZonedDateTime.of(2026, 3, 29, 21, 30, 0, 0, UTC); // 23:30 CEST, 29th
    ZonedDateTime next = ZonedDateTime.of(2026, 3, 29, 22, 30, 0, 0, UTC); // 00:30 CEST, 30th
    List<Candidate> snaps =
        List.of(
            new Candidate(
                new Snapshot("early", "g1", 1), early.withZoneSameInstant(BERLIN), Set.of()),
            new Candidate(
                new Snapshot("late", "g2", 2), late.withZoneSameInstant(BERLIN), Set.of()),
            new Candidate(
                new Snapshot("next", "g3", 3), next.withZoneSameInstant(BERLIN), Set.of()));
    List<Decision> d = RetentionPolicy.decide(new Policy(0, 0, 2, 0, 0, 0), snaps);
    assertEquals(List.of("late", "next"), kept(d));
  }

  /** Names read as wall-clock times: sanoid's hourlies over the autumn change, in Berlin. */
  @Test
  void names_dstFallBack() {
    List<Candidate> snaps = new ArrayList<>();
    String[] names = {
      "autosnap_2026-10-25_01:00:00_hourly",
      "autosnap_2026-10-25_02:00:00_hourly",
      "autosnap_2026-10-25_02:30:00_hourly",
      "autosnap_2026-10-25_03:00:00_hourly"
    };
    for (int i = 0; i < names.length; i++) {
      snaps.add(
          new Candidate(
              new Snapshot(names[i], "g" + i, i + 1),
              SnapshotTime.of(names[i], null, true, BERLIN).orElseThrow(),
              Set.of()));
    }
    List<Decision> d = RetentionPolicy.decide(hourly(3), snaps);
    assertEquals(List.of(names[0], names[2], names[3]), kept(d));
  }
}
