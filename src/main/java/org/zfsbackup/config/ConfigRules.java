package org.zfsbackup.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.zfs.DatasetName;

/**
 * What types cannot say: the format of one value ({@link Check} on its component, checked by {@link
 * ConfigBinder} with the value's key path), and rules across keys ({@link #check}). A value that
 * failed to bind is null in the records and skipped here: it is reported already.
 */
final class ConfigRules {
  private ConfigRules() {}

  /** The rules a key's value must follow; a rule for a single value applies to each list item. */
  @Retention(RetentionPolicy.RUNTIME)
  @interface Check {
    Rule[] value();
  }

  /** See {@link #problem}; a rule with a pattern: the whole value matches it, or "is not" what. */
  enum Rule {
    NON_EMPTY,
    DATASET,
    /** ssh destinations and users: no spaces, no leading '-' that ssh would read as an option. */
    HOST(
        "[\\w.:%\\[\\]][\\w.:%\\[\\]-]*",
        "a host name (letters, digits, . _ : - and no leading -)"),
    USER("[\\w.][\\w.-]*", "a user name (letters, digits, . _ - and no leading -)"),
    PORT,
    SECONDS,
    TOPIC,
    URL,
    CA_FILE,
    /** Matched trimmed and in lower case, as {@link AgentConfig} keeps it. */
    LOG_LEVEL("trace|debug|info|warn|error", "one of trace, debug, info, warn, error"),
    /** A retention count: a whole number, 0 or more. */
    COUNT,
    TIME_FROM("creation|name", "creation or name"),
    TIME_ZONE,
    /**
     * A {@code zfs receive} option the agent leaves to the user: not -F, -n, -d, -e (see below).
     */
    RECEIVE_OPTION,
    /**
     * A command's argv: a number in it ({@code [rtcwake, -s, 3600]}) must be quoted. It cannot be
     * taken as its text: YAML has read it already, and some otherwise ({@code 0755} as 493).
     */
    ARGV;

    private final Pattern pattern;
    private final String what;

    Rule() {
      this(null, null);
    }

    Rule(String pattern, String what) {
      this.pattern = pattern == null ? null : Pattern.compile(pattern);
      this.what = what;
    }
  }

  /** What is wrong with {@code value}, or null; a value of another type is Jackson's to report. */
  static String problem(Rule rule, JsonNode value) {
    String s = value.asText();
    if (rule == Rule.ARGV) {
      return value.isNumber()
          ? "a number (YAML read it as "
              + s
              + "), where an argument must be a string: quote it"
              + " as you wrote it"
          : null;
    }
    boolean numeric = rule == Rule.PORT || rule == Rule.SECONDS || rule == Rule.COUNT;
    if (rule != Rule.NON_EMPTY && (numeric ? !value.isIntegralNumber() : !value.isTextual())) {
      return null;
    }
    String text = rule == Rule.LOG_LEVEL ? s.trim().toLowerCase(Locale.ROOT) : s;
    if (rule.pattern != null) {
      return rule.pattern.matcher(text).matches() ? null : "'" + text + "' is not " + rule.what;
    }
    int n = value.canConvertToInt() ? value.asInt() : 0;
    return switch (rule) {
      case HOST, USER, LOG_LEVEL, TIME_FROM -> null; // by pattern, above
      case ARGV -> null; // above
      case DATASET -> DatasetName.problem(s).orElse(null);
      case PORT -> n >= 1 && n <= 65535 ? null : s + " is out of range 1..65535";
      case SECONDS ->
          n >= 1
              ? null
              : s + " is too " + (value.canConvertToInt() ? "small: must be at least 1" : "large");
      case TOPIC -> topicProblem(s);
      case URL -> urlProblem(s);
      case CA_FILE -> caProblem(Path.of(s));
      case COUNT ->
          !value.canConvertToInt() ? s + " is too large" : n < 0 ? s + " is negative" : null;
      case TIME_ZONE -> zoneProblem(s);
      case RECEIVE_OPTION -> receiveOptionProblem(s);
      case NON_EMPTY -> value.isArray() && value.isEmpty() ? "must not be an empty list" : null;
    };
  }

