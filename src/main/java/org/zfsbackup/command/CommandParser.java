package org.zfsbackup.command;

import static org.zfsbackup.command.Fields.absent;
import static org.zfsbackup.command.Fields.bool;
import static org.zfsbackup.command.Fields.quote;
import static org.zfsbackup.command.Fields.reject;
import static org.zfsbackup.command.Fields.wrongType;

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
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
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
 *   <li>{@code run}'s own fields, {@code datasets} included: {@link RunFields}; {@code ttl_s} and
 *       {@code issued_at}: {@link Freshness}.
 * </ul>
 */
public final class CommandParser {

  /** Larger payloads are rejected before they are decoded. */
  public static final int MAX_PAYLOAD_BYTES = 64 * 1024;

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

  private final RunFields run;

  /**
   * @param configuredDatasets every configured {@code source-name:dataset}, e.g. {@code
   *     host-storage:tank/data}
   */
  public CommandParser(Set<String> configuredDatasets) {
    this.run = new RunFields(Set.copyOf(configuredDatasets));
  }

  /**
   * Why {@code entry} may not limit a run (the command line's {@code run SOURCE:DATASET}, as MQTT's
   * {@code datasets}); empty when it is a configured {@code source-name:dataset}.
   */
  public Optional<String> unconfigured(String entry) {
    return run.unconfigured(entry);
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
    // A byte order mark (some editors and PowerShell write one) is no part of the command.
    String trimmed = text.replaceFirst("^\uFEFF", "").strip();
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
    Optional<Rejection> fresh = Freshness.check(root, now);
    if (fresh.isPresent()) {
      return fresh.get();
    }
    return switch (name) {
      case "run" -> run.parse(root);
      case "suspend" -> withForce(root, AgentCommand.Suspend::new);
      case "cancel" -> withForce(root, AgentCommand.Cancel::new);
      default -> new Accepted(new AgentCommand.Status());
    };
  }

  private static ParseResult withForce(JsonNode root, Function<Boolean, AgentCommand> make) {
    Optional<Boolean> force = bool(root, "force");
    if (force.isEmpty()) {
      return wrongType("force", "true or false", root.get("force"));
    }
    return new Accepted(make.apply(force.get()));
  }

  private static List<String> sorted(Set<String> a, Set<String> b) {
    TreeSet<String> all = new TreeSet<>(a);
    all.addAll(b);
    return List.copyOf(all);
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
