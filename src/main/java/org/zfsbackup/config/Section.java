package org.zfsbackup.config;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Typed, checked access to one mapping of the raw configuration. Every accessor reports what is
 * wrong to {@link Problems} under the key's full path and returns empty instead of throwing, so one
 * pass finds every problem. Unknown keys are reported when the section is opened.
 *
 * <p>Values given as environment variables or system properties are strings; where such a string
 * stands for an integer, a boolean, a list or a mapping it is converted here (lists as a JSON
 * array or comma-separated, mappings as JSON). Values from the file are never converted: a quoted
 * {@code "22"} in YAML where a port is expected is a type error.
 */
final class Section {
  private final String path;
  private final JsonObject json;
  private final Problems problems;

  private Section(String path, JsonObject json, Problems problems, Set<String> keys) {
    this.path = path;
    this.json = json;
    this.problems = problems;
    for (String key : json.fieldNames()) {
      if (!keys.contains(key)) {
        problems.add(child(key), "unknown key" + hint(key, keys));
      }
    }
  }

  static Section root(JsonObject json, Problems problems, String... keys) {
    return new Section("", json, problems, Set.of(keys));
  }

  String path() {
    return path;
  }

  String child(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  void problem(String key, String message) {
    problems.add(child(key), message);
  }

  boolean present(String key) {
    return json.containsKey(key);
  }

  /** A nested mapping; empty when absent or not a mapping. */
  Optional<Section> section(String key, String... keys) {
    Object value = raw(key);
    if (value == null) {
      return Optional.empty();
    }
    String at = child(key);
    JsonObject object = asObject(value, at);
    return object == null ? Optional.empty() : Optional.of(new Section(at, object, problems, Set.of(keys)));
  }

  /** A nested mapping, or an empty one (every key at its default) when absent. */
  Section sectionOrEmpty(String key, String... keys) {
    if (!present(key)) {
      return new Section(child(key), new JsonObject(), problems, Set.of(keys));
    }
    return section(key, keys).orElseGet(() -> new Section(child(key), new JsonObject(), problems, Set.of(keys)));
  }

  Optional<Section> requiredSection(String key, String... keys) {
    if (!present(key)) {
      problem(key, "missing (required)");
      return Optional.empty();
    }
    return section(key, keys);
  }

  /** A list of mappings; empty when absent or wrong. */
  Optional<List<Section>> sections(String key, String... keys) {
    Object value = raw(key);
    if (value == null) {
      return Optional.empty();
    }
    String at = child(key);
    JsonArray array = asArray(value, at, true);
    if (array == null) {
      return Optional.empty();
    }
    List<Section> out = new ArrayList<>();
    boolean ok = true;
    for (int i = 0; i < array.size(); i++) {
      String itemPath = at + "[" + i + "]";
      Object item = array.getValue(i);
      if (item instanceof JsonObject object) {
        out.add(new Section(itemPath, object, problems, Set.of(keys)));
      } else {
        problems.add(itemPath, "expected a mapping, got " + describe(item));
        ok = false;
      }
    }
    return ok ? Optional.of(out) : Optional.empty();
  }

  Optional<String> string(String key) {
    Object value = raw(key);
    if (value == null) {
      return Optional.empty();
    }
    if (!(value instanceof String s)) {
      problem(key, "expected a string, got " + describe(value));
      return Optional.empty();
    }
    if (s.isBlank()) {
      problem(key, "must not be empty");
      return Optional.empty();
    }
    return Optional.of(s);
  }

  Optional<String> requiredString(String key) {
    if (!present(key)) {
      problem(key, "missing (required)");
      return Optional.empty();
    }
    return string(key);
  }

  /** An integer within {@code [min, max]}; empty when absent or wrong. */
  Optional<Integer> integer(String key, int min, int max) {
    Object value = raw(key);
    if (value == null) {
      return Optional.empty();
    }
    if (value instanceof String s && problems.fromOverride(child(key))) {
      try {
        value = new BigInteger(s.trim());
      } catch (NumberFormatException e) {
        problem(key, "expected an integer, got '" + s + "'");
        return Optional.empty();
      }
    }
    BigInteger number;
    if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      number = BigInteger.valueOf(((Number) value).longValue());
    } else if (value instanceof BigInteger big) {
      number = big;
    } else {
      problem(key, "expected an integer, got " + describe(value));
      return Optional.empty();
    }
    if (number.compareTo(BigInteger.valueOf(min)) < 0 || number.compareTo(BigInteger.valueOf(max)) > 0) {
      problem(key, number + (max == Integer.MAX_VALUE ? " is too small: must be at least " + min
          : " is out of range " + min + ".." + max));
      return Optional.empty();
    }
    return Optional.of(number.intValue());
  }

