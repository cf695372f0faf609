package org.zfsbackup.mqtt;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.paho.client.mqttv3.IMqttDeliveryToken;
import org.eclipse.paho.client.mqttv3.MqttAsyncClient;
import org.eclipse.paho.client.mqttv3.MqttCallbackExtended;
import org.eclipse.paho.client.mqttv3.MqttConnectOptions;
import org.eclipse.paho.client.mqttv3.MqttException;
import org.eclipse.paho.client.mqttv3.MqttMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Paho MQTT v3 adapter. What it does about Paho's known traps:
 *
 * <ul>
 *   <li>Clean session and memory persistence: a command published while the server sleeps is not
 *       replayed on wake, and no lock files land in the working directory.
 *   <li>Not Paho's {@code automaticReconnect} (why: {@link PahoCalls#options}): this class connects
 *       and reconnects itself, with exponential backoff, forever, one chain of attempts, each
 *       logged with its reason and bounded; a connection that ends within {@link PahoCalls#STABLE}
 *       counts as a failed attempt.
 *   <li>Subscribing inside {@code connectComplete} can deadlock (#999): the callback only hands the
 *       event to the Vert.x context, which subscribes.
 *   <li>The QoS 1 acknowledgement of a received message goes out only when {@code messageArrived}
 *       returns: it copies the payload, hands it to the context and returns at once; it never
 *       throws.
 *   <li>{@code maxInflight} is raised from Paho's 10: discovery alone is nine retained messages.
 *   <li>The async client reports a subscribe as a success even when the broker's SUBACK refused it
 *       (return code 0x80): {@link PahoSubscription} checks the granted QoS (see there).
 * </ul>
 *
 * <p>The will is {@code offline}, retained, on {@code T/availability}. Credentials are passed to
 * Paho and never logged. The options are in {@link PahoCalls#options}; the subscriptions after
 * every connect in {@link PahoSubscription}; publishes waiting for their acknowledgement in {@link
 * InFlight}.
 */
final class PahoConnection implements MqttPort, MqttCallbackExtended {
  private static final Logger log = LoggerFactory.getLogger(PahoConnection.class);

  private final Vertx vertx;
  private final Context context;
  private final PahoSettings settings;
  private final MqttAsyncClient client;
  private final MqttConnectOptions options;
  private final AtomicLong connections = new AtomicLong();
  private final InFlight inFlight = new InFlight();
  private final PahoSubscription subscription;
  private final ScheduledExecutorService pings = PahoCalls.pingThread();

  private volatile Listener listener;
  private boolean wanted;
  private boolean offlineOwed; // disconnected while the broker was away: "offline" once it is back
  private boolean connecting; // an attempt is under way: its outcome carries on, never a second
  private long attemptId; // the attempt under way; a later outcome of an abandoned one is ignored
  private boolean closed;
  private int attempt;
  private long connectedAt; // System.nanoTime() of the last connect
  private long retryTimer = -1;

  /**
   * @throws IllegalArgumentException for a bad URL or an unreadable CA file, with a message for a
   *     person
   */
  PahoConnection(Vertx vertx, Context context, PahoSettings settings) {
    this.vertx = vertx;
    this.context = context;
    this.settings = settings;
    try {
      this.client = PahoCalls.client(settings, pings);
    } catch (MqttException | IllegalArgumentException e) {
      pings.shutdownNow();
      throw new IllegalArgumentException("mqtt.url '" + settings.url() + "': " + e.getMessage(), e);
    }
    client.setCallback(this);
    options = PahoCalls.options(settings);
    subscription =
        new PahoSubscription(
            vertx,
            context,
            settings,
            client,
            n -> !closed && n == connections.get(),
            () -> listener);
  }

  @Override
  public void connect(Listener listener) {
    this.listener = listener;
    if (closed) {
      return;
    }
    wanted = true;
    offlineOwed = false;
    attempt = connecting ? 1 : 0; // the attempt under way is the first of this connect
    if (connecting) {
      return; // under way (offline owed while the broker was away): its outcome carries on
    }
    if (client.isConnected()) {
      // Still "connected" from before the power-down: that socket slept with the machine and is
      // dead; waiting for the keep-alive to notice would leave the agent deaf for a while.
      log.info("dropping the connection to {} from before the power-down", settings.url());
      PahoCalls.closeForcibly(vertx, context, client, this::tryConnect);
      return;
    }
    tryConnect();
  }

  private void tryConnect() {
    if (retryTimer >= 0) {
      vertx.cancelTimer(retryTimer); // one chain of attempts, never two
      retryTimer = -1;
    }
    if (connecting || !wanted && !offlineOwed || closed || client.isConnected()) {
      return;
    }
    connecting = true;
    long id = ++attemptId;
    attempt++;
    log.info(
        "connecting to MQTT broker {} as '{}' (attempt {})",
        settings.url(),
        settings.clientId(),
        attempt);
    // Paho bounds the TCP/TLS connect, not the wait for the broker's answer (a socket that slept
    // with the machine, a half-open connection): unanswered after twice ackTimeout, it is given up.
    long watchdog = vertx.setTimer(2 * settings.ackTimeout().toMillis(), t -> unanswered(id));
    try {
      // On success connectComplete() carries on.
      client.connect(
          options,
          null,
          PahoCalls.onContext(
              context,
              e -> {
                if (id == attemptId) {
                  vertx.cancelTimer(watchdog);
                  connecting = false;
                  if (e != null) {
                    connectFailed(e);
                  }
                }
              }));
    } catch (MqttException e) {
      vertx.cancelTimer(watchdog);
      connecting = false;
      connectFailed(e);
    }
  }

  /** The attempt {@code id} got no answer: its socket is closed, and the next attempt follows. */
  private void unanswered(long id) {
    if (!connecting || id != attemptId || closed) {
      return;
    }
    connecting = false;
    attemptId++; // its outcome, should it come late, is not this chain's
    MqttException timeout = new MqttException(MqttException.REASON_CODE_CLIENT_TIMEOUT);
    PahoCalls.closeForcibly(vertx, context, client, () -> connectFailed(timeout));
  }

  private void connectFailed(Throwable e) {
    boolean another =
        e instanceof MqttException m
            && m.getReasonCode() == MqttException.REASON_CODE_CONNECT_IN_PROGRESS;
    if (another || !wanted && !offlineOwed || closed || client.isConnected()) {
      return; // (another: that attempt's outcome carries on)
    }
    long delay = PahoCalls.backoff(settings, attempt);
    log.warn(
        "MQTT connect to {} failed (attempt {}): {}; retrying in {}",
        settings.url(),
        attempt,
        PahoCalls.connectFailure(e),
        PahoCalls.seconds(delay));
    retryTimer = vertx.setTimer(Math.max(1, delay), t -> tryConnect());
  }

  @Override
  public void connectComplete(boolean reconnect, String serverUri) {
    // Paho's thread: hand over, subscribe from the context (#999).
    long n = connections.incrementAndGet();
    context.runOnContext(v -> connected(n));
  }

  private void connected(long n) {
    connecting = false;
    connectedAt = System.nanoTime(); // attempt stays: a connection cut at once is no success
    if (closed || !wanted) {
      // Connected after disconnect() (offlineOwed: the broker was away): not online. A broker
      // that crashed meanwhile never got the agent's "offline", nor sends its will after a clean
      // disconnect: say it, or the retained availability says "online" for a sleeping machine.
      log.info(
          "connected to MQTT broker {} while shutting the connection down; publishing offline and"
              + " disconnecting",
          settings.url());
      publish(settings.willTopic(), PahoCalls.WILL, true).onSuccess(v -> offlineOwed = false);
      inFlight
          .settled(settings.ackTimeout().toMillis())
          .compose(
              v ->
                  // Unless connect() came meanwhile (a wake-up): its connection is not to be cut.
                  (closed || !wanted) && n == connections.get()
                      ? disconnectNow()
                      : Future.<Void>succeededFuture());
      return;
    }
    log.info("{} MQTT broker {}", n > 1 ? "reconnected to" : "connected to", settings.url());
    subscription.start(n);
  }

  @Override
  public void connectionLost(Throwable cause) {
    context.runOnContext(v -> lost(cause));
  }

  /** Reconnects: at once after a connection that lasted, else on with the backoff. */
  private void lost(Throwable cause) {
    List<InFlight.Sent> unacknowledged = inFlight.failAll(InFlight.LOST);
    // Lost while disconnecting (the broker restarted before its "offline" was acknowledged): the
    // reconnects go on until a connection says it (connected), as after a power-down.
    offlineOwed |= !wanted && !closed;
    boolean again = (wanted || offlineOwed) && !closed;
    long lasted = System.nanoTime() - connectedAt;
    attempt = lasted >= PahoCalls.STABLE.toNanos() ? 0 : attempt;
    long delay = attempt == 0 ? 0 : PahoCalls.backoff(settings, attempt);
    log.warn(
        "lost the connection to MQTT broker {} after {}: {}; {}{}",
        settings.url(),
        PahoCalls.seconds(lasted / 1_000_000),
        PahoCalls.describe(cause),
        !again
            ? "not reconnecting (stopping)"
            : "reconnecting " + (delay == 0 ? "now" : "in " + PahoCalls.seconds(delay)),
        attempt == 0 ? "" : PahoCalls.cutAtOnce(unacknowledged));
    Listener l = listener;
    if (l != null) {
      l.lost(PahoCalls.describe(cause));
    }
    if (again) {
      retryTimer = vertx.setTimer(Math.max(1, delay), t -> tryConnect());
    }
  }

  @Override
  public void messageArrived(String topic, MqttMessage message) {
    subscription.arrived(topic, message, connections.get()); // Paho's thread
  }

  @Override
  public void deliveryComplete(IMqttDeliveryToken token) {
    // Acknowledgements complete the publish futures through their action listeners.
  }

  @Override
  public Future<Void> publish(String topic, String payload, boolean retained) {
    if (closed || !client.isConnected()) {
      return Future.failedFuture(InFlight.NOT_CONNECTED);
    }
    byte[] bytes = payload.getBytes(StandardCharsets.UTF_8);
    Promise<Void> promise = inFlight.add(topic, bytes.length);
    try {
      client.publish(
          topic,
          bytes,
          1,
          retained,
          null,
          PahoCalls.onContext(context, e -> inFlight.done(promise, PahoCalls.own(e))));
    } catch (MqttException e) {
      inFlight.done(promise, e);
    }
    return promise.future();
  }

  @Override
  public Future<Void> disconnect() {
    wanted = false;
    if (!client.isConnected()) {
      // The broker is away: the reconnects go on, to say "offline" once it is back (connected).
      offlineOwed = true;
      inFlight.failAll(InFlight.DISCONNECTED);
      return Future.succeededFuture();
    }
    if (retryTimer >= 0) {
      vertx.cancelTimer(retryTimer);
      retryTimer = -1;
    }
    return inFlight.settled(settings.ackTimeout().toMillis()).compose(v -> disconnectNow());
  }

  private Future<Void> disconnectNow() {
    return PahoCalls.disconnect(client, context, settings)
        .onComplete(ar -> inFlight.failAll(InFlight.DISCONNECTED));
  }

  @Override
  public Future<Void> close() {
    if (closed) {
      return Future.succeededFuture();
    }
    Future<Void> disconnected = disconnect();
    closed = true;
    return disconnected.eventually(
        () ->
            vertx.executeBlocking(
                () -> {
                  try {
                    client.close(true);
                  } finally {
                    pings.shutdownNow();
                  }
                  return null;
                }));
  }

  @Override
  public boolean connected() {
    return !closed && client.isConnected();
  }

  @Override
  public void reconnectNow() {
    if (!wanted || closed || client.isConnected()) {
      return;
    }
    if (retryTimer >= 0) { // waiting for the next attempt: now (else one is under way)
      tryConnect();
    }
  }

  @Override
  public long connection() {
    return connections.get();
  }
}
