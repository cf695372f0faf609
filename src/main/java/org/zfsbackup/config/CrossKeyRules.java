package org.zfsbackup.config;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.zfs.DatasetName;

/**
 * The rules across keys, on the bound configuration (a value's own format is {@link ConfigRules}').
 * A value that failed to bind is null in the records and skipped here: it is reported already.
 */
final class CrossKeyRules {
  private CrossKeyRules() {}

  /** The rules across keys, on the bound configuration. */
  static void check(AgentConfig c, Problems problems) {
    if (c.mqtt().filter(m -> m.password().isPresent() && m.username().isEmpty()).isPresent()) {
      problems.add(
          "mqtt.username",
          "missing: a password is given, and MQTT sends a password only with a user name");
    }
    if (c.mqtt()
        .filter(m -> m.caFile().isPresent() && m.url() != null && m.url().matches("(?i)tcp:.*"))
        .isPresent()) {
      problems.add(
          "mqtt.ca_file",
          "is used only with an ssl:// url, and mqtt.url is tcp://: the connection, and the"
              + " password, would not be encrypted. Use ssl://host:8883, or drop ca_file");
    }
    String pullTarget = c.pull() == null ? null : valid(c.pull().target());
    String localPush = // a push without host receives on this machine
        c.push().filter(p -> p.host().isEmpty()).map(p -> valid(p.target())).orElse(null);
    List<SourceConfig> sources =
        c.pull() == null || c.pull().sources() == null ? List.of() : c.pull().sources();
    Map<String, String> seen = new HashMap<>();
    // source-name:dataset, as runs name it, to the source (index) that configures it first
    Map<String, Integer> entries = new HashMap<>();
    for (int i = 0; i < sources.size(); i++) {
      SourceConfig s = sources.get(i);
      String at = "pull.sources[" + i + "]";
      if (s != null && s.name() == null && s.host().isEmpty()) {
        problems.add(at + ".name", "missing: required when host is absent");
      }
      if (s == null || s.name() == null) {
        continue;
      }
      String hint =
          s.host().equals(Optional.of(s.name())) ? "; the name defaults to host, set %s" : "";
      DatasetName.componentProblem(s.name())
          .ifPresent(p -> problems.add(at + ".name", p + hint.formatted("one explicitly")));
      String first = seen.putIfAbsent(s.name(), at);
      if (first != null) {
        String message = "duplicate source name '%s' (also %s)".formatted(s.name(), first);
        problems.add(at + ".name", message + hint.formatted("a distinct name"));
      }
      // Two names with ':' can read the same (a:p with x/t, a with p:x/t): a run's datasets could
      // not tell them apart. (Twice in one source is one dataset; a name twice is reported above.)
      List<String> datasets = s.datasets() == null ? List.of() : s.datasets();
      for (int j = 0; j < datasets.size(); j++) {
        Integer other =
            datasets.get(j) == null
                ? null
                : entries.putIfAbsent(s.name() + ":" + datasets.get(j), i);
        if (other != null && other != i && !s.name().equals(sources.get(other).name())) {
          problems.add(
              at + ".datasets[" + j + "]",
              ("'%s:%s' also names a dataset of pull.sources[%d] ('%s'): a run's datasets could"
                      + " not tell them apart; give one of the sources a name without ':'")
                  .formatted(s.name(), datasets.get(j), other, sources.get(other).name()));
        }
      }
      // A local source overlapping the backups (or a local push's copies) would copy them, forever.
      List<String> local = s.host().isPresent() || s.datasets() == null ? List.of() : s.datasets();
      for (int j = 0; j < local.size(); j++) {
        for (String[] root :
            new String[][] {{"pull.target", pullTarget}, {"push.target", localPush}}) {
          if (overlap(local.get(j), root[1])) {
            problems.add(
                at + ".datasets[" + j + "]",
                "'%s' overlaps %s '%s': a local source cannot contain or be inside %s"
                    .formatted(
                        local.get(j),
                        root[0],
                        root[1],
                        root[0].equals("push.target")
                            ? "what a push without host receives"
                            : "the backup root"));
          }
        }
      }
    }
    PvOptions.check(c.commands() == null ? null : c.commands().pv(), problems);
    c.push().ifPresent(p -> push(p, pullTarget, problems));
    c.retention().ifPresent(r -> keepsSomething("retention.backup", r.backup(), problems));
    c.retention().ifPresent(r -> keepsSomething("retention.offsite", r.offsite(), problems));
    if (c.push().isEmpty() && c.retention().flatMap(r -> r.offsite()).isPresent()) {
      problems.add("retention.offsite", "given without a push section: there is no offsite tier");
    }
  }

  /** Like restic, a policy that keeps nothing is refused rather than read as "destroy all". */
  private static void keepsSomething(
      String key, Optional<AgentConfig.KeepPolicy> policy, Problems problems) {
    if (policy
        .filter(
            p ->
                Stream.of(p.keepLast(), p.hourly(), p.daily(), p.weekly(), p.monthly(), p.yearly())
                    .allMatch(n -> n != null && n == 0))
        .isPresent()) {
      problems.add(
          key,
          "every count is 0, which would keep nothing; give at least one count,"
              + " or remove the section to keep everything");
    }
  }

  /** {@code pullTarget} is null unless it is a valid dataset name. */
  private static void push(PushConfig push, String pullTarget, Problems problems) {
    String prefix = valid(push.stripPrefix());
    List<String> pushed = push.datasets() == null ? List.of() : push.datasets();
    boolean pullTargetOnly = pullTarget != null && pushed.equals(List.of(pullTarget));
    if (prefix != null && pullTargetOnly && !DatasetName.isWithin(pullTarget, prefix)) {
      problems.add(
          "push.strip_prefix",
          ("'%s' is not equal to or above the pushed dataset '%s'"
                  + " (push.datasets defaults to pull.target)")
              .formatted(prefix, pullTarget));
    }
    for (int i = 0; prefix != null && !pullTargetOnly && i < pushed.size(); i++) {
      if (pushed.get(i) != null && !DatasetName.isWithin(pushed.get(i), prefix)) {
        String hint = prefix.equals(pullTarget) ? " (strip_prefix defaults to pull.target)" : "";
        problems.add(
            "push.datasets[" + i + "]",
            "'%s' is not equal to or below push.strip_prefix '%s'%s"
                .formatted(pushed.get(i), prefix, hint));
      }
    }
    // Receiving locally inside what is being pushed would push its own copies again, forever.
    String target = push.host().isEmpty() ? valid(push.target()) : null;
    for (String d : target == null ? List.<String>of() : pushed) {
      if (overlap(d, target)) {
        problems.add(
            "push.target",
            ("'%s' overlaps the pushed dataset '%s': without push.host the"
                    + " push receives locally, so target must be outside what is pushed")
                .formatted(target, d));
      }
    }
  }

  private static String valid(String dataset) {
    return dataset != null && DatasetName.problem(dataset).isEmpty() ? dataset : null;
  }

  private static boolean overlap(String a, String b) {
    return a != null && b != null && DatasetName.overlap(a, b);
  }
}
