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
import java.util.Locale;
import java.util.regex.Pattern;
import org.zfsbackup.zfs.DatasetName;

/**
 * What types cannot say about one value: its format ({@link Check} on its component, checked by
 * {@link ConfigBinder} with the value's key path). The rules across keys are {@link
 * CrossKeyRules}'.
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
    /** A client id or user name: what Paho can send ({@link #unsendable}). */
    MQTT_TEXT,
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
      case MQTT_TEXT -> mqttTextProblem(s);
      case URL -> urlProblem(s);
      case CA_FILE -> caProblem(Path.of(s));
      case COUNT ->
          !value.canConvertToInt() ? s + " is too large" : n < 0 ? s + " is negative" : null;
      case TIME_ZONE -> zoneProblem(s);
      case RECEIVE_OPTION -> receiveOptionProblem(s);
      case NON_EMPTY -> value.isArray() && value.isEmpty() ? "must not be an empty list" : null;
    };
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

  /**
   * A topic we publish below: no wildcards, no empty levels at either end, none of the broker's own
   * (Mosquitto 2.0 drops what a client publishes to a topic that starts with {@code $SYS} or {@code
   * $share}, as a string, so {@code $SYSTEM/x} too, or is below {@code $CONTROL/}; {@code $share/}
   * and {@code $queue/} name shared subscriptions), and only what Paho can send.
   */
  static String topicProblem(String topic) {
    if (topic.contains("+") || topic.contains("#")) {
      return "'" + topic + "' contains an MQTT wildcard (+ or #)";
    } else if (topic.startsWith("/") || topic.endsWith("/")) {
      return "'" + topic + "' must not start or end with '/'";
    } else if (topic.chars().anyMatch(c -> c == 0 || Character.isWhitespace(c))) {
      return "'" + topic + "' contains whitespace or NUL";
    } else if (topic.matches("\\$(SYS|share).*|\\$(CONTROL|queue)(/.*)?")) {
      return "'"
          + topic
          + "' is the broker's: Mosquitto drops what clients publish to topics that start with"
          + " $SYS or $share, or below $CONTROL, and brokers read $share/ and $queue/ as shared"
          + " subscriptions";
    }
    return mqttTextProblem(topic);
  }

  private static String mqttTextProblem(String text) {
    int at = unsendable(text);
    return at < 0
        ? null
        : ("has a character MQTT (Paho) cannot send, U+%04X at position %d (a control character,"
                + " one from U+FDD0 up, or one beyond U+FFFF such as an emoji)")
            .formatted(text.codePointAt(at), text.codePointCount(0, at) + 1);
  }

  /**
   * The index of the first UTF-16 unit Paho 1.2.5 refuses to send ({@code
   * MqttWireMessage.validateUTF8String}, which throws at every connect, quoting the unit), or -1: a
   * control character, any surrogate, and any other character from U+FDD0 up. Paho means the
   * non-characters but tests {@code c >= 0xFDD0}, so a byte-order mark, the fullwidth forms and
   * U+FFFD are refused; and its test of a surrogate pair is inverted (its issue #818), so every
   * character beyond U+FFFF (an emoji) is refused too. Mosquitto takes them all.
   */
  static int unsendable(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isISOControl(c) || Character.isSurrogate(c) || c >= 0xfdd0) {
        return i;
      }
    }
    return -1;
  }
}
