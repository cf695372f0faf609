package org.zfsbackup.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.StreamReadFeature;
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
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.databind.type.TypeFactory;
import com.fasterxml.jackson.databind.util.StdConverter;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import java.io.IOException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.zfsbackup.config.ConfigRules.Check;
import org.zfsbackup.config.ConfigRules.Rule;

/**
 * Binds the configuration tree into {@link AgentConfig}, reporting every problem with its key path.
 * First a walk along the record types gives absent keys their default, turns override strings into
 * the key's type and applies each component's {@link Check}; then Jackson binds. Jackson stops at
 * the first problem, so binding is repeated, each failure recorded and its value nulled (an unknown
 * key removed), until the rest binds. A value that failed is null in the result, which is only used
 * when there were no problems.
 */
final class ConfigBinder {
  /** Strict: no value changes type on the way (a quoted "22" is no port, 1.5 no integer). */
  static final ObjectMapper JSON =
      JsonMapper.builder()
          .addModule(new Jdk8Module())
          .addModule(
              new SimpleModule()
                  .addDeserializer(Path.class, converter(String.class, Path::of))
                  .addDeserializer(Duration.class, converter(Integer.class, Duration::ofSeconds)))
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .withCoercionConfigDefaults(
              c ->
                  Arrays.stream(CoercionInputShape.values())
                      .forEach(shape -> c.setCoercion(shape, CoercionAction.Fail)))
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS) // YAML dates: strings
          .build();

  private final Problems problems;

  ConfigBinder(Problems problems) {
    this.problems = problems;
  }

  /**
   * Walks the tree along the record types: gives an absent key its default (an absent section, its
   * keys' defaults) or reports it missing when required, turns an override's string into the key's
   * type, and checks each value: present, not blank, and following its {@link Check}. Types are
   * left to Jackson.
   */
  void complete(ObjectNode node, Class<?> type, String path) {
    for (RecordComponent c : type.getRecordComponents()) {
      JsonProperty property = c.getAccessor().getAnnotation(JsonProperty.class);
      Check check = c.getAccessor().getAnnotation(Check.class);
      String at = (path.isEmpty() ? "" : path + ".") + key(c);
      Class<?> item =
          c.getGenericType() instanceof ParameterizedType t
              ? (Class<?>) t.getActualTypeArguments()[0]
              : Object.class;
      Class<?> valueType = c.getType() == Optional.class ? item : c.getType();
      JsonNode value = node.get(key(c));
      if (value == null && property != null && !property.defaultValue().isEmpty()) {
        node.set(key(c), value = yaml(property.defaultValue()));
      } else if (value == null && property != null && property.required()) {
        problems.add(at, "missing (required)");
        node.putNull(key(c));
      } else if (value == null && c.getType().isRecord()) {
        value = node.putObject(key(c));
      } else if (value instanceof TextNode text && problems.originOf(at) != null) {
        node.set(key(c), value = coerce(text.asText(), valueType, item));
      }
      check(value, at, check);
      if (value instanceof ObjectNode object && valueType.isRecord()) {
        complete(object, valueType, at);
      }
      for (int i = 0; value instanceof ArrayNode list && i < list.size(); i++) {
        check(list.get(i), at + "[" + i + "]", check);
        if (list.get(i) instanceof ObjectNode object && item.isRecord()) {
          complete(object, item, at + "[" + i + "]");
        }
      }
    }
  }

  private void check(JsonNode value, String at, Check check) {
    if (value != null && value.isNull()) {
      problems.add(
          at,
          "has no value"
              + (at.endsWith("]") ? "" : " (give one, or remove the key to get the default)"));
    } else if (value != null && value.isTextual() && value.asText().isBlank()) {
      problems.add(at, "must not be empty");
    }
    for (Rule rule : value == null || check == null ? new Rule[0] : check.value()) {
      Optional.ofNullable(ConfigRules.problem(rule, value)).ifPresent(p -> problems.add(at, p));
    }
  }

  /** An override's string as the key's type: int, bool, list (JSON or a,b,c), mapping (JSON). */
  private static JsonNode coerce(String text, Class<?> type, Class<?> item) {
    String t = text.trim();
    JsonNode json = json(t);
    if (type == boolean.class || type == Boolean.class) {
      return t.matches("(?i)true|yes|on|1")
          ? BooleanNode.TRUE
          : t.matches("(?i)false|no|off|0") ? BooleanNode.FALSE : TextNode.valueOf(text);
    } else if (json != null
        && (json.isIntegralNumber() && (type == Integer.class || type == Duration.class)
            || json.isArray() && type == List.class
            || json.isObject() && type.isRecord())) {
      return json;
    } else if (type == List.class && item == String.class && !t.startsWith("[")) {
      ArrayNode list = JSON.createArrayNode();
      Arrays.stream(t.split(",", -1)).filter(s -> !t.isEmpty()).forEach(s -> list.add(s.trim()));
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
        if (pointer.matches() || value.isNull() && !(e instanceof UnrecognizedPropertyException)) {
          // Not Jackson's message: it may quote a value. Every value that fails is nulled first.
          throw new ConfigException(
              at + ": cannot be bound (" + e.getClass().getSimpleName() + ")");
        }
        problems.add(at, problem(e, value));
        if (tree.at(pointer.head()) instanceof ArrayNode list) {
          list.set(pointer.last().getMatchingIndex(), NullNode.getInstance());
        } else if (e instanceof UnrecognizedPropertyException) {
          ((ObjectNode) tree.at(pointer.head())).remove(pointer.last().getMatchingProperty());
        } else {
          ((ObjectNode) tree.at(pointer.head())).putNull(pointer.last().getMatchingProperty());
        }
      } catch (IOException e) {
        throw new ConfigException("cannot be bound (" + e.getClass().getSimpleName() + ")");
      }
    }
  }

  private static String problem(JsonMappingException e, JsonNode value) {
    Class<?> type = e instanceof MismatchedInputException m ? m.getTargetType() : null;
    if (e instanceof UnrecognizedPropertyException u) {
      List<String> keys = u.getKnownPropertyIds().stream().map(String::valueOf).sorted().toList();
      return "unknown key (expected one of: " + String.join(", ", keys) + ")";
    } else if (type != null && Collection.class.isAssignableFrom(type)) {
      return "expected a list, got " + a(value);
    } else if (type != null && type.isRecord() && type != AgentConfig.Secret.class) {
      return "expected a mapping, got " + a(value);
    } else if (type == Boolean.class || type == boolean.class) {
      return "expected true or false, got " + a(value);
    } else if (type == Integer.class || type == Duration.class) {
      return value.isIntegralNumber()
          ? value + " is out of range"
          : "expected an integer, got " + a(value);
    }
    return "expected a string, got " + a(value);
  }

  /** What kind of value {@code value} is, e.g. "a list". */
  static String a(JsonNode value) {
    String type = value.getNodeType().name().toLowerCase(Locale.ROOT);
    return Map.of("array", "a list", "object", "a mapping", "null", "no value")
        .getOrDefault(type, "a " + type);
  }

  static JsonNode yaml(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    return JSON.valueToTree(new Yaml(new SafeConstructor(options)).load(text));
  }

  static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      return null;
    }
  }

  /** A component's key: its {@code @JsonProperty} name, else its name in snake_case. */
  static String key(RecordComponent c) {
    JsonProperty property = c.getAccessor().getAnnotation(JsonProperty.class);
    return property != null && !property.value().isEmpty()
        ? property.value()
        : c.getName().replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
  }

  /** Reads an {@code S} and makes it a {@code T}: Path from any string, Duration from seconds. */
  private static <S, T> StdDelegatingDeserializer<T> converter(Class<S> from, Function<S, T> f) {
    return new StdDelegatingDeserializer<>(
        new StdConverter<S, T>() {
          @Override
          public T convert(S value) {
            return f.apply(value);
          }

          @Override
          public JavaType getInputType(TypeFactory types) {
            return types.constructType(from);
          }
        });
  }
}
