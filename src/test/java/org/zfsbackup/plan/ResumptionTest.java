package org.zfsbackup.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The resume / abort / plan decision as a table. Catches: a token ignored (the next receive is
 * refused for ever), a token resumed though resumable receives are off (zfs-fuse has no send -t), a
 * stale token kept (retried and refused every cycle), and a good token thrown away on a mere stall
 * or lost connection (a multi-terabyte stream starts over).
 */
class ResumptionTest {

  @ParameterizedTest(name = "token {0}, resumable {1} -> {2}")
  @CsvSource({
    "'',        true,  PLAN",
    "'',        false, PLAN",
    "1-abc-de,  true,  RESUME",
    "1-abc-de,  false, ABORT_THEN_PLAN",
  })
  void first(String token, boolean resumable, Resumption.First expected) {
    Optional<String> t = token.isEmpty() ? Optional.empty() : Optional.of(token);
    assertEquals(expected, Resumption.first(t, resumable));
  }

  @ParameterizedTest(name = "{3}")
  @CsvSource(
      delimiter = '|',
      value = {
        "false | cannot resume send: 'tank/a@s1' used in the initial send no longer exists | | ABORT_THEN_PLAN",
        "false | cannot resume send: 'tank/a@s1' is no longer the same snapshot used in the initial send | | ABORT_THEN_PLAN",
        "false | cannot resume send: resume token is corrupt (incorrect checksum) | | ABORT_THEN_PLAN",
        "false | | cannot receive resume stream: kernel modules must be upgraded to receive this stream. | ABORT_THEN_PLAN",
        "true  | cannot resume send: 'tank/a@s1' used in the initial send no longer exists | | KEEP",
        "true  | | | KEEP",
        "false | invalid option 't' | | ABORT_THEN_PLAN",
        "false | ssh: connect to host h port 22: Connection refused | | KEEP",
        "false | | cannot receive new filesystem stream: out of space | KEEP",
        // OpenZFS starts every error of a resumed receive with "cannot receive resume stream":
        // a cut stream (the link dropped mid-resume), no space, no key are no refusal of the token.
        "false | client_loop: send disconnect: Broken pipe | cannot receive resume stream: checksum mismatch or incomplete stream. Partially received snapshot is saved. | KEEP",
        "false | | cannot receive resume stream: out of space | KEEP",
        "false | | cannot receive resume stream: inherited key must be loaded | KEEP",
        "false | | cannot receive resume stream: Resuming recv on existing destination 'b/x' must specify -F to overwrite it | ABORT_THEN_PLAN",
      })
  void afterFailure(
      boolean interrupted, String send, String receive, Resumption.AfterFailure expected) {
    assertEquals(
        expected,
        Resumption.afterFailure(
            interrupted, send == null ? "" : send, receive == null ? "" : receive));
  }
}
