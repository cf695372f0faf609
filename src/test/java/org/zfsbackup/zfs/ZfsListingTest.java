package org.zfsbackup.zfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.zfsbackup.plan.Snapshot;

class ZfsListingTest {
  // As printed by zfs-fuse 0.7 for `zfs get -H -p -o name,property,value
  // guid,createtxg,canmount,userrefs -r tank`.
  static final String OUTPUT =
      """
      tank\tguid\t16675999208754403542
      tank\tcreatetxg\t1
      tank\tcanmount\ton
      tank\tuserrefs\t-
      tank/data\tguid\t14905369630165237717
      tank/data\tcreatetxg\t8
      tank/data\tcanmount\toff
      tank/data@zz\tguid\t111
      tank/data@zz\tcreatetxg\t13
      tank/data@zz\tcanmount\t-
      tank/data@zz\tuserrefs\t0
      tank/data@aa\tguid\t222
      tank/data@aa\tcreatetxg\t21
      tank/data@aa\tcanmount\t-
      tank/data@aa\tuserrefs\t2
      tank/data#bm\tguid\t333
      tank/data#bm\tcreatetxg\t21
      tank/vol\tguid\t444
      tank/vol\tcreatetxg\t30
      """;

  @Test
  void parse_realOutput_datasetsAndSnapshotsInTxgOrder() {
    ZfsListing l = ZfsListing.parse(OUTPUT);
    assertEquals(
        List.of("tank", "tank/data", "tank/vol"),
        l.datasets().stream().map(ZfsListing.Dataset::name).toList());
    assertEquals(
        List.of(new Snapshot("zz", "111", 13), new Snapshot("aa", "222", 21)),
        l.snapshots("tank/data"));
    assertEquals(Optional.of("off"), l.dataset("tank/data").get().canmount());
    assertEquals(Optional.empty(), l.dataset("tank/vol").get().canmount());
    assertEquals("16675999208754403542", l.dataset("tank").get().guid());
    assertEquals(List.of("tank/data"), l.expand("tank/data"));
    assertEquals(List.of(), l.snapshots("tank/nope"));
    assertTrue(l.unheld("tank/data", "zz"), "userrefs 0: nothing stops its destruction");
    assertFalse(l.unheld("tank/data", "aa"), "userrefs 2: held");
    assertFalse(l.unheld("tank/nope", "zz"));
  }

  /**
   * A malformed line is quoted in the log and on MQTT, and so is the field at fault: their escape
   * sequences are not replayed.
   */
  @Test
  void parse_malformedLineWithControlCharacters_quotesThemEscaped() {
    for (String bad : List.of("\u001b[31mred\r\tx", "t\t\u001b[31mevil\tv")) {
      String m =
          assertThrows(
                  ZfsListing.ListingException.class,
                  () -> ZfsListing.parse("t\tguid\t1\n" + bad + "\n"))
              .getMessage();

      assertTrue(m.contains("\\u001b[31m"), m);
      assertFalse(m.contains("\u001b") || m.contains("\r"), m);
    }
  }

  /**
   * Catches a child that inherits the mark being taken for a placeholder (and replaced with -F).
   */
  @Test
  void placeholder_onlyItsOwnMark_notTheInheritedOne() {
    ZfsListing l =
        ZfsListing.parse(
            String.join(
                "\n",
                "b/p\tguid\t1",
                "b/p\tcreatetxg\t1",
                "b/p\torg.zfsbackup:placeholder\tb/p",
                "b/p/c\tguid\t2",
                "b/p/c\tcreatetxg\t2",
                "b/p/c\torg.zfsbackup:placeholder\tb/p",
                "b/p/c@s\tguid\t3",
                "b/p/c@s\tcreatetxg\t3",
                "b/p/c@s\torg.zfsbackup:placeholder\tb/p",
                "b/p/c@s\tuserrefs\t1",
                "b/q\tguid\t4",
                "b/q\tcreatetxg\t4",
                "b/q\torg.zfsbackup:placeholder\t-",
                ""));
    assertTrue(l.dataset("b/p").orElseThrow().placeholder());
    assertFalse(l.dataset("b/p/c").orElseThrow().placeholder(), "inherited from b/p");
    assertFalse(l.dataset("b/q").orElseThrow().placeholder());
    assertEquals(java.util.Set.of("s"), l.held("b/p/c"));
  }

