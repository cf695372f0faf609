package org.zfsbackup.command;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.Optional;
import org.zfsbackup.command.ParseResult.Reason;
import org.zfsbackup.command.ParseResult.Rejection;

/**
 * Reading one field of a JSON command, and the rejections that name it. A JSON {@code null} is the
 * same as leaving the field out. What a user sent appears only as a short, printable excerpt.
 */
final class Fields {
  private Fields() {}

  static boolean absent(JsonNode node) {
    return node == null || node.isNull();
  }

  /** The field as a boolean, false when absent, empty when it has another type. */
  static Optional<Boolean> bool(JsonNode root, String field) {
    JsonNode node = root.get(field);
    if (absent(node)) {
      return Optional.of(false);
    }
    return node.isBoolean() ? Optional.of(node.asBoolean()) : Optional.empty();
  }

  static Rejection wrongType(String field, String expected, JsonNode actual) {
    return reject(
        Reason.WRONG_TYPE,
        field
            + " must be "
            + expected
            + ", not "
            + (actual.isNumber()
                ? actual.toString() // "not 60.0": "not number" reads as if no number were given
                : actual.getNodeType().name().toLowerCase(Locale.ROOT)));
  }

  static Rejection reject(Reason reason, String message) {
    return new Rejection(reason, message);
  }

  /**
   * A short, printable, quoted excerpt of something a user sent: never the whole payload in a log.
   */
  static String quote(String s) {
    return quote(s, 40);
  }

  static String quote(String s, int limit) {
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
}
