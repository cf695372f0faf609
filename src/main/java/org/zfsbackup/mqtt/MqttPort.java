package org.zfsbackup.mqtt;

import io.vertx.core.Future;

/**
 * The agent's view of its broker connection. Every method is called on the agent's Vert.x context,
 * and every {@link Listener} callback arrives on it. {@link PahoConnection} is the real one; the
 * agent's unit tests use a fake.
 */
interface MqttPort {

  /**
   * Connects, retrying with backoff forever (logging each attempt) until connected or {@link
   * #disconnect()}/{@link #close()}; later connection losses reconnect on their own. After every
   * (re)connect it subscribes and then calls {@link Listener#connected}; a subscription the broker
   * refuses is retried, and {@link Listener#connected} waits for it. A connection still open from
   * before (one that went to sleep with the machine, whose socket is dead) is dropped first,
   * without waiting for the keep-alive to notice.
   */
  void connect(Listener listener);

  /**
   * Publishes at QoS 1. Completes when the broker acknowledged it; fails at once when not connected
   * (nothing is buffered: what matters is republished after the next connect).
   */
  Future<Void> publish(String topic, String payload, boolean retained);

  /**
   * Waits (bounded) until every publish so far is acknowledged, then disconnects cleanly: the will
   * is not sent and nothing reconnects until {@link #connect} is called again.
   */
  Future<Void> disconnect();

  /** Connected to the broker now. */
  boolean connected();

  /**
   * Not connected but meant to be: tries to connect now rather than after the reconnect backoff
   * (which grows to {@code maxRetry} over an outage).
   */
  void reconnectNow();

  /** Disconnects if connected and releases the client for good. */
  Future<Void> close();

  /**
   * Counts successful connections, starting at 1. Each message carries the number of the connection
   * it arrived on, so the agent can drop what arrived before a power-down.
   */
  long connection();

  /** What the connection reports to the agent, always on the agent's context. */
  interface Listener {
    /** Connected (first time or again) and subscribed. */
    void connected(long connection);

    /** A message on a subscribed topic; {@code payload} is the agent's own copy. */
    void message(String topic, byte[] payload, boolean retained, long connection);

    /** The connection dropped; it reconnects on its own. */
    void lost(String reason);

    /**
     * Connected, but the broker refused a subscription (SUBACK return code 0x80, e.g. its ACL):
     * commands cannot arrive. Called once per connection; the subscription is retried.
     */
    void subscriptionRefused(String detail);
  }
}