  Optional<Boolean> bool(String key) {
    Object value = raw(key);
    if (value == null) {
      return Optional.empty();
    }
    if (value instanceof String s && problems.fromOverride(child(key))) {
      switch (s.trim().toLowerCase(Locale.ROOT)) {
        case "true", "yes", "on", "1" -> value = Boolean.TRUE;
        case "false", "no", "off", "0" -> value = Boolean.FALSE;
        default -> {
          problem(key, "expected true or false, got '" + s + "'");
          return Optional.empty();
        }
      }
    }
    if (!(value instanceof Boolean b)) {
      problem(key, "expected true or false, got " + describe(value));
      return Optional.empty();
    }
    return Optional.of(b);
  }

  /**
   * A list of non-empty strings; empty when absent or wrong.
   *
   * @param allowEmpty whether {@code []} is a valid value
   */
  Optional<List<String>> strings(String key, boolean allowEmpty) {
    Object value = raw(key);
    if (value == null) {
      return Optional.empty();
    }
    String at = child(key);
    JsonArray array = asArray(value, at, false);
    if (array == null) {
      return Optional.empty();
    }
    if (array.isEmpty() && !allowEmpty) {
      problems.add(at, "must not be an empty list");
      return Optional.empty();
    }
    List<String> out = new ArrayList<>();
    boolean ok = true;
    for (int i = 0; i < array.size(); i++) {
      Object item = array.getValue(i);
      if (!(item instanceof String s)) {
        problems.add(at + "[" + i + "]", "expected a string, got " + describe(item));
        ok = false;
      } else if (s.isEmpty()) {
        problems.add(at + "[" + i + "]", "must not be empty");
        ok = false;
      } else {
        out.add(s);
      }
    }
    return ok ? Optional.of(List.copyOf(out)) : Optional.empty();
  }

  /** The raw value, or null when absent; a present null is reported (there is no "no value"). */
  private Object raw(String key) {
    if (!json.containsKey(key)) {
      return null;
    }
    Object value = json.getValue(key);
    if (value == null) {
      problem(key, "has no value (give one, or remove the key to get the default)");
    }
    return value;
  }

  private JsonObject asObject(Object value, String at) {
    if (value instanceof String s && problems.fromOverride(at) && s.trim().startsWith("{")) {
      try {
        return new JsonObject(s);
      } catch (DecodeException e) {
        problems.add(at, "not a valid JSON object");
        return null;
      }
    }
    if (value instanceof JsonObject object) {
      return object;
    }
    problems.add(at, "expected a mapping, got " + describe(value));
    return null;
  }

  private JsonArray asArray(Object value, String at, boolean jsonOnly) {
    if (value instanceof String s && problems.fromOverride(at)) {
      String t = s.trim();
      if (t.startsWith("[")) {
        try {
          return new JsonArray(t);
        } catch (DecodeException e) {
          problems.add(at, "not a valid JSON array");
          return null;
        }
      }
      if (!jsonOnly) {
        JsonArray array = new JsonArray();
        if (!t.isEmpty()) {
          Arrays.stream(t.split(",", -1)).map(String::trim).forEach(array::add);
        }
        return array;
      }
    }
    if (value instanceof JsonArray array) {
      return array;
    }
    problems.add(at, "expected a list, got " + describe(value));
    return null;
  }

  static String describe(Object value) {
    if (value == null) {
      return "no value";
    }
    if (value instanceof String) {
      return "a string";
    }
    if (value instanceof Boolean) {
      return "a boolean";
    }
    if (value instanceof Number) {
      return "a number";
    }
    if (value instanceof JsonArray || value instanceof List) {
      return "a list";
    }
    if (value instanceof JsonObject || value instanceof java.util.Map) {
      return "a mapping";
    }
    return "a " + value.getClass().getSimpleName();
  }

  /** "did you mean" for a near miss such as {@code clientid} or {@code datasets_}. */
  private static String hint(String key, Set<String> keys) {
    String norm = key.toLowerCase(Locale.ROOT).replace("-", "_");
    Set<String> close = new LinkedHashSet<>();
    for (String k : keys.stream().sorted().toList()) {
      if (k.equals(norm) || k.replace("_", "").equals(norm.replace("_", ""))) {
        close.add(k);
      }
    }
    if (!close.isEmpty()) {
      return " (did you mean '" + close.iterator().next() + "'?)";
    }
    return keys.isEmpty() ? "" : " (expected one of: " + String.join(", ", keys.stream().sorted().toList()) + ")";
  }
}
