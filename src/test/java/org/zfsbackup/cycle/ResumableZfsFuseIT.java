package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.testing.TestConfigs;
import org.zfsbackup.testing.ZfsPools;

/**
 * zfs-fuse has no resumable receives ({@code receive -s}, the {@code receive_resume_token}
 * property): with {@code replication.resumable: true} (the default) the agent detects that from the
 * target's listing and receives without {@code -s}, with one log line, not an error.
 *
 * <p>Catches: {@code -s} passed to zfs-fuse ("invalid option 's'": every receive fails), a listing
 * that fails on the unknown property (the whole phase fails), and the detection logged per dataset
 * or not at all.
 */
class ResumableZfsFuseIT {
  ZfsPools pools;
  ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);

  @BeforeEach
  void setUp() {
    pools = new ZfsPools();
    logs.start();
    root.addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    root.detachAppender(logs);
    if (pools != null) {
      pools.close();
    }
  }

  @Test
  void zfsFuse_resumableDetectedOff_oneLogLine_receivesWithoutDashS() {
    String src = pools.create("zrsrc");
    String bak = pools.create("zrbak");
    ZfsPools.dataset(src + "/one");
    ZfsPools.dataset(src + "/two");
    pools.snapshotWithData(src + "/one", "a", 10_000);
    pools.snapshotWithData(src + "/two", "a", 10_000);
    AgentConfig config =
        TestConfigs.config(
            List.of("ssh"),
            bak,
            List.of(TestConfigs.localSource("h", src + "/one", src + "/two")),
            Optional.empty());
    assertTrue(config.replication().resumable(), "the default setting");
    RecordingRunner recording = new RecordingRunner(new RealProcessRunner(List.of("pv")));
    CycleReport r =
        new BackupCycle(config, recording, Clock.systemUTC())
            .run(new CycleRequest("fuse", null, Set.of(), false), e -> {}, new CycleControl());
    List<List<String>> receives = recording.receives();
    assertEquals(Outcome.SUCCESS, r.outcome(), r.toString());
    assertEquals(2, receives.size(), receives.toString());
    assertTrue(
        receives.stream().noneMatch(a -> a.contains("-s")), "no -s on zfs-fuse: " + receives);
    List<String> lines;
    synchronized (logs) {
      lines =
          logs.list.stream()
              .map(ILoggingEvent::getFormattedMessage)
              .filter(m -> m.contains("no resumable receives"))
              .toList();
    }
    assertEquals(1, lines.size(), "one log line for the side: " + lines);
    assertTrue(lines.get(0).contains("receiving there without -s"), lines.get(0));
  }
}
