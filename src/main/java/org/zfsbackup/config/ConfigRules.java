package org.zfsbackup.config;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.config.AgentConfig.PullConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.zfs.DatasetName;

/**
 * What the types cannot say: formats (URLs, topics, host names, datasets, ranges) and rules across
 * keys (source names, overlapping targets, strip_prefix, a password without a user name). Reads
 * the CA file it names. A value that failed to bind is null here and skipped: it is reported.
 */
final class ConfigRules {
  static final List<String> LOG_LEVELS = List.of("trace", "debug", "info", "warn", "error");

  /** ssh destinations and users: no spaces, and no leading '-' that ssh would read as an option. */
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9_.:%\\[\\]][A-Za-z0-9_.:%\\[\\]-]*");

  private static final Pattern USER = Pattern.compile("[A-Za-z0-9_.][A-Za-z0-9_.-]*");

  private final Problems problems;

  private ConfigRules(Problems problems) {
    this.problems = problems;
  }

  static void check(AgentConfig config, Problems problems) {
    new ConfigRules(problems).check(config);
  }

  private void check(AgentConfig c) {
    c.mqtt().ifPresent(this::mqtt);
    if (c.commands() != null) {
      nonEmpty("commands.zfs", c.commands().zfs());
      nonEmpty("commands.ssh", c.commands().ssh());
    }
    boolean pullTargetOk = c.pull() != null && pull(c.pull());
    c.push().ifPresent(p -> push(p, pullTargetOk ? c.pull().target() : null));
    if (c.replication() != null) {
      atLeastOneSecond("replication.stall_timeout_s", c.replication().stallTimeout());
      atLeastOneSecond("replication.connect_timeout_s", c.replication().connectTimeout());
      atLeastOneSecond("replication.command_timeout_s", c.replication().commandTimeout());
    }
    if (c.logLevel() != null && !LOG_LEVELS.contains(c.logLevel())) {
      problems.add("log_level", "'" + c.logLevel() + "' is not one of " + String.join(", ", LOG_LEVELS));
    }
  }

  private void mqtt(MqttConfig m) {
    Optional.ofNullable(m.url()).flatMap(ConfigRules::urlProblem).ifPresent(p -> problems.add("mqtt.url", p));
    m.caFile().flatMap(ConfigRules::caProblem).ifPresent(p -> problems.add("mqtt.ca_file", p));
    topic("mqtt.topic", m.topic());
    if (m.homeAssistant() != null) {
      topic("mqtt.home_assistant.discovery_prefix", m.homeAssistant().discoveryPrefix());
    }
    if (m.password().isPresent() && m.username().isEmpty()) {
      problems.add(
          "mqtt.username", "missing: a password is given, and MQTT sends a password only with a user name");
    }
  }

  /** Returns whether pull.target is a valid dataset name. */
  private boolean pull(PullConfig pull) {
    boolean targetOk = dataset("pull.target", pull.target());
    List<SourceConfig> sources = pull.sources() == null ? List.of() : pull.sources();
    nonEmpty("pull.sources", pull.sources());
    Map<String, String> seen = new HashMap<>();
    for (int i = 0; i < sources.size(); i++) {
      SourceConfig s = sources.get(i);
      String at = "pull.sources[" + i + "]";
      if (s == null) {
        continue;
      }
      ssh(at + ".", s.host(), s.user(), s.port());
      boolean fromHost = s.host().isPresent() && s.host().get().equals(s.name());
      if (s.name() == null && s.host().isEmpty()) {
        problems.add(at + ".name", "missing: required when host is absent");
      } else if (s.name() != null) {
        DatasetName.componentProblem(s.name()).ifPresent(p -> problems.add(at + ".name",
            p + (fromHost ? "; the name defaults to host, set one explicitly" : "")));
        String first = seen.putIfAbsent(s.name(), at);
        if (first != null) {
          problems.add(at + ".name", "duplicate source name '" + s.name() + "' (also " + first + ")"
              + (fromHost ? "; the name defaults to host, set a distinct name" : ""));
        }
      }
      datasets(at + ".datasets", s.datasets());
      // A local source overlapping the backup root would back up its own backups, forever.
      for (int j = 0; s.host().isEmpty() && targetOk && s.datasets() != null && j < s.datasets().size(); j++) {
        String d = s.datasets().get(j);
        if (d != null && (DatasetName.isWithin(d, pull.target()) || DatasetName.isWithin(pull.target(), d))) {
          problems.add(at + ".datasets[" + j + "]", "'" + d + "' overlaps pull.target '" + pull.target()
              + "': a local source cannot contain or be inside the backup root");
        }
      }
    }
    return targetOk;
  }

  /** {@code pullTarget} is null when it is not a valid dataset name. */
  private void push(PushConfig push, String pullTarget) {
    ssh("push.", push.host(), push.user(), push.port());
    boolean targetOk = dataset("push.target", push.target());
    String prefix = dataset("push.strip_prefix", push.stripPrefix()) ? push.stripPrefix() : null;
    datasets("push.datasets", push.datasets());
    List<String> pushed = push.datasets() == null ? List.of() : push.datasets();
    boolean pullTargetOnly = pullTarget != null && pushed.equals(List.of(pullTarget));
    if (prefix != null && pullTargetOnly && !DatasetName.isWithin(pullTarget, prefix)) {
      problems.add("push.strip_prefix", "'" + prefix + "' is not equal to or above the pushed dataset '"
          + pullTarget + "' (push.datasets defaults to pull.target)");
    }
    for (int i = 0; prefix != null && !pullTargetOnly && i < pushed.size(); i++) {
      String d = pushed.get(i);
      if (d != null && !DatasetName.isWithin(d, prefix)) {
        problems.add("push.datasets[" + i + "]", "'" + d + "' is not equal to or below push.strip_prefix '"
            + prefix + "'" + (prefix.equals(pullTarget) ? " (strip_prefix defaults to pull.target)" : ""));
      }
    }
    // Receiving locally inside what is being pushed would push its own copies again, forever.
    for (String d : push.host().isEmpty() && targetOk ? pushed : List.<String>of()) {
      if (d != null && (DatasetName.isWithin(push.target(), d) || DatasetName.isWithin(d, push.target()))) {
        problems.add("push.target", "'" + push.target() + "' overlaps the pushed dataset '" + d
            + "': without push.host the push receives locally, so target must be outside what is pushed");
      }
    }
  }

  private void ssh(String at, Optional<String> host, Optional<String> user, Optional<Integer> port) {
    host.filter(h -> !HOST.matcher(h).matches()).ifPresent(h -> problems.add(at + "host",
        "'" + h + "' is not a host name (letters, digits, . _ : - and no leading -)"));
    user.filter(u -> !USER.matcher(u).matches()).ifPresent(u -> problems.add(at + "user",
        "'" + u + "' is not a user name (letters, digits, . _ - and no leading -)"));
    port.filter(p -> p < 1 || p > 65535)
        .ifPresent(p -> problems.add(at + "port", p + " is out of range 1..65535"));
  }

  /** Returns whether {@code name} is a valid dataset name; null (reported already) is not. */
  private boolean dataset(String at, String name) {
    if (name == null) {
      return false;
    }
    Optional<String> problem = DatasetName.problem(name);
    problem.ifPresent(p -> problems.add(at, p));
    return problem.isEmpty();
  }

  private void datasets(String at, List<String> names) {
    nonEmpty(at, names);
    for (int i = 0; names != null && i < names.size(); i++) {
      dataset(at + "[" + i + "]", names.get(i));
    }
  }

  private void nonEmpty(String at, List<?> list) {
    if (list != null && list.isEmpty()) {
      problems.add(at, "must not be an empty list");
    }
  }

  private void atLeastOneSecond(String at, Duration value) {
    if (value != null && value.getSeconds() < 1) {
      problems.add(at, value.getSeconds() + " is too small: must be at least 1");
    }
  }

  private void topic(String at, String topic) {
    Optional.ofNullable(topic).flatMap(ConfigRules::topicProblem).ifPresent(p -> problems.add(at, p));
  }

  /** Only {@code tcp://host[:port]} and {@code ssl://host[:port]}, which is what Paho accepts. */
  static Optional<String> urlProblem(String url) {
    URI uri;
    try {
      uri = new URI(url.trim());
    } catch (URISyntaxException e) {
      return Optional.of("not a valid URL (expected tcp://host:port or ssl://host:port)");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("tcp") && !scheme.equals("ssl")) {
      return Optional.of("only tcp:// and ssl:// URLs are accepted (e.g. tcp://localhost:1883)");
    }
    if (uri.getRawUserInfo() != null) {
      // Not echoed: it may hold a password.
      return Optional.of("credentials in the URL are not supported; use username and password_file");
    }
    if (uri.getHost() == null) {
      return Optional.of("no host in the URL (expected " + scheme + "://host:port)");
    }
    if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65535)) {
      return Optional.of("port " + uri.getPort() + " is out of range 1..65535");
    }
    String path = uri.getRawPath();
    if ((path != null && !path.isEmpty() && !path.equals("/"))
        || uri.getRawQuery() != null
        || uri.getRawFragment() != null) {
      return Optional.of("only scheme, host and port are allowed (no path or query)");
    }
    return Optional.empty();
  }

  /** A CA file must be readable and hold a certificate, or TLS fails only at connect time. */
  static Optional<String> caProblem(Path file) {
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      return Optional.of("cannot read " + file + " (missing, not a file, or not readable)");
    }
    try (InputStream in = Files.newInputStream(file)) {
      if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
        return Optional.of(file + " holds no certificate");
      }
      return Optional.empty();
    } catch (IOException | CertificateException e) {
      return Optional.of(file + " is not a PEM or DER certificate file");
    }
  }

  /** A topic we publish below: no wildcards, no empty levels at either end. */
  static Optional<String> topicProblem(String topic) {
    if (topic.contains("+") || topic.contains("#")) {
      return Optional.of("'" + topic + "' contains an MQTT wildcard (+ or #)");
    }
    if (topic.startsWith("/") || topic.endsWith("/")) {
      return Optional.of("'" + topic + "' must not start or end with '/'");
    }
    if (topic.chars().anyMatch(c -> c == 0 || Character.isWhitespace(c))) {
      return Optional.of("'" + topic + "' contains whitespace or NUL");
    }
    return Optional.empty();
  }
}
