package org.zfsbackup.command;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.zfsbackup.command.ParseResult.Accepted;
import org.zfsbackup.command.ParseResult.Reason;
import org.zfsbackup.command.ParseResult.Rejection;

/**
 * Turns a payload received on {@code T} into an {@link AgentCommand} or a {@link Rejection}. Pure:
 * the time and the configured datasets are inputs, nothing is read from the environment.
 *
 * <p>Accepted forms (see {@code docs/mqtt.md}):
 *
 * <ul>
 *   <li>Plain text, trimmed, case-insensitive: {@code run}, {@code suspend}, {@code cancel}, {@code
 *       status}. {@code mosquitto_pub -t T -m suspend} keeps working.
 *   <li>One JSON object (the payload starts with <code>{</code> after trimming). Fields: {@code
 *       command} (required, case-insensitive), {@code ttl_s} and {@code issued_at} (any command);
 *       {@code run_id}, {@code then} (only {@code "suspend"}), {@code dry_run}, {@code datasets}
 *       (run only); {@code force} (suspend and cancel). A JSON {@code null} is the same as leaving
 *       the field out.
 * </ul>
 *
 * <p>Choices where the contract is silent, each on purpose:
 *
 * <ul>
 *   <li>Unknown fields are rejected, not ignored: a typo such as {@code "dry-run": true} must not
 *       start a real backup, and {@code "force"} on a {@code run} is a mistake worth reporting.
 *   <li>{@code datasets} entries must equal a configured {@code source-name:dataset} exactly. A
 *       child of a configured dataset is <em>not</em> accepted (the message names the configured
 *       parent): the engine expands each configured dataset to its children, and a request names
 *       whole configured trees, never parts of them. An empty list is rejected (ambiguous).
 *   <li>{@code ttl_s} needs {@code issued_at}; {@code issued_at} alone is only checked for format.
 *       A command is stale when {@code issued_at + ttl_s < now}. A malformed {@code issued_at} is
 *       rejected, never treated as fresh.
 *   <li>{@code run_id} is at most 128 characters without control characters (it goes into logs).
 * </ul>
 */
public final class CommandParser {

  /** Larger payloads are rejected before they are decoded. */
  public static final int MAX_PAYLOAD_BYTES = 64 * 1024;

  static final int MAX_RUN_ID_LENGTH = 128;
  static final long MAX_TTL_SECONDS = 10L * 366 * 24 * 3600;

  private static final Set<String> COMMON_FIELDS = Set.of("command", "ttl_s", "issued_at");
  private static final Map<String, Set<String>> FIELDS =
      Map.of(
          "run", Set.of("run_id", "then", "dry_run", "datasets"),
          "suspend", Set.of("force"),
          "cancel", Set.of("force"),
          "status", Set.of());

  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .build();

  private final Set<String> configuredDatasets;

  /**
   * @param configuredDatasets every configured {@code source-name:dataset}, e.g. {@code
   *     host-storage:tank/data}
   */
  public CommandParser(Set<String> configuredDatasets) {
    this.configuredDatasets = Set.copyOf(configuredDatasets);
  }