  /**
   * Catches: a token not read (never resumed), "-" taken for a token (a resume of nothing), a
   * snapshot's "-" refused, and junk in the property accepted.
   */
  @Test
  void resumeToken_datasetsOnly_dashIsNone_junkRefused() {
    String out =
        "t\tguid\t1\nt\tcreatetxg\t1\nt\treceive_resume_token\t1-e604ea4bf-e0-789c63a2+/=\n"
            + "t/c\tguid\t2\nt/c\tcreatetxg\t2\nt/c\treceive_resume_token\t-\n"
            + "t/c@a\tguid\t3\nt/c@a\tcreatetxg\t3\nt/c@a\treceive_resume_token\t-\n";
    ZfsListing l = ZfsListing.parse(out);
    assertEquals(Optional.of("1-e604ea4bf-e0-789c63a2+/="), l.resumeToken("t"));
    assertEquals(Optional.empty(), l.resumeToken("t/c"));
    assertEquals(Optional.empty(), l.resumeToken("nope"));
    ZfsListing.ListingException e =
        assertThrows(
            ZfsListing.ListingException.class,
            () ->
                ZfsListing.parse(
                    "t\tguid\t1\nt\tcreatetxg\t1\nt\treceive_resume_token\tno token here\n"));
    assertTrue(
        e.getMessage().contains("line 3") && e.getMessage().contains("not a resume token"),
        e.getMessage());
  }

  @Test
  void unheld_listingWithoutUserrefs_isNeverUnheld() {
    ZfsListing l =
        ZfsListing.parse("t\tguid\t1\nt\tcreatetxg\t1\nt@a\tguid\t2\nt@a\tcreatetxg\t2\n");
    assertFalse(l.unheld("t", "a"), "not listed is not known to be unheld");
  }

  @Test
  void parse_childWithSpacesInItsNames_listedLikeAnyOther() {
    // ZFS allows spaces; the config refuses them (DatasetName.problem), but a child found below a
    // configured dataset must not make the whole host's listing fail.
    ZfsListing l =
        ZfsListing.parse(
            "t\tguid\t1\nt\tcreatetxg\t1\nt/my data\tguid\t2\nt/my data\tcreatetxg\t2\n"
                + "t/my data@snap 1\tguid\t3\nt/my data@snap 1\tcreatetxg\t3\n");
    assertEquals(List.of("t", "t/my data"), l.expand("t"));
    assertEquals(List.of(new Snapshot("snap 1", "3", 3)), l.snapshots("t/my data"));
    assertTrue(
        DatasetName.problem("t/my data").isPresent(), "still refused where an operator writes it");
    assertTrue(error("t\tguid\t1\nt/a\tb\tguid\t2\n").contains("expected 3 tab-separated fields"));
  }

  @Test
  void parse_badUserrefs_error() {
    assertTrue(
        error("t\tguid\t1\nt\tcreatetxg\t1\nt@a\tguid\t2\nt@a\tuserrefs\t-\n")
            .contains("expected a number, got '-'"));
    assertTrue(error("t\tguid\t1\nt\tuserrefs\t3\n").contains("userrefs on a dataset is '3'"));
  }

  @Test
  void parse_emptyOutput_noDatasets() {
    assertTrue(ZfsListing.parse("").datasets().isEmpty());
  }

  @Test
  void expand_doesNotMatchSiblingsWithTheSamePrefix() {
    ZfsListing l =
        ZfsListing.parse(
            "t\tguid\t1\nt\tcreatetxg\t1\nt/a\tguid\t2\nt/a\tcreatetxg\t2\nt/ab\tguid\t3\nt/ab\tcreatetxg\t3\n");
    assertEquals(List.of("t/a"), l.expand("t/a"));
  }

  private static String error(String output) {
    return assertThrows(ZfsListing.ListingException.class, () -> ZfsListing.parse(output))
        .getMessage();
  }

  @Test
  void parse_wrongFieldCount_errorNamesTheLine() {
    String msg = error("tank\tguid\t1\ntank createtxg 1\n");
    assertTrue(msg.contains("line 2") && msg.contains("tank createtxg 1"), msg);
  }

  @Test
  void parse_humanizedNumber_error() {
    String msg = error("tank\tguid\t1\ntank\tcreatetxg\t1.5K\n");
    assertTrue(msg.contains("line 2") && msg.contains("1.5K"), msg);
  }

  @Test
  void parse_snapshotWithoutItsDataset_error() {
    assertTrue(error("tank@a\tguid\t1\n").contains("line 1"));
  }

  @Test
  void parse_missingGuid_error() {
    assertTrue(error("tank\tcreatetxg\t1\n").contains("no guid for 'tank'"));
  }

  @Test
  void parse_unexpectedProperty_error() {
    assertTrue(error("tank\tused\t1\n").contains("unexpected property 'used'"));
  }

  @Test
  void parse_invalidName_error() {
    assertTrue(error("tank/\tguid\t1\n").contains("line 1"));
    assertTrue(error("ta*nk\tguid\t1\n").contains("line 1"));
  }

  @Test
  void parse_badCanmount_error() {
    assertTrue(error("tank\tguid\t1\ntank\tcanmount\tmaybe\n").contains("canmount"));
  }
}
