package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;

class HoldsTest {
  static final List<String> BATCH = List.of("t/a@s1", "t/b@s1", "t/c@s1");

  @Test
  void notHeld_zfsNamesTheFailures_onlyThoseAreReported() {
    String stderr = "cannot hold snapshot 't/b@s1': dataset is busy\n";
    assertEquals(List.of("t/b@s1"), Holds.notHeld(BATCH, stderr));
  }

  @Test
  void notHeld_zfsNamesNone_theWholeBatchIsReported() {
    assertEquals(BATCH, Holds.notHeld(BATCH, "ssh: connect to host h: Connection refused"));
  }

  @Test
  void notHeld_heldMeanwhile_isWhatWeWanted() {
    String stderr =
        "cannot hold snapshot 't/a@s1': tag already exists on this dataset\n"
            + "cannot hold snapshot 't/c@s1': out of space\n";
    assertEquals(List.of("t/c@s1"), Holds.notHeld(BATCH, stderr));
  }

  @Test
  void notReleased_releasedMeanwhile_isWhatWeWanted() {
    String stderr =
        "cannot release hold from snapshot 't/a@s1': no such tag on this dataset\n"
            + "cannot release hold from snapshot 't/b@s1': dataset is busy\n";
    assertEquals(List.of("t/b@s1"), Holds.notReleased(BATCH, stderr));
    assertEquals(BATCH, Holds.notReleased(BATCH, "Connection closed by 127.0.0.1"));
  }

  static final Snapshot A = new Snapshot("a", "1", 1);
  static final Snapshot B = new Snapshot("b", "2", 2);
  static final Snapshot C = new Snapshot("c", "3", 3);

  @Test
  void moveAfter_fullThenIncremental_holdsTheLast_releasesNothing() {
    // The first cycle: @a was never held by us, so nothing is released.
    var m =
        Holds.Move.after(
            "t/d", List.of(new ReplicationStep.Full(A), new ReplicationStep.Incremental(A, C)));
    assertEquals(new Holds.Move("t/d", "t/d@c", null), m);
  }

  @Test
  void moveAfter_incrementals_releasesTheBaseTheCycleStartedFrom() {
    var m =
        Holds.Move.after(
            "t/d",
            List.of(new ReplicationStep.Incremental(A, B), new ReplicationStep.Incremental(B, C)));
    assertEquals(new Holds.Move("t/d", "t/d@c", "t/d@a"), m);
    assertNull(Holds.Move.after("t/d", List.of()), "nothing went through: nothing moves");
  }
}