  /**
   * @param payload the message body as received
   * @param retained the MQTT retained flag of the delivered message
   * @param now the current time, for {@code issued_at}/{@code ttl_s}
   */
  public ParseResult parse(byte[] payload, boolean retained, Instant now) {
    if (retained) {
      return reject(
          Reason.RETAINED,
          "retained message on the command topic ignored: commands must be live (publish without -r,"
              + " and clear the retained one with an empty retained message)");
    }
    if (payload.length > MAX_PAYLOAD_BYTES) {
      return reject(
          Reason.TOO_LARGE,
          "payload of " + payload.length + " bytes is over the limit of " + MAX_PAYLOAD_BYTES);
    }
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(payload))
              .toString();
    } catch (CharacterCodingException e) {
      return reject(Reason.INVALID_UTF8, "payload is not valid UTF-8");
    }
    String trimmed = text.strip();
    if (trimmed.startsWith("{")) {
      return parseJson(trimmed, now);
    }
    return plain(trimmed).<ParseResult>map(Accepted::new).orElseGet(() -> unknown(trimmed));
  }

  private static Optional<AgentCommand> plain(String word) {
    return switch (word.toLowerCase(Locale.ROOT)) {
      case "run" -> Optional.of(AgentCommand.Run.plain());
      case "suspend" -> Optional.of(new AgentCommand.Suspend(false));
      case "cancel" -> Optional.of(new AgentCommand.Cancel(false));
      case "status" -> Optional.of(new AgentCommand.Status());
      default -> Optional.empty();
    };
  }

  private static Rejection unknown(String word) {
    if (word.isEmpty()) {
      return reject(
          Reason.UNKNOWN_COMMAND, "empty payload (expected run, suspend, cancel or status)");
    }
    return reject(
        Reason.UNKNOWN_COMMAND,
        "unknown command "
            + quote(word)
            + " (expected run, suspend, cancel or status, or a JSON object)");
  }

  private ParseResult parseJson(String text, Instant now) {
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      String why =
          String.valueOf(e.getOriginalMessage())
              .replaceAll("\\s*\\(start marker at \\[Source:.*?\\]\\)", "")
              .replaceAll("\\[Source:[^\\]]*\\]", "");
      String where = e.getLocation() == null ? "" : " at column " + e.getLocation().getColumnNr();
      return reject(Reason.MALFORMED_JSON, "malformed JSON" + where + ": " + firstLine(why));
    }
    if (root == null || !root.isObject()) {
      return reject(Reason.MALFORMED_JSON, "malformed JSON: expected one object");
    }
    JsonNode commandNode = root.get("command");
    if (absent(commandNode)) {
      return reject(Reason.UNKNOWN_COMMAND, "JSON command without a \"command\" field");
    }
    if (!commandNode.isTextual()) {
      return wrongType("command", "a string", commandNode);
    }
    String name = commandNode.asText().strip().toLowerCase(Locale.ROOT);
    Set<String> allowed = FIELDS.get(name);
    if (allowed == null) {
      return unknown(commandNode.asText());
    }
    for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
      String field = it.next();
      if (!COMMON_FIELDS.contains(field) && !allowed.contains(field)) {
        return reject(
            Reason.UNKNOWN_FIELD,
            "unknown field "
                + quote(field)
                + " for command "
                + name
                + " (allowed: "
                + String.join(", ", sorted(COMMON_FIELDS, allowed))
                + ")");
      }
    }
    Optional<Rejection> fresh = checkFreshness(root, now);
    if (fresh.isPresent()) {
      return fresh.get();
    }
    return switch (name) {
      case "run" -> parseRun(root);
      case "suspend" -> withForce(root, AgentCommand.Suspend::new);
      case "cancel" -> withForce(root, AgentCommand.Cancel::new);
      default -> new Accepted(new AgentCommand.Status());
    };
  }

  private static ParseResult withForce(
      JsonNode root, java.util.function.Function<Boolean, AgentCommand> make) {
    Optional<Boolean> force = bool(root, "force");
    if (force.isEmpty()) {
      return wrongType("force", "true or false", root.get("force"));
    }
    return new Accepted(make.apply(force.get()));
  }

  private Optional<Rejection> checkFreshness(JsonNode root, Instant now) {
    JsonNode ttl = root.get("ttl_s");
    JsonNode issued = root.get("issued_at");
    Instant issuedAt = null;
    if (!absent(issued)) {
      if (!issued.isTextual()) {
        return Optional.of(wrongType("issued_at", "an ISO-8601 timestamp string", issued));
      }
      try {
        issuedAt = OffsetDateTime.parse(issued.asText()).toInstant();
      } catch (DateTimeParseException e) {
        return Optional.of(
            reject(
                Reason.INVALID_VALUE,
                "issued_at "
                    + quote(issued.asText())
                    + " is not an ISO-8601 timestamp with an offset, e.g. 2026-11-27T02:00:00Z"));
      }
    }
    if (absent(ttl)) {
      return Optional.empty();
    }
    if (!ttl.isIntegralNumber()) {
      return Optional.of(wrongType("ttl_s", "a whole number of seconds", ttl));
    }
    if (!ttl.canConvertToLong() || ttl.asLong() <= 0 || ttl.asLong() > MAX_TTL_SECONDS) {
      return Optional.of(
          reject(
              Reason.INVALID_VALUE, "ttl_s must be between 1 and " + MAX_TTL_SECONDS + " seconds"));
    }
    if (issuedAt == null) {
      return Optional.of(
          reject(Reason.INVALID_VALUE, "ttl_s needs issued_at (the time the command was issued)"));
    }
    Instant expires = issuedAt.plusSeconds(ttl.asLong());
    if (expires.isBefore(now)) {
      return Optional.of(
          reject(
              Reason.STALE,
              "command issued at "
                  + issuedAt
                  + " expired at "
                  + expires
                  + " (ttl_s "
                  + ttl.asLong()
                  + "); it is now "
                  + now));
    }
    return Optional.empty();
  }

  private ParseResult parseRun(JsonNode root) {
    String runId = null;
    JsonNode runIdNode = root.get("run_id");
    if (!absent(runIdNode)) {
      if (!runIdNode.isTextual()) {
        return wrongType("run_id", "a string", runIdNode);
      }
      runId = runIdNode.asText();
      if (runId.isEmpty()
          || runId.length() > MAX_RUN_ID_LENGTH
          || runId.chars().anyMatch(Character::isISOControl)) {
        return reject(
            Reason.INVALID_VALUE,
            "run_id must be 1 to " + MAX_RUN_ID_LENGTH + " characters without control characters");
      }
    }
    boolean thenSuspend = false;
    JsonNode then = root.get("then");
    if (!absent(then)) {
      if (!then.isTextual()) {
        return wrongType("then", "the string \"suspend\"", then);
      }
      if (!then.asText().strip().equalsIgnoreCase("suspend")) {
        return reject(
            Reason.INVALID_VALUE,
            "then " + quote(then.asText()) + " is not supported (only \"suspend\")");
      }
      thenSuspend = true;
    }
    Optional<Boolean> dryRun = bool(root, "dry_run");
    if (dryRun.isEmpty()) {
      return wrongType("dry_run", "true or false", root.get("dry_run"));
    }
    Set<String> datasets = new LinkedHashSet<>();
    JsonNode list = root.get("datasets");
    if (!absent(list)) {
      if (!list.isArray()) {
        return wrongType("datasets", "a list of \"source-name:dataset\" strings", list);
      }
      if (list.isEmpty()) {
        return reject(
            Reason.INVALID_VALUE,
            "datasets is an empty list (leave it out to run every configured dataset)");
      }
      for (JsonNode entry : list) {
        if (!entry.isTextual()) {
          return wrongType("datasets[]", "a \"source-name:dataset\" string", entry);
        }
        String name = entry.asText();
        if (!configuredDatasets.contains(name)) {
          return reject(Reason.UNCONFIGURED_DATASET, unconfigured(name));
        }
        datasets.add(name);
      }
    }
    return new Accepted(new AgentCommand.Run(runId, thenSuspend, dryRun.get(), datasets));
  }

  private String unconfigured(String name) {
    if (name.indexOf(':') < 0) {
      return "dataset " + quote(name) + " is not configured: entries are \"source-name:dataset\"";
    }
    for (String configured : configuredDatasets) {
      if (name.startsWith(configured + "/")) {
        return "dataset "
            + quote(name)
            + " is not configured: it is inside "
            + quote(configured)
            + "; name the configured dataset (it includes its children)";
      }
    }
    return "dataset "
        + quote(name)
        + " is not configured (configured: "
        + String.join(", ", new java.util.TreeSet<>(configuredDatasets))
        + ")";
  }

  /** The field as a boolean, false when absent, empty when it has another type. */
  private static Optional<Boolean> bool(JsonNode root, String field) {
    JsonNode node = root.get(field);
    if (absent(node)) {
      return Optional.of(false);
    }
    return node.isBoolean() ? Optional.of(node.asBoolean()) : Optional.empty();
  }

  private static boolean absent(JsonNode node) {
    return node == null || node.isNull();
  }

  private static Rejection wrongType(String field, String expected, JsonNode actual) {
    return reject(
        Reason.WRONG_TYPE,
        field
            + " must be "
            + expected
            + ", not "
            + actual.getNodeType().name().toLowerCase(Locale.ROOT));
  }

  private static Rejection reject(Reason reason, String message) {
    return new Rejection(reason, message);
  }

  private static java.util.List<String> sorted(Set<String> a, Set<String> b) {
    java.util.TreeSet<String> all = new java.util.TreeSet<>(a);
    all.addAll(b);
    return java.util.List.copyOf(all);
  }

  /**
   * A short, printable, quoted excerpt of something a user sent: never the whole payload in a log.
   */
  static String quote(String s) {
    return quote(s, 40);
  }

  private static String quote(String s, int limit) {
    StringBuilder out = new StringBuilder("'");
    s.codePoints()
        .limit(limit)
        .forEach(
            cp -> {
              if (Character.isISOControl(cp)) {
                out.append(String.format("\\u%04x", cp));
              } else {
                out.appendCodePoint(cp);
              }
            });
    if (s.codePointCount(0, s.length()) > limit) {
      out.append("...");
    }
    return out.append('\'').toString();
  }

  /** Jackson's message without its source excerpt, bounded and printable. */
  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int nl = message.indexOf('\n');
    String line = nl < 0 ? message : message.substring(0, nl);
    String q = quote(line, 120);
    return q.substring(1, q.length() - 1);
  }
}
