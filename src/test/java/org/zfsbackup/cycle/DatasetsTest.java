package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DatasetsTest {
  /**
   * A dataset configured twice in one source is listed, and named in a failed listing's results,
   * once (CONTRACT: duplicates are removed). Catches "4 datasets failed" for three.
   */
  @Test
  void listed_datasetConfiguredTwice_once() {
    List<String> roots = List.of("tank/a", "tank/b", "tank/a");
    assertEquals(List.of("tank/a", "tank/b"), Datasets.listed(roots, null));
    assertEquals(List.of("tank/a", "tank/b"), Datasets.named(Datasets.listed(roots, null), null));
    assertEquals(List.of("tank/a"), Datasets.listed(roots, Set.of("tank/a")));
  }
}
