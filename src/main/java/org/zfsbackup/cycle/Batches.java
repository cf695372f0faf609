package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.List;

/**
 * Snapshots per zfs call ({@code hold}, {@code release}, {@code holds}, {@code destroy}): well
 * under any command-line limit, ssh's included.
 */
final class Batches {
  static final int SIZE = 100;

  private Batches() {}

  /** {@code all} in consecutive batches of at most {@link #SIZE}, in order. */
  static <T> List<List<T>> of(List<T> all) {
    List<List<T>> batches = new ArrayList<>();
    for (int i = 0; i < all.size(); i += SIZE) {
      batches.add(all.subList(i, Math.min(all.size(), i + SIZE)));
    }
    return batches;
  }
}