  /** The rules across keys, on the bound configuration. */
  static void check(AgentConfig c, Problems problems) {
    if (c.mqtt().filter(m -> m.password().isPresent() && m.username().isEmpty()).isPresent()) {
      problems.add(
          "mqtt.username",
          "missing: a password is given, and MQTT sends a password only with a user name");
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
    pvOptions(c.commands() == null ? null : c.commands().pv(), problems);
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

  private static String zoneProblem(String zone) {
    try {
      ZoneId.of(zone);
      return null;
    } catch (DateTimeException e) {
      return "'%s' is not a time zone (e.g. Europe/Berlin, UTC)".formatted(zone);
    }
  }

  /**
   * The contract's rules hold whatever the file says: a receive never destroys ({@code -F} would
   * roll the target back and destroy its newer snapshots, zfs-receive(8); the agent gives it only
   * to replace its own empty placeholder), and a dataset lands at the path the contract maps it to
   * ({@code -d} and {@code -e} would move it), and a receive receives ({@code -n} would not).
   */
  private static String receiveOptionProblem(String option) {
    if (!option.matches("-[A-Za-z]+")) {
      return null;
    } else if (option.contains("F")) {
      return "'"
          + option
          + "': -F would let a receive destroy the target's newer snapshots (the"
          + " agent adds it only to replace its own empty placeholder); remove it";
    } else if (option.contains("n")) {
      return "'"
          + option
          + "': -n receives nothing, yet every dataset would be reported sent (to see what a"
          + " cycle would do, use plan); remove it";
    } else if (option.contains("d") || option.contains("e")) {
      return "'"
          + option
          + "': -d and -e change where a dataset lands, which the agent decides"
          + " (<target>/<source>/<dataset>); remove it";
    }
    return null;
  }

  /** pv(1)'s options (1.6; and 1.8's -o, -X): letter, long name, and "=" when it takes a value. */
  private static final List<String[]> PV_OPTIONS =
      Stream.of(
              "p progress",
              "t timer",
              "e eta",
              "I fineta",
              "r rate",
              "a average-rate",
              "b bytes",
              "T buffer-percent",
              "A last-written =",
              "F format =",
              "n numeric",
              "q quiet",
              "W wait",
              "D delay-start =",
              "s size =",
              "l line-mode",
              "0 null",
              "i interval =",
              "w width =",
              "H height =",
              "N name =",
              "f force",
              "c cursor",
              "L rate-limit =",
              "B buffer-size =",
              "C no-splice",
              "E skip-errors",
              "S stop-at-size",
              "R remote =",
              "P pidfile =",
              "d watchfd =",
              "h help",
              "V version",
              "o output =",
              "X discard")
          .map(o -> o.split(" "))
          .toList();

  /**
   * The agent reads pv's byte counts ({@code -n}) from the stream it passes on: why option {@code
   * letter} breaks that, or null.
   */
  private static String pvBreaks(String letter) {
    return switch (letter) {
      case "q" -> "silences the byte counts the agent reads";
      case "t" -> "puts a time before each byte count, which the agent then cannot read";
      case "l" -> "counts lines, not the bytes the agent reads";
      case "S" -> "would cut every stream at -s's size";
      case "d", "R" -> "makes pv watch or steer another process";
      case "E" -> "would skip read errors instead of failing the stream";
      case "h", "V" -> "prints pv's help or version instead of the stream";
      case "o", "X" -> "sends the stream elsewhere than to the receive";
      default -> null;
    };
  }

  /**
   * {@code commands.pv}'s arguments read as pv reads them (getopt: short flags given together, a
   * value attached or the next argument, long names shortened or with "="): an option that breaks
   * the stream or its count, {@code --} (the agent's own flags after it would be files), and a file
   * to copy are refused. An option pv does not know is left to pv (and to check).
   */
  private static void pvOptions(List<String> pv, Problems problems) {
    for (int i = 1; pv != null && i < pv.size(); i++) {
      String arg = pv.get(i);
      String problem = null;
      boolean valueNext = false;
      if (arg == null || arg.equals("-")) { // "-": standard input, which is the stream
        continue;
      } else if (arg.equals("--")) {
        problem = "ends pv's options, so the agent's own flags after it would be read as files";
      } else if (arg.startsWith("--")) {
        String name = arg.substring(2).split("=", 2)[0];
        List<String[]> named =
            PV_OPTIONS.stream()
                .filter(o -> o[1].equals(name) || !name.isEmpty() && o[1].startsWith(name))
                .toList();
        if (named.size() == 1 || named.stream().anyMatch(o -> o[1].equals(name))) {
          String[] o =
              named.stream().filter(x -> x[1].equals(name)).findFirst().orElse(named.get(0));
          problem = pvBreaks(o[0]);
          valueNext = o.length > 2 && !arg.contains("=");
        }
      } else if (arg.startsWith("-") && arg.length() > 1) {
        for (int k = 1; k < arg.length() && problem == null; k++) {
          String letter = arg.substring(k, k + 1);
          String[] o =
              PV_OPTIONS.stream().filter(x -> x[0].equals(letter)).findFirst().orElse(null);
          problem = pvBreaks(letter);
          if (o == null || o.length > 2) { // not known, or the rest is its value
            valueNext = o != null && k == arg.length() - 1;
            break;
          }
        }
      } else {
        problem = "would be read by pv as a file to copy instead of the stream";
      }
      if (problem == null && valueNext && i == pv.size() - 1) {
        problem = "takes a value, and none follows (pv would take the agent's own -C as it)";
      }
      if (problem != null) {
        problems.add("commands.pv[" + i + "]", "'" + arg + "' " + problem + "; remove it");
      }
      i += valueNext ? 1 : 0;
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

  /** Only {@code tcp://host[:port]} and {@code ssl://host[:port]}, which is what Paho accepts. */
  static String urlProblem(String url) {
    URI uri;
    if (!url.equals(url.strip())) {
      return "has spaces around it (Paho refuses them)";
    }
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      return "not a valid URL (expected tcp://host:port or ssl://host:port)";
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    String path = uri.getRawPath();
    if (!scheme.equals("tcp") && !scheme.equals("ssl")) {
      return "only tcp:// and ssl:// URLs are accepted (e.g. tcp://localhost:1883)";
    } else if (uri.getRawUserInfo() != null) {
      // Not echoed: it may hold a password.
      return "credentials in the URL are not supported; use username and password_file";
    } else if (uri.getHost() == null) {
      return "no host in the URL (expected " + scheme + "://host:port)";
    } else if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65535)) {
      return "port " + uri.getPort() + " is out of range 1..65535";
    } else if ((path != null && !path.isEmpty())
        || uri.getRawQuery() != null
        || uri.getRawFragment() != null) {
      return "only scheme, host and port are allowed (no path, not even a trailing '/', no query)";
    }
    return null;
  }

  /** A CA file must be readable and hold a certificate, or TLS fails only at connect time. */
  static String caProblem(Path file) {
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      return "cannot read " + file + " (missing, not a file, or not readable)";
    }
    try (InputStream in = Files.newInputStream(file)) {
      boolean none = CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty();
      return none ? file + " holds no certificate" : null;
    } catch (IOException | CertificateException e) {
      return file + " is not a PEM or DER certificate file";
    }
  }

  /** A topic we publish below: no wildcards, no empty levels at either end. */
  static String topicProblem(String topic) {
    if (topic.contains("+") || topic.contains("#")) {
      return "'" + topic + "' contains an MQTT wildcard (+ or #)";
    } else if (topic.startsWith("/") || topic.endsWith("/")) {
      return "'" + topic + "' must not start or end with '/'";
    } else if (topic.chars().anyMatch(c -> c == 0 || Character.isWhitespace(c))) {
      return "'" + topic + "' contains whitespace or NUL";
    }
    return null;
  }
}
