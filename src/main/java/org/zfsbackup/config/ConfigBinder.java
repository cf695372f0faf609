package org.zfsbackup.config;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.zfsbackup.config.AgentConfig.CommandsConfig;
import org.zfsbackup.config.AgentConfig.HomeAssistantConfig;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.config.AgentConfig.PowerConfig;
import org.zfsbackup.config.AgentConfig.PullConfig;
import org.zfsbackup.config.AgentConfig.PushConfig;
import org.zfsbackup.config.AgentConfig.ReplicationConfig;
import org.zfsbackup.config.AgentConfig.Secret;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.zfs.DatasetName;

/**
 * The schema: which keys exist, their types, defaults and rules, and how they become
 * {@link AgentConfig} records. Pure apart from reading the password and CA files it names. Every
 * problem is collected; the result is only used when there were none.
 */
final class ConfigBinder {
  static final String DEFAULT_TOPIC = "servers/host-backups";
  static final String DEFAULT_DISCOVERY_PREFIX = "homeassistant";
  static final List<String> DEFAULT_ZFS = List.of("zfs");
  static final List<String> DEFAULT_SSH = List.of("ssh", "-o", "BatchMode=yes");
  static final List<String> DEFAULT_PV = List.of("pv");
  static final List<String> DEFAULT_RECEIVE_OPTIONS = List.of("-u");
  static final List<String> DEFAULT_POWER = List.of("systemctl", "poweroff");
  static final Path DEFAULT_STATE_FILE = Path.of("/var/lib/zfs-backup-agent/state.json");
  static final String DEFAULT_LOG_LEVEL = "info";
  static final List<String> LOG_LEVELS = List.of("trace", "debug", "info", "warn", "error");
  static final int DEFAULT_STALL_TIMEOUT_S = 600;
  static final int DEFAULT_CONNECT_TIMEOUT_S = 15;
  static final int DEFAULT_COMMAND_TIMEOUT_S = 120;

