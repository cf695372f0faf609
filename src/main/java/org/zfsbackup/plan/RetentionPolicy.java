package org.zfsbackup.plan;

import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Which snapshots of one dataset retention keeps, and why: restic's {@code forget} policy, a pure
 * function of the dataset's snapshots.
 *
 * <p>Snapshots are taken newest first (by time, then createtxg). A snapshot is kept when it is one
 * of the {@code keep_last} newest, or the newest of one of the last {@code hourly} hours, {@code
 * daily} days, {@code weekly} ISO weeks (Monday to Sunday), {@code monthly} months or {@code
 * yearly} years <em>that have a snapshot</em>; periods are wall-clock periods of the times' zone,
 * so a day with a DST change has 23 or 25 hours and the repeated hour of autumn is one hour. When a
 * count is not used up by the time the oldest snapshot comes, that one is kept too ({@code oldest
 * daily snapshot}), as restic 0.17 does: the history reaches back as far as the policy allows.
 * Everything else is destroyed.
 *
 * <p>Whatever the policy says, these are kept: the dataset's newest snapshot (by createtxg: the one
 * the next incremental builds on), an undatable one (it counts for no period either), and those the
 * caller guards (incremental bases, holds).
 */
public final class RetentionPolicy {

  /** The counts of a policy; 0 = that rule keeps nothing. */
  public record Policy(int last, int hourly, int daily, int weekly, int monthly, int yearly) {}

  /** Why the caller wants a snapshot kept whatever the policy says. */
  public enum Guard {
    /** The newest snapshot in common with the source: the next incremental's base. */
    INCREMENTAL_BASE("incremental base"),
    /** On the backup server: the newest snapshot in common with the offsite copy. */
    PUSH_BASE("push base"),
    /** It has a hold ({@code userrefs} above 0): zfs would refuse to destroy it anyway. */
    HELD("held");

    private final String reason;

    Guard(String reason) {
      this.reason = reason;
    }

    public String reason() {
      return reason;
    }
  }

  /**
   * One snapshot of the dataset.
   *
   * @param time when it was taken, in the policy's zone; null = undatable
   * @param guards why the caller wants it kept
   */
  public record Candidate(Snapshot snapshot, ZonedDateTime time, Set<Guard> guards) {
    public Candidate {
      guards = guards.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(guards));
    }
  }

  /** What becomes of one snapshot, and why (restic's reasons, then the protections). */
  public record Decision(String name, boolean keep, List<String> reasons) {
    @Override
    public String toString() {
      return (keep ? "keep @" : "destroy @") + name + " (" + String.join(", ", reasons) + ")";
    }
  }

  static final String NEWEST = "newest snapshot";
  static final String UNDATABLE = "undatable";
  static final String NOT_KEPT = "not kept by the policy";

  private RetentionPolicy() {}

  /**
   * Decides every snapshot of one dataset.
   *
   * @return one decision per snapshot, in createtxg order
   */
  public static List<Decision> decide(Policy policy, List<Candidate> snapshots) {
    List<Candidate> byTxg = new ArrayList<>(snapshots);
    byTxg.sort(Comparator.comparingLong(c -> c.snapshot().createtxg()));
    Map<String, List<String>> reasons = new HashMap<>();
    byTxg.forEach(c -> reasons.put(c.snapshot().name(), new ArrayList<>()));

    List<Candidate> dated =
        byTxg.stream()
            .filter(c -> c.time() != null)
            .sorted(
                Comparator.comparing((Candidate c) -> c.time().toInstant())
                    .thenComparingLong(c -> c.snapshot().createtxg())
                    .reversed())
            .toList();
    for (Bucket bucket : buckets(policy)) {
      int left = bucket.count;
      Long last = null;
      for (int nr = 0; nr < dated.size() && left > 0; nr++) {
        Candidate c = dated.get(nr);
        long value = bucket.period.apply(c.time()) + (bucket.always ? nr : 0);
        boolean oldest = nr == dated.size() - 1;
        if (last == null || value != last || oldest) {
          String reason = last != null && value == last ? "oldest " + bucket.reason : bucket.reason;
          reasons.get(c.snapshot().name()).add(reason);
          last = value;
          left--;
        }
      }
    }

    List<Decision> decisions = new ArrayList<>();
    for (int i = 0; i < byTxg.size(); i++) {
      Candidate c = byTxg.get(i);
      List<String> why = reasons.get(c.snapshot().name());
      if (i == byTxg.size() - 1) {
        why.add(NEWEST);
      }
      c.guards().stream().sorted().forEach(g -> why.add(g.reason()));
      if (c.time() == null) {
        why.add(UNDATABLE);
      }
      boolean keep = !why.isEmpty();
      decisions.add(new Decision(c.snapshot().name(), keep, keep ? why : List.of(NOT_KEPT)));
    }
    return decisions;
  }

  /** The names the decisions destroy, in createtxg order. */
  public static List<String> destroyed(List<Decision> decisions) {
    return decisions.stream().filter(d -> !d.keep()).map(Decision::name).toList();
  }

  private record Bucket(
      int count, String reason, Function<ZonedDateTime, Long> period, boolean always) {}

  /** restic's buckets, in its order; {@code last} counts every snapshot as its own period. */
  private static List<Bucket> buckets(Policy p) {
    return List.of(
        new Bucket(p.last(), "last snapshot", t -> 0L, true),
        new Bucket(p.hourly(), "hourly snapshot", t -> day(t) * 100 + t.getHour(), false),
        new Bucket(p.daily(), "daily snapshot", RetentionPolicy::day, false),
        new Bucket(
            p.weekly(),
            "weekly snapshot",
            t -> t.get(IsoFields.WEEK_BASED_YEAR) * 100L + t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR),
            false),
        new Bucket(
            p.monthly(), "monthly snapshot", t -> t.getYear() * 100L + t.getMonthValue(), false),
        new Bucket(p.yearly(), "yearly snapshot", t -> (long) t.getYear(), false));
  }

  private static long day(ZonedDateTime t) {
    return t.getYear() * 10000L + t.getMonthValue() * 100 + t.getDayOfMonth();
  }
}
