package org.zfsbackup.command;

import static org.zfsbackup.command.Fields.absent;
import static org.zfsbackup.command.Fields.quote;
import static org.zfsbackup.command.Fields.reject;
import static org.zfsbackup.command.Fields.wrongType;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import org.zfsbackup.command.ParseResult.Reason;
import org.zfsbackup.command.ParseResult.Rejection;

/**
 * {@code ttl_s} and {@code issued_at}, which any JSON command may carry: {@code ttl_s} needs {@code
 * issued_at}; {@code issued_at} alone is only checked for format. A command is stale when {@code
 * issued_at + ttl_s < now}. A malformed {@code issued_at} is rejected, never treated as fresh.
 */
final class Freshness {
  static final long MAX_TTL_SECONDS = 10L * 366 * 24 * 3600;

  private Freshness() {}

  /** Why the command in {@code root} must not run at {@code now}, or empty. */
  static Optional<Rejection> check(JsonNode root, Instant now) {
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
    Instant expires;
    try {
      expires = issuedAt.plusSeconds(ttl.asLong());
    } catch (DateTimeException | ArithmeticException e) { // past the last representable instant
      return Optional.of(
          reject(Reason.INVALID_VALUE, "issued_at " + quote(issued.asText()) + " is out of range"));
    }
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
}
