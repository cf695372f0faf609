package org.zfsbackup.zfs;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Parses {@link ZfsCommands#listForRetention}: a {@link ZfsListing} (guid, createtxg, userrefs),
 * plus each snapshot's {@code creation} in epoch seconds. Malformed output is a {@link
 * ZfsListing.ListingException} naming the line, as for the replication listing.
 */
public final class RetentionListing {
  private final ZfsListing listing;
  private final Map<String, Long> creation;

  private RetentionListing(ZfsListing listing, Map<String, Long> creation) {
    this.listing = listing;
    this.creation = creation;
  }

  public ZfsListing listing() {
    return listing;
  }

  /** The creation time of {@code dataset@snapshot} in epoch seconds; empty when not listed. */
  public Optional<Long> creation(String dataset, String snapshot) {
    return Optional.ofNullable(creation.get(dataset + "@" + snapshot));
  }

  public static RetentionListing parse(String output) {
    Map<String, Long> creation = new HashMap<>();
    String[] lines = output.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String[] f = lines[i].split("\t", -1);
      if (f.length == 3 && f[1].equals("creation")) {
        if (!f[2].matches("[0-9]{1,18}")) {
          throw new ZfsListing.ListingException(
              "malformed zfs output at line "
                  + (i + 1)
                  + ": creation is '"
                  + f[2]
                  + "', expected epoch seconds (is this zfs printing humanized values?)");
        }
        if (f[0].contains("@")) {
          creation.put(f[0], Long.parseLong(f[2]));
        }
        lines[i] = null;
      }
    }
    String rest =
        java.util.Arrays.stream(lines)
            .filter(java.util.Objects::nonNull)
            .collect(Collectors.joining("\n"));
    return new RetentionListing(ZfsListing.parse(rest), Map.copyOf(creation));
  }

  /** For tests and callers that have no listing: nothing listed. */
  public static RetentionListing empty() {
    return new RetentionListing(ZfsListing.parse(""), Map.of());
  }
}
