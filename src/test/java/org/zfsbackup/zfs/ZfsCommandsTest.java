package org.zfsbackup.zfs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.zfsbackup.plan.ReplicationStep;
import org.zfsbackup.plan.Snapshot;

/** Golden argv lists: commands are data. */
class ZfsCommandsTest {
  static final Snapshot A = new Snapshot("a", "1", 1);
  static final Snapshot C = new Snapshot("c", "3", 3);

  @Test
  void list_oneProcessForAllRoots() {
    assertEquals(
        List.of(
            "get",
            "-H",
            "-p",
            "-o",
            "name,property,value",
            "guid,createtxg,canmount,userrefs,org.zfsbackup:placeholder",
            "-r",
            "tank/data",
            "fast/x"),
        ZfsCommands.list(List.of("tank/data", "fast/x")));
  }

  @Test
  void send_fullAndIncremental_neverRecursive() {
    assertEquals(
        List.of("send", "tank/d@a"),
        ZfsCommands.send("tank/d", new ReplicationStep.Full(A), false));
    assertEquals(
        List.of("send", "-I", "tank/d@a", "tank/d@c"),
        ZfsCommands.send("tank/d", new ReplicationStep.Incremental(A, C), false));
    assertEquals(
        List.of("send", "-w", "-I", "tank/d@a", "tank/d@c"),
        ZfsCommands.send("tank/d", new ReplicationStep.Incremental(A, C), true));
    assertEquals(
        List.of("send", "-n", "-P", "-w", "tank/d@a"),
        ZfsCommands.estimate("tank/d", new ReplicationStep.Full(A), true));
  }

  /**
   * Catches: {@code -w} added to a resume (zfs-send(8): {@code send [-PVenv] -t token}), a resumed
   * receive without {@code -s} (a second interruption would lose it), and a token list property
   * asked where it was not wanted.
   */
  @Test
  void resume_sendT_receiveS_abortA_tokensListed() {
    assertEquals(List.of("send", "-t", "1-abc-de"), ZfsCommands.resumeSend("1-abc-de"));
    assertEquals(
        List.of("send", "-n", "-P", "-t", "1-abc-de"), ZfsCommands.resumeEstimate("1-abc-de"));
    assertEquals(
        List.of("receive", "-s", "-u", "pool/x"),
        ZfsCommands.resumeReceive("pool/x", List.of("-u"), false));
    assertEquals(
        List.of("receive", "-s", "-F", "-u", "pool/x"),
        ZfsCommands.resumeReceive("pool/x", List.of("-u"), true));
    assertEquals(List.of("receive", "-A", "pool/x"), ZfsCommands.abortResume("pool/x"));
    assertEquals(
        List.of(
            "get",
            "-H",
            "-p",
            "-o",
            "name,property,value",
            "guid,createtxg,canmount,userrefs,org.zfsbackup:placeholder,receive_resume_token",
            "-r",
            "t"),
        ZfsCommands.list(List.of("t"), true));
  }

  @Test
  void receive_forceOnlyWhenAsked() {
    // Catches a -F that comes back by default: on an incremental it destroys target snapshots.
    assertEquals(
        List.of("receive", "-u", "pool/x"), ZfsCommands.receive("pool/x", List.of("-u"), false));
    assertEquals(List.of("receive", "pool/x"), ZfsCommands.receive("pool/x", List.of(), false));
    assertEquals(
        List.of("receive", "-F", "-u", "pool/x"),
        ZfsCommands.receive("pool/x", List.of("-u"), true));
  }

  @Test
  void listOne_rollback_holds_neverRecursiveDestruction() {
    assertEquals(
        List.of(
            "get",
            "-H",
            "-p",
            "-o",
            "name,property,value",
            "guid,createtxg,canmount,userrefs,org.zfsbackup:placeholder",
            "-d",
            "1",
            "-r",
            "p/x"),
        ZfsCommands.listOne("p/x"));
    assertEquals(List.of("rollback", "p/x@b"), ZfsCommands.rollback("p/x@b"));
    assertEquals(
        List.of("holds", "-H", "p/d@a", "p/e@b"), ZfsCommands.holds(List.of("p/d@a", "p/e@b")));
    assertEquals(
        List.of("release", "t", "p/d@a", "p/e@b"),
        ZfsCommands.release("t", List.of("p/d@a", "p/e@b")));
    assertEquals(
        List.of("inherit", "org.zfsbackup:placeholder", "p/a"),
        ZfsCommands.clearPlaceholder("p/a"));
  }

