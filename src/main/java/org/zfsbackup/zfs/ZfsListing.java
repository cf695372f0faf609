package org.zfsbackup.zfs;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.zfsbackup.plan.ReceiveRules;
import org.zfsbackup.plan.Snapshot;

/**
 * Parses the output of {@link ZfsCommands#list}: {@code zfs get -H -p -o name,property,value
 * guid,createtxg,canmount,userrefs,org.zfsbackup:placeholder -r ROOTS}, one line per dataset or
 * snapshot and property, and that of {@link ZfsCommands#listForRetention}, which asks for each
 * snapshot's {@code creation} too. The same command works on zfs-fuse and OpenZFS, and lists every
 * dataset and snapshot of a host in one process. Malformed output is a {@link ListingException}
 * naming the line, never a silent skip. Bookmarks ({@code #}) are not snapshots and are left out.
 */
public final class ZfsListing {

  /**
   * A dataset and its snapshots in createtxg order.
   *
   * @param canmount {@code on}, {@code off}, {@code noauto}, or empty for volumes
   * @param unheld names of the snapshots that have no hold at all ({@code userrefs} 0)
   * @param held names of the snapshots that have at least one hold, of any tag
   * @param placeholder an empty parent the agent created: its own placeholder mark, not inherited
   * @param creation each snapshot's {@code creation} in epoch seconds, by name; only the snapshots
   *     the listing gave one (none when it did not ask)
   */
  public record Dataset(
      String name,
      String guid,
      long createtxg,
      Optional<String> canmount,
      List<Snapshot> snapshots,
      Set<String> unheld,
      Set<String> held,
      boolean placeholder,
      Map<String, Long> creation) {}

  /** Output that does not have the expected shape. */
  /**
   * Quotes what zfs printed: its control characters other than a tab (an escape sequence, a
   * carriage return) are shown as Java escapes, since the message goes to the journal and to
   * terminals as it is.
   */
  public static final class ListingException extends RuntimeException {
    public ListingException(String message) {
      super(
          message
              .chars()
              .mapToObj(
                  c ->
                      c != '\t' && Character.isISOControl(c)
                          ? "\\u%04x".formatted(c)
                          : String.valueOf((char) c))
              .collect(Collectors.joining()));
    }
  }

  private final Map<String, Dataset> datasets;
  private final Map<String, String> resumeTokens;

  private ZfsListing(Map<String, Dataset> datasets, Map<String, String> resumeTokens) {
    this.datasets = datasets;
    this.resumeTokens = resumeTokens;
  }

  /**
   * The {@code receive_resume_token} of {@code dataset}: an interrupted {@code receive -s} left its
   * partial state there. Empty when it has none, or the listing did not ask.
   */
  public Optional<String> resumeToken(String dataset) {
    return Optional.ofNullable(resumeTokens.get(dataset));
  }

  /** Datasets in the order zfs listed them (parents before children). */
  public List<Dataset> datasets() {
    return List.copyOf(datasets.values());
  }

  public Optional<Dataset> dataset(String name) {
    return Optional.ofNullable(datasets.get(name));
  }

  public boolean contains(String name) {
    return datasets.containsKey(name);
  }

  /** {@code root} and every dataset below it, in listing order. */
  public List<String> expand(String root) {
    return datasets.keySet().stream().filter(n -> DatasetName.isWithin(n, root)).toList();
  }

  /**
   * True when the listing says {@code dataset@snapshot} has no hold of any tag, so nothing stops
   * its destruction. False when it has one, or when the listing did not say.
   */
  public boolean unheld(String dataset, String snapshot) {
    Dataset d = datasets.get(dataset);
    return d != null && d.unheld().contains(snapshot);
  }

  /** The snapshots of {@code dataset} with a hold of any tag ({@code userrefs} above 0). */
  public Set<String> held(String dataset) {
    Dataset d = datasets.get(dataset);
    return d == null ? Set.of() : d.held();
  }

  /**
   * The creation time of {@code dataset@snapshot} in epoch seconds; empty when not listed, or the
   * listing did not ask.
   */
  public Optional<Long> creation(String dataset, String snapshot) {
    Dataset d = datasets.get(dataset);
    return d == null ? Optional.empty() : Optional.ofNullable(d.creation().get(snapshot));
  }

  public List<Snapshot> snapshots(String dataset) {
    Dataset d = datasets.get(dataset);
    return d == null ? List.of() : d.snapshots();
  }

