package org.zfsbackup.cycle;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.zfsbackup.zfs.DatasetName;
import org.zfsbackup.zfs.ZfsListing;

/** Which datasets a transfer handles, in which order. Pure: names and a listing in, names out. */
final class Datasets {
  private Datasets() {}

  /**
   * The configured roots a run lists: all of them, or those a limited run touches.
   *
   * @param only the roots a limited run is limited to; null when it is not limited
   */
  static List<String> listed(List<String> roots, Set<String> only) {
    return roots.stream() // a dataset configured twice is one (CONTRACT: duplicates are removed)
        .distinct()
        .filter(r -> only == null || only.stream().anyMatch(o -> DatasetName.overlap(o, r)))
        .toList();
  }

  /**
   * What a result names for {@code roots} when nothing was listed (a stop before the listing, a
   * listing that failed): each root, or in a limited run the entries of {@code only} within it (a
   * limited push's root is the whole backup tree, of which it would push only those).
   */
  static List<String> named(List<String> roots, Set<String> only) {
    if (only == null) {
      return roots;
    }
    List<String> named = new ArrayList<>();
    for (String root : roots) {
      List<String> inside =
          only.stream().filter(o -> DatasetName.isWithin(o, root)).sorted().toList();
      for (String d : inside.isEmpty() ? List.of(root) : inside) {
        if (!named.contains(d)) {
          named.add(d);
        }
      }
    }
    return named;
  }

  /** The datasets to replicate, parents first ({@link #order}), within a limited run's roots. */
  static List<String> selected(List<String> roots, Set<String> only, ZfsListing listing) {
    List<String> all = order(roots, listing);
    return only == null ? all : all.stream().filter(d -> within(d, only)).toList();
  }

  /** True when {@code dataset} is one of {@code roots} or below one of them. */
  static boolean within(String dataset, Collection<String> roots) {
    return roots.stream().anyMatch(r -> DatasetName.isWithin(dataset, r));
  }

  /**
   * The roots grouped into independent trees, in first-seen order: a root within another one (or
   * containing one) goes with it, so that no dataset is in two groups and parents still come before
   * their children. Trees share nothing and may be replicated side by side.
   */
  static List<List<String>> trees(List<String> roots) {
    List<List<String>> trees = new ArrayList<>();
    for (String root : roots) {
      List<List<String>> touching =
          trees.stream()
              .filter(t -> t.stream().anyMatch(r -> DatasetName.overlap(r, root)))
              .toList();
      List<String> merged = new ArrayList<>();
      touching.forEach(merged::addAll);
      merged.add(root);
      if (touching.isEmpty()) {
        trees.add(merged);
      } else {
        int at = trees.indexOf(touching.get(0));
        trees.removeAll(touching);
        trees.add(at, merged);
      }
    }
    return trees;
  }

  /**
   * Expands each root to itself and its children, removes duplicates keeping first-seen order, and
   * puts every dataset after its parent (when the parent is replicated too).
   */
  static List<String> order(List<String> roots, ZfsListing listing) {
    Set<String> seen = new LinkedHashSet<>();
    for (String root : roots) {
      seen.addAll(listing.expand(root));
    }
    Set<String> ordered = new LinkedHashSet<>();
    for (String d : seen) {
      addWithParents(d, seen, ordered);
    }
    return List.copyOf(ordered);
  }

  private static void addWithParents(String d, Set<String> all, Set<String> ordered) {
    if (ordered.contains(d)) {
      return;
    }
    DatasetName.parent(d).filter(all::contains).ifPresent(p -> addWithParents(p, all, ordered));
    ordered.add(d);
  }
}
