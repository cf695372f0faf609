package org.zfsbackup.cycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.zfsbackup.Main;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.cycle.CycleReport.Outcome;
import org.zfsbackup.event.CycleEvent;
import org.zfsbackup.exec.PipeResult;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.testing.TestConfigs;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CycleLockTest {
  @TempDir Path dir;

  /** Fails the test if the cycle runs anything: a locked-out cycle must not even list. */
  static final class NothingRuns implements ProcessRunner {
    final List<List<String>> calls = Collections.synchronizedList(new ArrayList<>());

    @Override
    public ProcessResult run(List<String> argv, Duration timeout) {
      calls.add(argv);
      return new ProcessResult(argv, 1, "", "not expected", false, false);
    }

    @Override
    public PipeResult pipe(List<String> send, List<String> receive, ByteProgress p, Duration stall, KillSwitch k) {
      calls.add(send);
      throw new AssertionError("no stream expected");
    }
  }

  AgentConfig config() {
    AgentConfig c = TestConfigs.config(List.of("ssh"), "bak/t", List.of(TestConfigs.localSource("h", "src/data")), Optional.empty());
    return new AgentConfig(c.mqtt(), c.commands(), c.pull(), c.push(), c.power(), c.replication(), dir.resolve("state/state.json"), c.logLevel());
  }

  @Test
  void tryAcquire_heldInThisProcess_busyUntilClosed() {
    Path file = dir.resolve("a/state.json.lock");
    CycleLock.Attempt first = CycleLock.tryAcquire(file);
    CycleLock lock = assertInstanceOf(CycleLock.Acquired.class, first).lock();
    assertTrue(Files.exists(file), "the directory and the file are created");
    assertInstanceOf(CycleLock.Busy.class, CycleLock.tryAcquire(file));
    lock.close();
    try (CycleLock again = assertInstanceOf(CycleLock.Acquired.class, CycleLock.tryAcquire(file)).lock()) {
      assertEquals(file, CycleLock.fileFor(dir.resolve("a/state.json")));
    }
  }

  @Test
  void tryAcquire_directoryIsAFile_unavailableWithTheReason() throws Exception {
    Files.writeString(dir.resolve("not-a-dir"), "x");
    CycleLock.Unavailable u = assertInstanceOf(CycleLock.Unavailable.class, CycleLock.tryAcquire(dir.resolve("not-a-dir/state.json.lock")));
    assertTrue(u.why().contains("not-a-dir"), u.why());
  }

  @Test
  void run_whileAnotherProcessHoldsTheLock_failsAtOnceTouchingNothing() throws Exception {
    AgentConfig config = config();
    Path lockFile = CycleLock.fileFor(config.stateFile());
    Files.createDirectories(lockFile.getParent());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process holder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), LockHolder.class.getName(), lockFile.toString())
        .redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("locked", out.readLine());

      NothingRuns runner = new NothingRuns();
      List<CycleEvent> events = Collections.synchronizedList(new ArrayList<>());
      CycleReport r = new BackupCycle(config, runner, Clock.systemUTC())
          .run(new CycleRequest("c1", null, Set.of(), false), events::add, new CycleControl());
      assertEquals(Outcome.FAILED, r.outcome());
      assertTrue(runner.calls.isEmpty(), "nothing ran: " + runner.calls);
      CycleEvent.Error e = events.stream().filter(x -> x instanceof CycleEvent.Error).map(x -> (CycleEvent.Error) x).findFirst().orElseThrow();
      assertEquals("cycle_locked", e.kind().wire());
      assertTrue(e.message().contains(lockFile.toString()), e.message());

      // The CLI: exit 1, and the reason even with --quiet.
      ByteArrayOutputStream so = new ByteArrayOutputStream();
      ByteArrayOutputStream se = new ByteArrayOutputStream();
      int code = Main.exitCode(CliCycle.run(new BackupCycle(config, runner, Clock.systemUTC()), false, true,
          new PrintStream(so, true, StandardCharsets.UTF_8), new PrintStream(se, true, StandardCharsets.UTF_8)));
      assertEquals(1, code);
      assertTrue(se.toString(StandardCharsets.UTF_8).contains("error: another backup cycle is running"), se.toString(StandardCharsets.UTF_8));

      // A dry run changes nothing: it does not wait for, or take, the lock.
      CycleReport dry = new BackupCycle(config, runner, Clock.systemUTC())
          .run(new CycleRequest("c2", null, Set.of(), true), e2 -> {}, new CycleControl());
      assertTrue(runner.calls.size() > 0, "the dry run listed");
      assertTrue(dry.datasets().size() > 0);
    } finally {
      holder.getOutputStream().close();
      holder.waitFor(10, TimeUnit.SECONDS);
      holder.destroyForcibly();
    }
    // Released when the holder is gone: the next cycle runs (and fails on the fake runner, not the lock).
    CycleReport after = new BackupCycle(config, new NothingRuns(), Clock.systemUTC())
        .run(new CycleRequest("c3", null, Set.of(), false), e -> {}, new CycleControl());
    assertTrue(after.datasets().size() > 0, "ran past the lock: " + after);
  }
}