  public static ZfsListing parse(String output) {
    Map<String, Builder> builders = new LinkedHashMap<>();
    // Line by line, with no array of every line: a listing may be tens of MB.
    for (int start = 0, i = 0; start < output.length(); i++) {
      int end = output.indexOf('\n', start);
      String line = output.substring(start, end < 0 ? output.length() : end);
      start = end < 0 ? output.length() : end + 1;
      int lineNo = i + 1;
      String[] f = line.split("\t", -1);
      if (f.length != 3) {
        throw malformed(
            lineNo,
            line,
            "expected 3 tab-separated fields (name, property, value), got " + f.length);
      }
      String name = f[0];
      String property = f[1];
      String value = f[2];
      if (name.contains("#")) {
        continue; // a bookmark
      }
      int at = name.indexOf('@');
      String dataset = at < 0 ? name : name.substring(0, at);
      Optional<String> problem = DatasetName.listedProblem(dataset);
      if (problem.isPresent()
          || (at >= 0 && (at == name.length() - 1 || name.indexOf('@', at + 1) >= 0))) {
        throw malformed(
            lineNo, line, "not a dataset or snapshot name: " + problem.orElse("'" + name + "'"));
      }
      Builder b;
      if (at < 0) {
        b = builders.computeIfAbsent(name, Builder::new);
      } else {
        Builder parent = builders.get(dataset);
        if (parent == null) {
          throw malformed(
              lineNo, line, "snapshot listed before (or without) its dataset '" + dataset + "'");
        }
        b = parent.snapshots.computeIfAbsent(name.substring(at + 1), Builder::new);
      }
      switch (property) {
        case "guid" -> b.guid = number(lineNo, line, value, true);
        case "createtxg" -> b.createtxg = Long.parseLong(number(lineNo, line, value, false));
        case "creation" -> b.creation = Long.parseLong(number(lineNo, line, value, false));
        case "canmount" -> {
          if (at < 0 && !value.equals("-")) {
            if (!List.of("on", "off", "noauto").contains(value)) {
              throw malformed(
                  lineNo, line, "canmount is '" + value + "', expected on, off or noauto");
            }
            b.canmount = value;
          }
        }
        case "userrefs" -> {
          if (at >= 0) {
            b.userrefs = Long.parseLong(number(lineNo, line, value, false));
          } else if (!value.equals("-")) {
            throw malformed(lineNo, line, "userrefs on a dataset is '" + value + "', expected '-'");
          }
        }
        case ReceiveRules.PLACEHOLDER_PROPERTY -> {
          if (at < 0) {
            b.placeholder = value.equals(name); // inherited by children: their own name differs
          }
        }
        case ZfsCommands.RESUME_TOKEN -> {
          if (at < 0 && !value.equals("-")) {
            if (!value.matches("[0-9A-Za-z+/=_-]{1,100000}")) {
              throw malformed(lineNo, line, "not a resume token: '" + value + "'");
            }
            b.resumeToken = value;
          }
        }
        default -> throw malformed(lineNo, line, "unexpected property '" + property + "'");
      }
    }
    Map<String, Dataset> result = new LinkedHashMap<>();
    Map<String, String> tokens = new LinkedHashMap<>();
    for (Builder b : builders.values()) {
      if (b.resumeToken != null) {
        tokens.put(b.name, b.resumeToken);
      }
      List<Snapshot> snaps = new ArrayList<>();
      Set<String> unheld = new HashSet<>();
      Set<String> held = new HashSet<>();
      Map<String, Long> creation = new HashMap<>();
      for (Builder s : b.snapshots.values()) {
        snaps.add(new Snapshot(s.name, s.require("guid", s.guid), s.requireTxg()));
        if (s.creation != null) {
          creation.put(s.name, s.creation);
        }
        if (s.userrefs != null && s.userrefs == 0) {
          unheld.add(s.name);
        } else if (s.userrefs != null) {
          held.add(s.name);
        }
      }
      snaps.sort((x, y) -> Long.compare(x.createtxg(), y.createtxg()));
      result.put(
          b.name,
          new Dataset(
              b.name,
              b.require("guid", b.guid),
              b.requireTxg(),
              Optional.ofNullable(b.canmount),
              Collections.unmodifiableList(snaps),
              Collections.unmodifiableSet(unheld),
              Collections.unmodifiableSet(held),
              b.placeholder,
              Collections.unmodifiableMap(creation)));
    }
    return new ZfsListing(Collections.unmodifiableMap(result), Collections.unmodifiableMap(tokens));
  }

  private static String number(int lineNo, String line, String value, boolean unsigned64) {
    if (!value.matches("[0-9]{1,20}")) {
      throw malformed(
          lineNo,
          line,
          "expected a number, got '" + value + "' (is this zfs printing humanized values?)");
    }
    if (!unsigned64) {
      try {
        Long.parseLong(value);
      } catch (NumberFormatException e) {
        throw malformed(lineNo, line, "number out of range: " + value);
      }
    }
    return value;
  }

  private static ListingException malformed(int lineNo, String line, String why) {
    String shown = line.length() > 200 ? line.substring(0, 200) + "..." : line;
    return new ListingException(
        "malformed zfs output at line " + lineNo + " ('" + shown + "'): " + why);
  }

  private static final class Builder {
    final String name;
    String guid;
    Long createtxg;
    Long creation;
    String canmount;
    Long userrefs;
    boolean placeholder;
    String resumeToken;
    final Map<String, Builder> snapshots = new LinkedHashMap<>();

    Builder(String name) {
      this.name = name;
    }

    String require(String what, String value) {
      if (value == null) {
        throw new ListingException("malformed zfs output: no " + what + " for '" + name + "'");
      }
      return value;
    }

    long requireTxg() {
      if (createtxg == null) {
        throw new ListingException("malformed zfs output: no createtxg for '" + name + "'");
      }
      return createtxg;
    }
  }
}
