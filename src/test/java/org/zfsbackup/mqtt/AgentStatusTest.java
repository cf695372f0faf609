package org.zfsbackup.mqtt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.zfsbackup.cycle.CycleRequest;
import org.zfsbackup.mqtt.AgentStatus.Event;
import org.zfsbackup.mqtt.AgentStatus.Stage;
import org.zfsbackup.mqtt.AgentStatus.Transition;

/** The agent's transition table, its diagrams, and what each transition carries along. */
class AgentStatusTest {
  static final Instant T0 = Instant.parse("2026-11-27T02:00:00Z");
  static final Instant T1 = T0.plusSeconds(60);
  static final Instant T2 = T0.plusSeconds(120);
  static final Pattern EDGE = Pattern.compile("((?:[a-z_]+ / )*[a-z_]+) --([a-z ,]+)--> ([a-z_]+)");

  static AgentCycle cycle(boolean thenSuspend) {
    return new AgentCycle(new CycleRequest("c1", "r1", Set.of(), false), T0, thenSuspend);
  }

  // ------------------------------------------------------------------ diagrams

  @Test
  void diagram_onTheStateType_isTheTransitionTable() throws IOException {
    String source = Files.readString(Path.of("src/main/java/org/zfsbackup/mqtt/AgentStatus.java"));
    String pre =
        between(source, "<pre>", "</pre>").replace("&gt;", ">").replaceAll("(?m)^\\s*\\*", "");
    assertEquals(table(), edges(pre));
  }

  @Test
  void diagram_inDocsMqtt_isTheTransitionTable() throws IOException {
    String doc = Files.readString(Path.of("docs/mqtt.md"));
    String section = doc.substring(doc.indexOf("## States and what each command does"));
    assertEquals(table(), edges(between(section, "```", "```")));
  }

  @Test
  void edges_parsesChainsAndSeveralSources() {
    assertEquals(
        Set.of("a --x--> b", "b --y, z--> c", "d --w--> c", "e --w--> c"),
        edges("  a --x--> b --y, z--> c\n  d / e --w--> c\n  not an edge -> f\n"));
  }

  static Set<String> table() {
    Set<String> out = new TreeSet<>();
    for (Transition t : AgentStatus.TRANSITIONS) {
      // A stage as in the diagram: idle, powering_down, ...
      out.add(
          t.from().name().toLowerCase(Locale.ROOT)
              + " --"
              + t.event().label
              + "--> "
              + t.to().name().toLowerCase(Locale.ROOT));
    }
    return out;
  }

  /** Every {@code from --label--> to} in {@code text}; chains and {@code a / b} sources expand. */
  static Set<String> edges(String text) {
    Set<String> out = new TreeSet<>();
    for (String line : text.split("\n")) {
      Matcher m = EDGE.matcher(line);
      int from = 0;
      while (m.find(from)) {
        for (String source : m.group(1).split(" / ")) {
          out.add(source + " --" + m.group(2) + "--> " + m.group(3));
        }
        from = m.start(3);
      }
    }
    return out;
  }

  static String between(String text, String open, String close) {
    int start = text.indexOf(open) + open.length();
    return text.substring(start, text.indexOf(close, start));
  }

  // ------------------------------------------------------------------ the table

  @Test
  void transitions_oneTargetPerStageAndEvent() {
    Set<String> keys = new TreeSet<>();
    for (Transition t : AgentStatus.TRANSITIONS) {
      assertTrue(keys.add(t.from() + " " + t.event()), "twice: " + t);
    }
  }

  @Test
  void transitions_everyStageIsReachableFromIdleAndCanShutDown() {
    Set<Stage> reached = EnumSet.of(Stage.IDLE);
    Deque<Stage> todo = new ArrayDeque<>(reached);
    while (!todo.isEmpty()) {
      Stage s = todo.pop();
      for (Event e : Event.values()) {
        AgentStatus.target(s, e).filter(reached::add).ifPresent(todo::push);
      }
    }
    assertEquals(EnumSet.allOf(Stage.class), reached);
    for (Stage s : Stage.values()) {
      if (s != Stage.STOPPING) {
        assertEquals(Stage.STOPPING, AgentStatus.target(s, Event.SHUTDOWN).orElseThrow(), s.name());
      }
    }
  }

  @Test
  void after_eventTheTableDoesNotAllow_throws() {
    AgentStatus idle = AgentStatus.initial(T0);
    assertThrows(IllegalStateException.class, () -> idle.after(Event.CANCEL, null, 1, T1));
    assertThrows(IllegalStateException.class, () -> idle.after(Event.CYCLE_ENDS, null, 1, T1));
    AgentStatus running = idle.after(Event.RUN, cycle(false), 1, T1);
    assertThrows(IllegalStateException.class, () -> running.after(Event.RUN, cycle(false), 1, T2));
    AgentStatus stopping = running.after(Event.SHUTDOWN, null, 1, T2);
    assertThrows(IllegalStateException.class, () -> stopping.after(Event.SHUTDOWN, null, 1, T2));
    assertThrows(IllegalStateException.class, () -> stopping.after(Event.RUN, cycle(false), 1, T2));
  }

  // ------------------------------------------------------------------ what transitions carry

