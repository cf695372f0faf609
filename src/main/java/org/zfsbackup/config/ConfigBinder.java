package org.zfsbackup.config;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.deser.std.StdDelegatingDeserializer;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.introspect.BeanPropertyDefinition;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.databind.util.StdConverter;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.nodes.NodeId;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.representer.Representer;
import org.yaml.snakeyaml.resolver.Resolver;
import org.zfsbackup.config.ConfigRules.Check;
import org.zfsbackup.config.ConfigRules.Rule;

/**
 * Turns the merged tree into {@link AgentConfig}, recording every problem at its key path. A walk
 * along the record types ({@link #complete}) gives absent keys their default, turns override
 * strings into the key's type and applies each {@link Check}; then Jackson binds ({@link #bind}).
 * Jackson stops at the first failure, so binding is repeated, each failure recorded and its value
 * nulled (an unknown key removed), until the rest binds.
 */
final class ConfigBinder {
  /** Strict: no value changes type on the way (a quoted "22" is no port, 1.5 no integer). */
  static final ObjectMapper JSON =
      JsonMapper.builder()
          .addModule(new Jdk8Module())
          .addModule(
              new SimpleModule()
                  .addDeserializer(
                      Path.class,
                      new StdDelegatingDeserializer<>(
                          new StdConverter<String, Path>() {
                            @Override
                            public Path convert(String value) {
                              return Path.of(value); // any string, ':' included
                            }
                          }))
                  .addDeserializer(
                      Duration.class,
                      new StdDelegatingDeserializer<>(
                          new StdConverter<Integer, Duration>() {
                            @Override
                            public Duration convert(Integer seconds) {
                              return Duration.ofSeconds(seconds);
                            }
                          })))
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .withCoercionConfigDefaults(
              c ->
                  Arrays.stream(CoercionInputShape.values())
                      .forEach(shape -> c.setCoercion(shape, CoercionAction.Fail)))
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS) // `{...} }`: not the rest ignored
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS) // YAML dates: strings
          .build();

  private final Problems problems;

  ConfigBinder(Problems problems) {
    this.problems = problems;
  }

  /** Completes the whole tree along {@link AgentConfig} (see below). */
  void complete(ObjectNode tree) {
    complete(tree, JSON.constructType(AgentConfig.class), "");
  }

  /**
   * Walks the tree along the record types: gives an absent key its default (an absent section, its
   * keys' defaults) or reports it missing when required, turns an override's string into the key's
   * type, and checks each value: present, not blank, and following its {@link Check}. Types are
   * left to Jackson.
   */
  private void complete(ObjectNode node, JavaType type, String path) {
    for (BeanPropertyDefinition p : properties(type)) {
      String key = p.getName();
      String at = (path.isEmpty() ? "" : path + ".") + key;
      Check check = p.getPrimaryMember().getAnnotation(Check.class);
      boolean optional = p.getPrimaryType().isReferenceType();
      JavaType t = optional ? p.getPrimaryType().getReferencedType() : p.getPrimaryType();
      JsonNode value = node.get(key);
      if (value == null && p.getMetadata().getDefaultValue() != null) {
        node.set(key, value = yaml(p.getMetadata().getDefaultValue()));
      } else if (value == null && p.isRequired()) {
        problems.add(at, "missing (required)");
        node.putNull(key);
      } else if (value == null && !optional && t.isRecordType()) {
        value = node.putObject(key);
      } else if (value instanceof TextNode text && problems.originOf(at) != null) {
        node.set(key, value = coerce(text.asText(), t));
      }
      check(value, at, check, p.isRequired());
      if (value instanceof ObjectNode object && t.isRecordType()) {
        complete(object, t, at);
      }
      // Only where a list belongs: a list given for a mapping is Jackson's to report.
      for (int i = 0;
          value instanceof ArrayNode list && t.isCollectionLikeType() && i < list.size();
          i++) {
        check(list.get(i), at + "[" + i + "]", check, false);
        if (list.get(i) instanceof ObjectNode object && t.getContentType().isRecordType()) {
          complete(object, t.getContentType(), at + "[" + i + "]");
        }
      }
    }
  }

  private static List<BeanPropertyDefinition> properties(JavaType type) {
    return JSON.getDeserializationConfig().introspect(type).findProperties();
  }

  /** A record's keys, in its order. */
  static List<String> keys(Class<?> type) {
    return properties(JSON.constructType(type)).stream().map(p -> p.getName()).toList();
  }

  private void check(JsonNode value, String at, Check check, boolean required) {
    if (value != null && value.isNull()) {
      String hint =
          at.endsWith("]")
              ? ""
              : required ? " (required)" : " (give one, or remove the key to get the default)";
      problems.add(at, "has no value" + hint);
    } else if (value != null && value.isTextual() && value.asText().isBlank()) {
      problems.add(at, "must not be empty");
    }
    for (Rule rule : value == null || check == null ? new Rule[0] : check.value()) {
      Optional.ofNullable(ConfigRules.problem(rule, value)).ifPresent(p -> problems.add(at, p));
    }
  }

  /** An override's string as the key's type: int, bool, list (JSON or a,b,c), mapping (JSON). */
  private static JsonNode coerce(String text, JavaType type) {
    String t = text.trim();
    JsonNode json = json(t);
    Class<?> raw = type.getRawClass();
    if (raw == boolean.class || raw == Boolean.class) {
      return t.matches("(?i)true|yes|on|1")
          ? BooleanNode.TRUE
          : t.matches("(?i)false|no|off|0") ? BooleanNode.FALSE : TextNode.valueOf(text);
    } else if (json != null
        && (json.isIntegralNumber() && List.of(Integer.class, Duration.class).contains(raw)
            || json.isArray() && type.isCollectionLikeType()
            || json.isObject() && type.isRecordType())) {
      return json;
    } else if (type.isCollectionLikeType()
        && type.containedType(0).hasRawClass(String.class)
        && !t.startsWith("[")) {
      ArrayNode list = JSON.createArrayNode(); // an empty string: an empty list
      if (!t.isEmpty()) {
        Arrays.stream(t.split(",", -1)).forEach(s -> list.add(s.trim()));
      }
      return list;
    }
    return TextNode.valueOf(text);
  }

  /** Binds, recording each failure and nulling its value, until the rest binds. */
  AgentConfig bind(ObjectNode tree) {
    while (true) {
      try {
        return JSON.treeToValue(tree, AgentConfig.class);
      } catch (JsonMappingException e) {
        JsonPointer pointer = JsonPointer.empty();
        String at = "";
        for (JsonMappingException.Reference r : e.getPath()) {
          String field = r.getFieldName();
          pointer =
              field != null ? pointer.appendProperty(field) : pointer.appendIndex(r.getIndex());
          at += field == null ? "[" + r.getIndex() + "]" : (at.isEmpty() ? "" : ".") + field;
        }
        JsonNode value = tree.at(pointer);
        boolean unknown = e instanceof UnrecognizedPropertyException;
        if (pointer.matches() || value.isNull() && !unknown) {
          // Not Jackson's message: it may quote a value. Every value that fails is nulled first.
          throw new ConfigException(
              at + ": cannot be bound (" + e.getClass().getSimpleName() + ")");
        }
        problems.add(at, problem(e, value));
        JsonNode parent = tree.at(pointer.head());
        if (parent instanceof ArrayNode list) {
          list.set(pointer.last().getMatchingIndex(), NullNode.getInstance());
        } else if (unknown) {
          ((ObjectNode) parent).remove(pointer.last().getMatchingProperty());
        } else {
          ((ObjectNode) parent).putNull(pointer.last().getMatchingProperty());
        }
      } catch (IOException e) {
        throw new ConfigException("cannot be bound (" + e.getClass().getSimpleName() + ")");
      }
    }
  }

  private static String problem(JsonMappingException e, JsonNode value) {
    if (e instanceof UnrecognizedPropertyException u) {
      List<String> keys = u.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
      return "unknown key (expected one of: " + String.join(", ", keys) + ")";
    }
    Class<?> type = e instanceof MismatchedInputException m ? m.getTargetType() : null;
    String expected =
        type == null
            ? "a string"
            : Collection.class.isAssignableFrom(type)
                ? "a list"
                : type.isRecord() && type != AgentConfig.Secret.class
                    ? "a mapping"
                    : type == Boolean.class || type == boolean.class
                        ? "true or false"
                        : type == Integer.class // a Duration too: its seconds are read as one
                            ? "an integer"
                            : "a string";
    boolean outOfRange = expected.equals("an integer") && value.isIntegralNumber();
    return outOfRange ? value + " is out of range" : "expected " + expected + ", got " + a(value);
  }

  /** What kind of value {@code value} is, e.g. "a list". */
  static String a(JsonNode value) {
    String type = value.getNodeType().name().toLowerCase(Locale.ROOT);
    return Map.of("array", "a list", "object", "a mapping", "null", "no value")
        .getOrDefault(type, "a " + type);
  }

  /**
   * YAML as a tree; a key given twice in one mapping is an error, and a date stays the text written
   * ({@code client_id: 2026-01-01} would otherwise become {@code 2026-01-01T00:00:00.000+00:00}).
   */
  static JsonNode yaml(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    Resolver datesAsText =
        new Resolver() {
          @Override
          public Tag resolve(NodeId kind, String value, boolean implicit) {
            Tag tag = super.resolve(kind, value, implicit);
            return tag.equals(Tag.TIMESTAMP) ? Tag.STR : tag;
          }
        };
    DumperOptions unused =
        new DumperOptions(); // the Yaml constructor wants them; nothing is dumped
    Yaml yaml =
        new Yaml(
            new SafeConstructor(options), new Representer(unused), unused, options, datesAsText);
    return JSON.valueToTree(yaml.load(text));
  }

  /** JSON as a tree, or null when {@code text} is not JSON. */
  static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      return null;
    }
  }
}