  @Test
  void parentsHoldsCanmount() {
    assertEquals(
        List.of("create", "-o", "canmount=off", "-o", "org.zfsbackup:placeholder=pool/a", "pool/a"),
        ZfsCommands.createParent("pool/a"));
    assertEquals(List.of("set", "canmount=off", "pool/a"), ZfsCommands.canmountOff("pool/a"));
    assertEquals(List.of("hold", "tag", "p/d@a"), ZfsCommands.hold("tag", List.of("p/d@a")));
    assertEquals(
        List.of("hold", "tag", "p/d@a", "p/e@b"),
        ZfsCommands.hold("tag", List.of("p/d@a", "p/e@b")));
    assertEquals(List.of("release", "tag", "p/d@a"), ZfsCommands.release("tag", List.of("p/d@a")));
  }

  @Test
  void retention_listWithCreation_destroyCommaList() {
    assertEquals(
        List.of(
            "get",
            "-H",
            "-p",
            "-o",
            "name,property,value",
            "guid,createtxg,creation,userrefs",
            "-r",
            "bak"),
        ZfsCommands.listForRetention("bak"));
    assertEquals(
        List.of("destroy", "p/d@a,b,c"), ZfsCommands.destroy("p/d", List.of("a", "b", "c")));
    assertEquals(List.of("destroy", "p/d@a"), ZfsCommands.destroy("p/d", List.of("a")));
  }

  /** Catches: creation lost or misattributed, or humanized dates accepted as times. */
  @Test
  void retentionListing_parsesCreationBesideTheListing() {
    String out =
        "bak/d\tguid\t1\nbak/d\tcreatetxg\t5\nbak/d\tcreation\t1700000000\nbak/d\tuserrefs\t-\n"
            + "bak/d@a\tguid\t2\nbak/d@a\tcreatetxg\t6\nbak/d@a\tcreation\t1767484800\n"
            + "bak/d@a\tuserrefs\t1\n"
            + "bak/d@b\tguid\t3\nbak/d@b\tcreatetxg\t7\nbak/d@b\tcreation\t1767571200\n"
            + "bak/d@b\tuserrefs\t0\n";
    ZfsListing l = ZfsListing.parse(out);
    assertEquals(java.util.Optional.of(1767484800L), l.creation("bak/d", "a"));
    assertEquals(java.util.Optional.of(1767571200L), l.creation("bak/d", "b"));
    assertEquals(java.util.Optional.empty(), l.creation("bak/d", "c"));
    assertEquals(2, l.snapshots("bak/d").size());
    org.junit.jupiter.api.Assertions.assertFalse(l.unheld("bak/d", "a"));
    org.junit.jupiter.api.Assertions.assertTrue(l.unheld("bak/d", "b"));
    ZfsListing.ListingException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            ZfsListing.ListingException.class,
            () -> ZfsListing.parse("bak/d\tcreation\tSun Jan  4 0:00 2026\n"));
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("line 1"), e.getMessage());
  }

  /**
   * Catches: an error in the retention listing reported at a line of some filtered text rather than
   * at the line of zfs's output it is on (creation lines counted, or not).
   */
  @Test
  void retentionListing_malformedValue_reportedAtItsRealLine() {
    String head =
        "bak/d\tguid\t1\nbak/d\tcreatetxg\t5\nbak/d\tcreation\t1700000000\nbak/d\tuserrefs\t-\n"
            + "bak/d@a\tguid\t2\nbak/d@a\tcreation\t1767484800\n";
    String txg =
        org.junit.jupiter.api.Assertions.assertThrows(
                ZfsListing.ListingException.class,
                () -> ZfsListing.parse(head + "bak/d@a\tcreatetxg\t1.5K\n"))
            .getMessage();
    org.junit.jupiter.api.Assertions.assertTrue(
        txg.startsWith("malformed zfs output at line 7 ('bak/d@a\tcreatetxg\t1.5K'): "), txg);
    String creation =
        org.junit.jupiter.api.Assertions.assertThrows(
                ZfsListing.ListingException.class,
                () -> ZfsListing.parse(head + "bak/d@a\tcreation\tSun Jan  4 0:00 2026\n"))
            .getMessage();
    org.junit.jupiter.api.Assertions.assertTrue(
        creation.startsWith("malformed zfs output at line 7 (")
            && creation.contains("expected a number, got 'Sun Jan  4 0:00 2026'"),
        creation);
  }

  @Test
  void parseEstimate_openZfsOutput() {
    assertEquals(
        12345, ZfsCommands.parseEstimate("incremental\ta\ttank/d@c\t12345\nsize\t12345\n"));
    assertEquals(-1, ZfsCommands.parseEstimate("invalid option 'n'"));
  }

  @Test
  void datasetName_rules() {
    assertEquals(Optional.empty(), DatasetName.problem("tank/data-1_x.y:z"));
    for (String bad :
        List.of(
            "",
            "/tank",
            "tank/",
            "tank//x",
            "tank/./x",
            "tank@s",
            "1tank",
            "tank/a b",
            "tank/$(x)",
            "tank;rm")) {
      assertEquals(true, DatasetName.problem(bad).isPresent(), bad);
    }
  }
}
