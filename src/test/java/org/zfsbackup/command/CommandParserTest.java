package org.zfsbackup.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.zfsbackup.command.AgentCommand.Cancel;
import org.zfsbackup.command.AgentCommand.Run;
import org.zfsbackup.command.AgentCommand.Status;
import org.zfsbackup.command.AgentCommand.Suspend;
import org.zfsbackup.command.ParseResult.Accepted;
import org.zfsbackup.command.ParseResult.Reason;
import org.zfsbackup.command.ParseResult.Rejection;

class CommandParserTest {

  static final Instant NOW = Instant.parse("2026-11-27T02:30:00Z");
  static final CommandParser PARSER =
      new CommandParser(
          Set.of("host-storage:tank/data", "host-storage:fastpool/compositions", "nas:tank"));

  static Stream<Arguments> accepted() {
    return Stream.of(
        // plain text, as mosquitto_pub -m sends it
        Arguments.of("run", Run.plain()),
        Arguments.of("suspend", new Suspend(false)),
        Arguments.of("cancel", new Cancel(false)),
        Arguments.of("status", new Status()),
        Arguments.of("  SUSPEND\n", new Suspend(false)),
        Arguments.of("Run", Run.plain()),
        Arguments.of("\tstatus \r\n", new Status()),
        // JSON
        Arguments.of("{\"command\": \"run\"}", Run.plain()),
        Arguments.of("{\"command\": \"RUN\"}", Run.plain()),
        Arguments.of(
            "{\"command\": \"run\", \"run_id\": \"nightly-42\", \"then\": \"suspend\", \"dry_run\": false,"
                + " \"datasets\": [\"host-storage:tank/data\"], \"ttl_s\": 3600,"
                + " \"issued_at\": \"2026-11-27T02:00:00Z\"}",
            new Run("nightly-42", true, false, Set.of("host-storage:tank/data"))),
        Arguments.of(
            "{\"command\": \"run\", \"dry_run\": true}", new Run(null, false, true, Set.of())),
        Arguments.of(
            "{\"command\": \"run\", \"datasets\": [\"nas:tank\", \"host-storage:fastpool/compositions\", \"nas:tank\"]}",
            new Run(null, false, false, Set.of("nas:tank", "host-storage:fastpool/compositions"))),
        Arguments.of(
            "{\"command\": \"run\", \"run_id\": null, \"then\": null, \"datasets\": null}",
            Run.plain()),
        Arguments.of("{\"command\": \"suspend\", \"force\": false}", new Suspend(false)),
        Arguments.of("{\"command\": \"suspend\", \"force\": true}", new Suspend(true)),
        Arguments.of("{\"command\": \"suspend\"}", new Suspend(false)),
        Arguments.of("{\"command\": \"cancel\", \"force\": true}", new Cancel(true)),
        Arguments.of("{\"command\": \"status\"}", new Status()),
        Arguments.of("  {\"command\":\"status\"}  \n", new Status()),
        // fresh: issued 30 min ago with a 1 h ttl; exactly at expiry is still fresh
        Arguments.of(
            "{\"command\": \"status\", \"ttl_s\": 1800, \"issued_at\": \"2026-11-27T02:00:00Z\"}",
            new Status()),
        Arguments.of(
            "{\"command\": \"status\", \"ttl_s\": 60, \"issued_at\": \"2026-11-27T03:29:30+01:00\"}",
            new Status()),
        // issued_at alone is only checked for format
        Arguments.of(
            "{\"command\": \"suspend\", \"issued_at\": \"2020-01-01T00:00:00Z\"}",
            new Suspend(false)));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("accepted")
  void parse_validPayload_returnsCommand(String payload, AgentCommand expected) {
    ParseResult result = PARSER.parse(bytes(payload), false, NOW);
    assertEquals(new Accepted(expected), result);
  }

  static Stream<Arguments> rejected() {
    byte[] big = new byte[CommandParser.MAX_PAYLOAD_BYTES + 1];
    Arrays.fill(big, (byte) ' ');
    big[0] = 'r';
    big[1] = 'u';
    big[2] = 'n';
    return Stream.of(
        Arguments.of("unknown word", bytes("reboot"), Reason.UNKNOWN_COMMAND),
        Arguments.of("two words", bytes("run now"), Reason.UNKNOWN_COMMAND),
        Arguments.of("empty", bytes(""), Reason.UNKNOWN_COMMAND),
        Arguments.of("blank", bytes("  \n"), Reason.UNKNOWN_COMMAND),
        Arguments.of("json string", bytes("\"run\""), Reason.UNKNOWN_COMMAND),
        Arguments.of(
            "json unknown command", bytes("{\"command\": \"reboot\"}"), Reason.UNKNOWN_COMMAND),
        Arguments.of("json without command", bytes("{\"run_id\": \"x\"}"), Reason.UNKNOWN_COMMAND),
        Arguments.of("json null command", bytes("{\"command\": null}"), Reason.UNKNOWN_COMMAND),
        Arguments.of("truncated json", bytes("{\"command\": \"run\""), Reason.MALFORMED_JSON),
        Arguments.of("single quotes", bytes("{'command': 'run'}"), Reason.MALFORMED_JSON),
        Arguments.of(
            "trailing data",
            bytes("{\"command\": \"run\"} {\"command\": \"run\"}"),
            Reason.MALFORMED_JSON),
        Arguments.of(
            "duplicate key",
            bytes("{\"command\": \"status\", \"command\": \"run\"}"),
            Reason.MALFORMED_JSON),
        Arguments.of("command not a string", bytes("{\"command\": 1}"), Reason.WRONG_TYPE),
        Arguments.of(
            "dry_run as string",
            bytes("{\"command\": \"run\", \"dry_run\": \"false\"}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "force as number",
            bytes("{\"command\": \"suspend\", \"force\": 1}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "cancel force as string",
            bytes("{\"command\": \"cancel\", \"force\": \"yes\"}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "run_id as number", bytes("{\"command\": \"run\", \"run_id\": 42}"), Reason.WRONG_TYPE),
        Arguments.of(
            "then as bool", bytes("{\"command\": \"run\", \"then\": true}"), Reason.WRONG_TYPE),
        Arguments.of(
            "datasets as string",
            bytes("{\"command\": \"run\", \"datasets\": \"nas:tank\"}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "datasets entry as number",
            bytes("{\"command\": \"run\", \"datasets\": [1]}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "ttl_s as string",
            bytes(
                "{\"command\": \"run\", \"ttl_s\": \"60\", \"issued_at\": \"2026-11-27T02:00:00Z\"}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "ttl_s fractional",
            bytes(
                "{\"command\": \"run\", \"ttl_s\": 1.5, \"issued_at\": \"2026-11-27T02:00:00Z\"}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "issued_at as number",
            bytes("{\"command\": \"run\", \"issued_at\": 1764208800}"),
            Reason.WRONG_TYPE),
        Arguments.of(
            "typo dry-run",
            bytes("{\"command\": \"run\", \"dry-run\": true}"),
            Reason.UNKNOWN_FIELD),
        Arguments.of(
            "force on run", bytes("{\"command\": \"run\", \"force\": true}"), Reason.UNKNOWN_FIELD),
        Arguments.of(
            "datasets on suspend",
            bytes("{\"command\": \"suspend\", \"datasets\": []}"),
            Reason.UNKNOWN_FIELD),
        Arguments.of(
            "force on status",
            bytes("{\"command\": \"status\", \"force\": true}"),
            Reason.UNKNOWN_FIELD),
        Arguments.of(
            "then reboot",
            bytes("{\"command\": \"run\", \"then\": \"reboot\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "empty run_id",
            bytes("{\"command\": \"run\", \"run_id\": \"\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "run_id with newline",
            bytes("{\"command\": \"run\", \"run_id\": \"a\\nINFO fake log line\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "run_id with a lone surrogate (echoed as '?')",
            bytes("{\"command\": \"run\", \"run_id\": \"a\\ud800b\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "run_id too long",
            bytes("{\"command\": \"run\", \"run_id\": \"" + "x".repeat(129) + "\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "empty datasets",
            bytes("{\"command\": \"run\", \"datasets\": []}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "ttl_s zero",
            bytes("{\"command\": \"run\", \"ttl_s\": 0, \"issued_at\": \"2026-11-27T02:00:00Z\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "ttl_s negative",
            bytes("{\"command\": \"run\", \"ttl_s\": -5, \"issued_at\": \"2026-11-27T02:00:00Z\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "ttl_s huge",
            bytes(
                "{\"command\": \"run\", \"ttl_s\": 99999999999999999999, \"issued_at\": \"2026-11-27T02:00:00Z\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "ttl_s without issued_at",
            bytes("{\"command\": \"run\", \"ttl_s\": 60}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "malformed issued_at",
            bytes("{\"command\": \"run\", \"ttl_s\": 60, \"issued_at\": \"yesterday\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "issued_at without offset",
            bytes("{\"command\": \"run\", \"ttl_s\": 60, \"issued_at\": \"2026-11-27T02:00:00\"}"),
            Reason.INVALID_VALUE),
        Arguments.of(
            "stale",
            bytes("{\"command\": \"run\", \"ttl_s\": 60, \"issued_at\": \"2026-11-27T02:00:00Z\"}"),
            Reason.STALE),
        Arguments.of(
            "stale suspend",
            bytes(
                "{\"command\": \"suspend\", \"ttl_s\": 1799, \"issued_at\": \"2026-11-27T02:00:00Z\"}"),
            Reason.STALE),
        Arguments.of(
            "unconfigured dataset",
            bytes("{\"command\": \"run\", \"datasets\": [\"host-storage:tank/other\"]}"),
            Reason.UNCONFIGURED_DATASET),
        Arguments.of(
            "unconfigured source",
            bytes("{\"command\": \"run\", \"datasets\": [\"elsewhere:tank/data\"]}"),
            Reason.UNCONFIGURED_DATASET),
        Arguments.of(
            "child of configured",
            bytes("{\"command\": \"run\", \"datasets\": [\"host-storage:tank/data/child\"]}"),
            Reason.UNCONFIGURED_DATASET),
        Arguments.of(
            "no source prefix",
            bytes("{\"command\": \"run\", \"datasets\": [\"tank/data\"]}"),
            Reason.UNCONFIGURED_DATASET),
        Arguments.of(
            "shell in dataset",
            bytes("{\"command\": \"run\", \"datasets\": [\"host-storage:tank/data; rm -rf /\"]}"),
            Reason.UNCONFIGURED_DATASET),
        Arguments.of(
            "one good one bad",
            bytes("{\"command\": \"run\", \"datasets\": [\"nas:tank\", \"nas:tank2\"]}"),
            Reason.UNCONFIGURED_DATASET),
        Arguments.of("over 64 KiB", big, Reason.TOO_LARGE),
        Arguments.of(
            "invalid utf-8", new byte[] {'r', (byte) 0xC3, (byte) 0x28, 'n'}, Reason.INVALID_UTF8),
        Arguments.of("lone continuation byte", new byte[] {(byte) 0x80}, Reason.INVALID_UTF8));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("rejected")
  void parse_badPayload_returnsRejectionWithReason(String what, byte[] payload, Reason reason) {
    ParseResult result = PARSER.parse(payload, false, NOW);
    Rejection rejection = assertInstanceOf(Rejection.class, result, what);
    assertEquals(reason, rejection.reason(), rejection.message());
    assertTrue(rejection.message().length() < 400, "message stays short: " + rejection.message());
    assertTrue(
        rejection.message().chars().noneMatch(c -> c == '\n'), "one line: " + rejection.message());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("accepted")
  void parse_retainedValidPayload_returnsRetainedRejection(String payload, AgentCommand ignored) {
    ParseResult result = PARSER.parse(bytes(payload), true, NOW);
    assertEquals(Reason.RETAINED, assertInstanceOf(Rejection.class, result).reason());
  }

  @Test
  void parse_exactly64KiB_isNotTooLarge() {
    byte[] payload = new byte[CommandParser.MAX_PAYLOAD_BYTES];
    Arrays.fill(payload, (byte) ' ');
    payload[0] = 's';
    System.arraycopy(bytes("status"), 0, payload, 0, 6);
    assertEquals(new Accepted(new Status()), PARSER.parse(payload, false, NOW));
  }

  @Test
  void parse_childOfConfiguredDataset_messageNamesTheConfiguredParent() {
    Rejection r =
        (Rejection)
            PARSER.parse(
                bytes("{\"command\": \"run\", \"datasets\": [\"host-storage:tank/data/child\"]}"),
                false,
                NOW);
    assertTrue(r.message().contains("'host-storage:tank/data'"), r.message());
  }

  @Test
  void parse_longUnknownWord_messageQuotesOnlyAPrefix() {
    Rejection r = (Rejection) PARSER.parse(bytes("x".repeat(5000)), false, NOW);
    assertTrue(r.message().contains("..."), r.message());
    assertTrue(r.message().length() < 200, r.message());
  }

  @Test
  void parse_truncatedJson_messageSaysWhereWithoutJacksonInternals() {
    Rejection r = (Rejection) PARSER.parse(bytes("{\"command\": \"run\""), false, NOW);
    assertTrue(r.message().startsWith("malformed JSON at column "), r.message());
    assertTrue(!r.message().contains("Source"), r.message());
  }

  // Catches: a command saved by an editor that writes a byte order mark refused as unknown, with
  // the invisible mark inside the quoted word.
  @Test
  void parse_leadingByteOrderMark_isIgnored() {
    byte[] plain = "\uFEFFstatus".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    assertInstanceOf(ParseResult.Accepted.class, PARSER.parse(plain, false, NOW));
    byte[] json =
        "\uFEFF{\"command\": \"status\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    assertInstanceOf(ParseResult.Accepted.class, PARSER.parse(json, false, NOW));
  }

  // Catches: an issued_at near the largest year, plus a ttl_s, overflowing into an internal error
  // with a stack trace in the log.
  @Test
  void parse_issuedAtAtTheEndOfTime_isAnInvalidValue() {
    Rejection r =
        (Rejection)
            PARSER.parse(
                bytes(
                    "{\"command\": \"status\", \"ttl_s\": 315360000,"
                        + " \"issued_at\": \"+999999999-12-31T23:59:59Z\"}"),
                false,
                NOW);
    assertEquals(Reason.INVALID_VALUE, r.reason());
    assertTrue(r.message().endsWith("is out of range"), r.message());
  }

  // Catches: "ttl_s must be a whole number of seconds, not number" for 60.0.
  @Test
  void parse_fractionalTtl_messageQuotesTheNumber() {
    Rejection r =
        (Rejection) PARSER.parse(bytes("{\"command\": \"status\", \"ttl_s\": 60.0}"), false, NOW);
    assertEquals(Reason.WRONG_TYPE, r.reason());
    assertTrue(r.message().endsWith("not 60.0"), r.message());
  }

  @Test
  void reasonKind_isPrefixedSnakeCase() {
    assertEquals("command_unconfigured_dataset", Reason.UNCONFIGURED_DATASET.kind());
    assertEquals("command_retained", Reason.RETAINED.kind());
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
