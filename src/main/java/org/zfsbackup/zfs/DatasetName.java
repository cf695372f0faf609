package org.zfsbackup.zfs;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * ZFS naming rules for datasets (not snapshots): {@code pool/child/...}, each component made of
 * letters, digits, {@code _ - . :}; the pool name starts with a letter; no empty, {@code .} or
 * {@code ..} components; at most 255 characters. Spaces, which ZFS allows, are refused in what an
 * operator writes (the config, MQTT payloads), where they are most likely a mistake; a dataset that
 * has one and is found below a configured one is replicated like any other ({@link #listedProblem};
 * ssh arguments are quoted).
 */
public final class DatasetName {
  private static final Pattern COMPONENT = Pattern.compile("[A-Za-z0-9_.:\\-]+");
  private static final Pattern LISTED_COMPONENT = Pattern.compile("[A-Za-z0-9_.: \\-]+");

  private DatasetName() {}

  /** Empty when {@code name} is a valid dataset name, else why it is not. */
  public static Optional<String> problem(String name) {
    return problem(name, COMPONENT, "letters, digits, _ - . : only");
  }

  /** As {@link #problem}, with the spaces ZFS allows: for names that {@code zfs} itself listed. */
  public static Optional<String> listedProblem(String name) {
    return problem(name, LISTED_COMPONENT, "letters, digits, space, _ - . : only");
  }

  private static Optional<String> problem(String name, Pattern component, String allowed) {
    if (name == null || name.isEmpty()) {
      return Optional.of("empty dataset name");
    }
    if (name.length() > MAX_NAME) {
      return Optional.of("dataset name longer than " + MAX_NAME + " characters");
    }
    if (name.contains("@") || name.contains("#")) {
      return Optional.of("'" + name + "' is a snapshot or bookmark, not a dataset");
    }
    String[] parts = name.split("/", -1);
    for (String part : parts) {
      if (part.isEmpty()) {
        return Optional.of(
            "'" + name + "' has an empty component (leading, trailing or double '/')");
      }
      if (part.equals(".") || part.equals("..")) {
        return Optional.of("'" + name + "' has a '" + part + "' component");
      }
      if (!component.matcher(part).matches()) {
        return Optional.of(
            "'" + name + "' has characters that are not allowed here (" + allowed + ")");
      }
    }
    if (!Character.isLetter(parts[0].charAt(0))) {
      return Optional.of("'" + name + "': a pool name starts with a letter");
    }
    return Optional.empty();
  }

  /** The longest name ZFS takes: {@code ZFS_MAX_DATASET_NAME_LEN} is 256 with the NUL. */
  public static final int MAX_NAME = 255;

  /**
   * Empty when {@code dataset} and each {@code dataset@snapshot} fit in a ZFS name ({@link
   * #MAX_NAME}); else the first that does not. A receive into a longer name fails with only
   * "invalid name".
   */
  public static Optional<String> tooLong(String dataset, List<String> snapshots) {
    String longest =
        snapshots.stream()
            .map(s -> dataset + "@" + s)
            .filter(n -> n.length() > MAX_NAME && dataset.length() <= MAX_NAME)
            .findFirst()
            .orElse(dataset);
    return longest.length() <= MAX_NAME ? Optional.empty() : Optional.of(longest);
  }

  /** A single component (used for source names, which become one level of the target path). */
  public static Optional<String> componentProblem(String name) {
    if (name == null || name.isEmpty()) {
      return Optional.of("empty name");
    }
    if (name.equals(".") || name.equals("..") || !COMPONENT.matcher(name).matches()) {
      return Optional.of(
          "'" + name + "' is not a valid dataset name component (letters, digits, _ - . :)");
    }
    return Optional.empty();
  }

  /** True when {@code name} is {@code root} or below it. */
  public static boolean isWithin(String name, String root) {
    return name.equals(root) || name.startsWith(root + "/");
  }

  /** True when either of {@code a} and {@code b} is the other or below it. */
  public static boolean overlap(String a, String b) {
    return isWithin(a, b) || isWithin(b, a);
  }

  /** The parent dataset, or empty for a pool. */
  public static Optional<String> parent(String name) {
    int slash = name.lastIndexOf('/');
    return slash < 0 ? Optional.empty() : Optional.of(name.substring(0, slash));
  }
}