  @Test
  void after_runThenCancelThenCycleEnds_carriesTheCycleUntilItEnds() {
    AgentCycle c = cycle(false);
    AgentStatus running = AgentStatus.initial(T0).after(Event.RUN, c, 1, T1);
    assertEquals(Stage.RUNNING, running.stage());
    assertEquals(AgentState.RUNNING, running.wire());
    assertSame(c, running.cycle());
    assertEquals(T1, running.since());
    AgentStatus cancelling = running.after(Event.CANCEL, null, 1, T2);
    assertSame(c, cancelling.cycle());
    assertEquals(AgentState.CANCELLING, cancelling.wire());
    assertEquals(Event.CYCLE_ENDS, cancelling.cycleEnds());
    AgentStatus idle = cancelling.after(cancelling.cycleEnds(), null, 1, T2);
    assertEquals(Stage.IDLE, idle.stage());
    assertNull(idle.cycle());
  }

  @Test
  void cycleEnds_thenSuspend_powersDownFromRunningAndCancelling() {
    AgentStatus running = AgentStatus.initial(T0).after(Event.RUN, cycle(true), 1, T1);
    assertEquals(Event.CYCLE_ENDS_THEN_SUSPEND, running.cycleEnds());
    assertEquals(Stage.AWAITING_LOCK, running.after(running.cycleEnds(), null, 1, T2).stage());
    AgentStatus cancelling = running.after(Event.CANCEL, null, 1, T1);
    assertEquals(
        Stage.AWAITING_LOCK, cancelling.after(cancelling.cycleEnds(), null, 1, T2).stage());
    AgentStatus plain = AgentStatus.initial(T0).after(Event.RUN, cycle(false), 1, T1);
    assertEquals(Stage.IDLE, plain.after(plain.cycleEnds(), null, 1, T2).stage());
  }

  @Test
  void after_suspendWhileRunning_waitsForTheCycleThenPowersDownShowingSuspending() {
    AgentCycle c = cycle(false);
    AgentStatus suspending =
        AgentStatus.initial(T0).after(Event.RUN, c, 1, T0).after(Event.SUSPEND, null, 1, T1);
    assertEquals(Stage.SUSPENDING, suspending.stage());
    assertSame(c, suspending.cycle());
    AgentStatus awaitingLock = suspending.after(suspending.cycleEnds(), null, 1, T2);
    assertEquals(Stage.AWAITING_LOCK, awaitingLock.stage());
    assertEquals(AgentState.SUSPENDING, awaitingLock.wire());
    assertNull(awaitingLock.cycle());
    assertEquals(T2, awaitingLock.since(), "the power-down is a new state on T/state");
    AgentStatus poweringDown = awaitingLock.after(Event.LOCK_TAKEN, null, 1, T2.plusSeconds(5));
    assertEquals(Stage.POWERING_DOWN, poweringDown.stage());
    assertEquals(AgentState.SUSPENDING, poweringDown.wire());
    assertEquals(T2, poweringDown.since(), "taking the lock changes nothing T/state shows");
  }

  @Test
  void after_powerReturns_onlyLaterConnectionsAreLiveFromThenOn() {
    AgentStatus idle = AgentStatus.initial(T0);
    assertEquals(0, idle.firstLiveConnection());
    AgentStatus back =
        idle.after(Event.SUSPEND, null, 3, T1)
            .after(Event.LOCK_TAKEN, null, 3, T1)
            .after(Event.POWER_RETURNS, null, 3, T2);
    assertEquals(Stage.IDLE, back.stage());
    assertEquals(4, back.firstLiveConnection());
    AgentStatus running = back.after(Event.RUN, cycle(false), 4, T2);
    assertEquals(4, running.after(Event.CANCEL, null, 4, T2).firstLiveConnection());
  }

  /** Catches: a power-down that gives up on the lock and is left with no way back to idle. */
  @Test
  void after_lockStillHeld_isIdleAgainWithNoCycle() {
    AgentStatus waiting = AgentStatus.initial(T0).after(Event.SUSPEND, null, 1, T1);
    assertEquals(Stage.AWAITING_LOCK, waiting.stage());
    AgentStatus idle = waiting.after(Event.LOCK_STILL_HELD, null, 1, T2);
    assertEquals(Stage.IDLE, idle.stage());
    assertEquals(T2, idle.since());
    assertEquals(
        0, idle.firstLiveConnection(), "no power-down happened: the connection stays live");
  }

  @Test
  void after_shutdown_keepsWhatTStateShowsAndTheCycleUntilItEnds() {
    AgentCycle c = cycle(false);
    AgentStatus running = AgentStatus.initial(T0).after(Event.RUN, c, 1, T1);
    AgentStatus stopping = running.after(Event.SHUTDOWN, null, 1, T2);
    assertEquals(Stage.STOPPING, stopping.stage());
    assertEquals(AgentState.RUNNING, stopping.wire());
    assertEquals(T1, stopping.since());
    assertSame(c, stopping.cycle());
    AgentStatus ended = stopping.after(stopping.cycleEnds(), null, 1, T2);
    assertEquals(Stage.STOPPING, ended.stage());
    assertNull(ended.cycle());
    assertEquals(AgentState.RUNNING, ended.wire());
  }

  @Test
  void constructor_stageAndCycleMustAgree() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new AgentStatus(Stage.RUNNING, AgentState.RUNNING, null, T0, 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> new AgentStatus(Stage.IDLE, AgentState.IDLE, cycle(false), T0, 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> new AgentStatus(Stage.POWERING_DOWN, AgentState.IDLE, null, T0, 0));
    assertThrows(
        IllegalArgumentException.class, () -> new AgentStatus(Stage.STOPPING, null, null, T0, 0));
  }
}
