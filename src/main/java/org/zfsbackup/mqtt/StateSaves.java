package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.WorkerExecutor;
import java.io.IOException;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zfsbackup.event.ErrorKind;

/**
 * The agent's saves of its {@link StateStore}: in the background, one after the other, in the order
 * they were asked for; a failure is said. Used on the agent's context only.
 */
final class StateSaves {
  /** Logs as the agent, whose state this is. */
  private static final Logger log = LoggerFactory.getLogger(Agent.class);

  private final WorkerExecutor workers;
  private final StateStore store;
  private final Context context;
  private final AgentPublisher out;
  private Future<Void> last = Future.succeededFuture();

  StateSaves(WorkerExecutor workers, StateStore store, Context context, AgentPublisher out) {
    this.workers = workers;
    this.store = store;
    this.context = context;
    this.out = out;
  }

  /**
   * Saves in the background; a failure is a warning on {@code T/error} as well as in the log: what
   * is not saved is lost at the next start (a wake-up), and Home Assistant would then show no last
   * success at all. With {@code running} (a cycle starts), a failure is logged only: the cycle's
   * end saves again, and says so.
   */
  void save(AgentCycle c, Instant at, ObjectNode result, StateStore.Running running) {
    last =
        workers
            .<Void>executeBlocking(
                () -> {
                  try {
                    store.save(at, result, running);
                  } catch (IOException | RuntimeException e) {
                    // What a restart will find: a cycle marked running (then reported lost), or not
                    // (its start's save failed too: then what was saved before it).
                    throw new SaveFailed(e, running == null && store.markedRunning());
                  }
                  return null;
                },
                true)
            .onFailure(
                e -> {
                  if (running != null) { // the end's save says so, on T/error too
                    log.warn(
                        "could not save the state file {} ({}): a cycle the agent does not live"
                            + " to end would not be reported",
                        store.file(),
                        e.getMessage());
                    return;
                  }
                  String msg =
                      "could not save the state file "
                          + store.file()
                          + " ("
                          + e.getMessage()
                          + "): last_success_at and this result are lost when the agent restarts"
                          + (e instanceof SaveFailed f && !f.markedRunning
                              ? " (the file does not say this cycle ran: the restart shows what was"
                                  + " saved before it)"
                              : " (which then reports this cycle as cycle_lost)");
                  log.warn("{}", msg);
                  context.runOnContext(v -> out.agentError(c, ErrorKind.WARNING.wire(), msg));
                })
            .otherwiseEmpty();
  }

  /** The save's failure, and whether the file as it stays marks a cycle as running. */
  private static final class SaveFailed extends IOException {
    final boolean markedRunning;

    SaveFailed(Exception cause, boolean markedRunning) {
      super(cause.getMessage(), cause);
      this.markedRunning = markedRunning;
    }
  }

  /** Completes when the last save is done (or failed, which is said). */
  Future<Void> last() {
    return last;
  }

  /**
   * Runs {@code publish} on the agent's context once the last save is done (or failed, which is
   * said): a cycle's end published before the file says it ended would, after a {@code kill -9} in
   * between, be reported at the next start as lost too.
   */
  Future<Void> afterLast(Runnable publish) {
    Promise<Void> published = Promise.promise();
    last.onComplete(
        v ->
            context.runOnContext(
                x -> {
                  publish.run();
                  published.complete();
                }));
    return published.future();
  }
}