  /** ssh destinations and users: no spaces, and never a leading '-' that ssh would read as an option. */
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9_.:%\\[\\]][A-Za-z0-9_.:%\\[\\]-]*");
  private static final Pattern USER = Pattern.compile("[A-Za-z0-9_.][A-Za-z0-9_.-]*");

  private final Problems problems;
  private final Map<String, String> env;
  private final Supplier<String> hostname;

  ConfigBinder(Problems problems, Map<String, String> env, Supplier<String> hostname) {
    this.problems = problems;
    this.env = env;
    this.hostname = hostname;
  }

  /** The typed config, or null when a problem was found (see {@link Problems}). */
  AgentConfig bind(JsonObject json) {
    Section root =
        Section.root(json, problems, "mqtt", "commands", "pull", "push", "power", "replication", "state_file", "log_level");
    Optional<MqttConfig> mqtt =
        root.section("mqtt", "url", "client_id", "username", "password_file", "ca_file", "topic", "home_assistant")
            .map(this::mqtt);
    CommandsConfig commands = commands(root.sectionOrEmpty("commands", "zfs", "ssh", "pv"));
    Optional<PullConfig> pull = root.requiredSection("pull", "target", "receive_options", "sources").map(this::pull);
    Optional<PushConfig> push =
        root.section("push", "host", "user", "port", "target", "strip_prefix", "raw", "receive_options", "datasets")
            .map(s -> push(s, pull.map(PullConfig::target).orElse(null)));
    Section powerSection = root.sectionOrEmpty("power", "command");
    PowerConfig power = new PowerConfig(powerSection.strings("command", true).orElse(DEFAULT_POWER));
    ReplicationConfig replication =
        replication(root.sectionOrEmpty("replication", "holds", "stall_timeout_s", "connect_timeout_s", "command_timeout_s"));
    Path stateFile = root.string("state_file").map(Path::of).orElse(DEFAULT_STATE_FILE);
    String logLevel = logLevel(root);

    if (!problems.isEmpty() || pull.isEmpty()) {
      return null;
    }
    return new AgentConfig(mqtt, commands, pull.get(), push, power, replication, stateFile, logLevel);
  }

  private MqttConfig mqtt(Section s) {
    Optional<String> url = s.requiredString("url");
    url.flatMap(ConfigBinder::urlProblem).ifPresent(p -> s.problem("url", p));
    String clientId = s.string("client_id").orElseGet(() -> "zfs-backup-agent-" + hostname.get());
    Optional<String> username = s.string("username");
    Optional<Path> caFile = s.string("ca_file").map(Path::of);
    caFile.flatMap(ConfigBinder::caProblem).ifPresent(p -> s.problem("ca_file", p));
    String topic = s.string("topic").orElse(DEFAULT_TOPIC);
    topicProblem(topic).ifPresent(p -> s.problem("topic", p));

    Section ha = s.sectionOrEmpty("home_assistant", "enabled", "discovery_prefix");
    boolean haEnabled = ha.bool("enabled").orElse(true);
    String prefix = ha.string("discovery_prefix").orElse(DEFAULT_DISCOVERY_PREFIX);
    topicProblem(prefix).ifPresent(p -> ha.problem("discovery_prefix", p));

    Optional<Secret> password = password(s);
    if (password.isPresent() && username.isEmpty() && !s.present("username")) {
      s.problem("username", "missing: a password is given, and MQTT sends a password only with a user name");
    }
    return new MqttConfig(
        url.orElse(""), clientId, username, password, caFile, topic, new HomeAssistantConfig(haEnabled, prefix));
  }

  /** The environment variable wins over the file; neither value ever reaches a message. */
  private Optional<Secret> password(Section s) {
    String fromEnv = env.get(Overrides.PASSWORD_ENV);
    if (fromEnv != null && !fromEnv.isEmpty()) {
      return Optional.of(new Secret(fromEnv));
    }
    Optional<String> file = s.string("password_file");
    if (file.isEmpty()) {
      return Optional.empty();
    }
    Path path = Path.of(file.get());
    if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
      s.problem("password_file", "cannot read " + path + " (missing, not a file, or not readable)");
      return Optional.empty();
    }
    try {
      String value = Files.readString(path, StandardCharsets.UTF_8);
      int end = value.length();
      while (end > 0 && (value.charAt(end - 1) == '\n' || value.charAt(end - 1) == '\r')) {
        end--;
      }
      if (end == 0) {
        s.problem("password_file", path + " is empty");
        return Optional.empty();
      }
      return Optional.of(new Secret(value.substring(0, end)));
    } catch (IOException | RuntimeException e) {
      // The exception type only: a decoding error's message could quote the content.
      s.problem("password_file", "cannot read " + path + " (" + e.getClass().getSimpleName() + ")");
      return Optional.empty();
    }
  }

  private CommandsConfig commands(Section s) {
    return new CommandsConfig(
        s.strings("zfs", false).orElse(DEFAULT_ZFS),
        s.strings("ssh", false).orElse(DEFAULT_SSH),
        s.strings("pv", true).orElse(DEFAULT_PV));
  }

  private PullConfig pull(Section s) {
    Optional<String> target = dataset(s, "target", true);
    List<String> receiveOptions = s.strings("receive_options", true).orElse(DEFAULT_RECEIVE_OPTIONS);
    List<SourceConfig> sources = new ArrayList<>();
    if (!s.present("sources")) {
      s.problem("sources", "missing (required)");
    }
    Optional<List<Section>> items = s.sections("sources", "name", "host", "user", "port", "datasets");
    if (items.isPresent() && items.get().isEmpty()) {
      s.problem("sources", "must not be an empty list");
    }
    Map<String, String> seen = new HashMap<>();
    for (Section item : items.orElse(List.of())) {
      SourceConfig source = source(item, target.orElse(null));
      if (source == null) {
        continue;
      }
      String first = seen.putIfAbsent(source.name(), item.path());
      if (first != null) {
        item.problem("name", "duplicate source name '" + source.name() + "' (also " + first + ")"
            + (item.present("name") ? "" : "; the name defaults to host, set a distinct name"));
      }
      sources.add(source);
    }
    return new PullConfig(target.orElse(""), receiveOptions, List.copyOf(sources));
  }

  private SourceConfig source(Section s, String pullTarget) {
    Optional<String> host = s.string("host");
    host.filter(h -> !HOST.matcher(h).matches())
        .ifPresent(h -> s.problem("host", "'" + h + "' is not a host name (letters, digits, . _ : - and no leading -)"));
    Optional<String> user = user(s);
    Optional<Integer> port = s.integer("port", 1, 65535);
    Optional<String> name = s.string("name");
    if (name.isEmpty() && !s.present("name") && host.isEmpty() && !s.present("host")) {
      s.problem("name", "missing: required when host is absent");
    }
    Optional<String> effective = name.or(() -> s.present("name") ? Optional.empty() : host);
    effective.flatMap(DatasetName::componentProblem).ifPresent(p ->
        s.problem("name", p + (s.present("name") ? "" : "; the name defaults to host, set one explicitly")));
    if (!s.present("datasets")) {
      s.problem("datasets", "missing (required)");
    }
    Optional<List<String>> datasets = datasets(s, "datasets");
    // A local source overlapping the backup root would back up its own backups, forever.
    if (s.present("datasets") && !s.present("host") && pullTarget != null) {
      List<String> list = datasets.orElse(List.of());
      for (int i = 0; i < list.size(); i++) {
        String d = list.get(i);
        if (DatasetName.isWithin(d, pullTarget) || DatasetName.isWithin(pullTarget, d)) {
          s.problem("datasets[" + i + "]",
              "'" + d + "' overlaps pull.target '" + pullTarget + "': a local source cannot contain or be inside the backup root");
        }
      }
    }
    if (effective.isEmpty() || datasets.isEmpty() || effective.flatMap(DatasetName::componentProblem).isPresent()) {
      return null;
    }
    return new SourceConfig(effective.get(), host, user, port, datasets.get());
  }

  private PushConfig push(Section s, String pullTarget) {
    Optional<String> host = s.string("host");
    host.filter(h -> !HOST.matcher(h).matches())
        .ifPresent(h -> s.problem("host", "'" + h + "' is not a host name (letters, digits, . _ : - and no leading -)"));
    Optional<String> user = user(s);
    Optional<Integer> port = s.integer("port", 1, 65535);
    Optional<String> target = dataset(s, "target", true);
    boolean prefixGiven = s.present("strip_prefix");
    Optional<String> stripPrefix = prefixGiven ? dataset(s, "strip_prefix", false) : Optional.ofNullable(pullTarget);
    boolean raw = s.bool("raw").orElse(true);
    List<String> receiveOptions = s.strings("receive_options", true).orElse(DEFAULT_RECEIVE_OPTIONS);
    List<String> datasets;
    if (s.present("datasets")) {
      datasets = datasets(s, "datasets").orElse(List.of());
    } else {
      datasets = pullTarget == null ? List.of() : List.of(pullTarget);
    }
    if (stripPrefix.isPresent() && s.present("datasets")) {
      for (int i = 0; i < datasets.size(); i++) {
        if (!DatasetName.isWithin(datasets.get(i), stripPrefix.get())) {
          s.problem("datasets[" + i + "]", "'" + datasets.get(i) + "' is not equal to or below push.strip_prefix '"
              + stripPrefix.get() + "'" + (prefixGiven ? "" : " (strip_prefix defaults to pull.target)"));
        }
      }
    } else if (stripPrefix.isPresent() && pullTarget != null && !DatasetName.isWithin(pullTarget, stripPrefix.get())) {
      s.problem("strip_prefix", "'" + stripPrefix.get() + "' is not equal to or above the pushed dataset '"
          + pullTarget + "' (push.datasets defaults to pull.target)");
    }
    // Receiving locally inside what is being pushed would push its own copies again, forever.
    if (!s.present("host") && target.isPresent()) {
      for (String d : datasets) {
        if (DatasetName.isWithin(target.get(), d) || DatasetName.isWithin(d, target.get())) {
          s.problem("target", "'" + target.get() + "' overlaps the pushed dataset '" + d
              + "': without push.host the push receives locally, so target must be outside what is pushed");
          break;
        }
      }
    }
    return new PushConfig(
        host, user, port, target.orElse(""), stripPrefix.orElse(""), raw, receiveOptions, datasets);
  }

  private ReplicationConfig replication(Section s) {
    return new ReplicationConfig(
        s.bool("holds").orElse(true),
        Duration.ofSeconds(s.integer("stall_timeout_s", 1, Integer.MAX_VALUE).orElse(DEFAULT_STALL_TIMEOUT_S)),
        Duration.ofSeconds(s.integer("connect_timeout_s", 1, Integer.MAX_VALUE).orElse(DEFAULT_CONNECT_TIMEOUT_S)),
        Duration.ofSeconds(s.integer("command_timeout_s", 1, Integer.MAX_VALUE).orElse(DEFAULT_COMMAND_TIMEOUT_S)));
  }

  private static String logLevel(Section root) {
    Optional<String> level = root.string("log_level").map(l -> l.trim().toLowerCase(Locale.ROOT));
    if (level.isPresent() && !LOG_LEVELS.contains(level.get())) {
      root.problem("log_level", "'" + level.get() + "' is not one of " + String.join(", ", LOG_LEVELS));
      return DEFAULT_LOG_LEVEL;
    }
    return level.orElse(DEFAULT_LOG_LEVEL);
  }

  private static Optional<String> user(Section s) {
    Optional<String> user = s.string("user");
    user.filter(u -> !USER.matcher(u).matches())
        .ifPresent(u -> s.problem("user", "'" + u + "' is not a user name (letters, digits, . _ - and no leading -)"));
    return user;
  }

  private static Optional<String> dataset(Section s, String key, boolean required) {
    Optional<String> name = required ? s.requiredString(key) : s.string(key);
    if (name.isPresent()) {
      Optional<String> problem = DatasetName.problem(name.get());
      if (problem.isPresent()) {
        s.problem(key, problem.get());
        return Optional.empty();
      }
    }
    return name;
  }

  /** A non-empty list of valid dataset names. */
  private static Optional<List<String>> datasets(Section s, String key) {
    Optional<List<String>> names = s.strings(key, false);
    if (names.isEmpty()) {
      return names;
    }
    boolean ok = true;
    for (int i = 0; i < names.get().size(); i++) {
      Optional<String> problem = DatasetName.problem(names.get().get(i));
      if (problem.isPresent()) {
        s.problem(key + "[" + i + "]", problem.get());
        ok = false;
      }
    }
    return ok ? names : Optional.empty();
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
    String rawPath = uri.getRawPath();
    if ((rawPath != null && !rawPath.isEmpty() && !rawPath.equals("/")) || uri.getRawQuery() != null || uri.getRawFragment() != null) {
      return Optional.of("only scheme, host and port are allowed (no path or query)");
    }
    return Optional.empty();
  }

  /** A CA file must be readable and hold at least one certificate, or TLS fails only at connect time. */
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
