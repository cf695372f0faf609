package org.zfsbackup.mqtt;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.zfsbackup.config.AgentConfig.Secret;

/**
 * How {@link PahoConnection} connects.
 *
 * @param url {@code tcp://host:1883} or {@code ssl://host:8883}
 * @param caFile trusted CA certificates (PEM) for {@code ssl://}; empty = the JVM's
 * @param subscriptions topics to subscribe to at QoS 1 after every connect
 * @param firstRetry backoff after the first failed connect; doubles up to {@code maxRetry}
 * @param ackTimeout how long {@link PahoConnection#disconnect} waits for outstanding
 *     acknowledgements
 */
record PahoSettings(
    String url,
    String clientId,
    Optional<String> username,
    Optional<Secret> password,
    Optional<Path> caFile,
    String willTopic,
    List<String> subscriptions,
    Duration firstRetry,
    Duration maxRetry,
    Duration ackTimeout,
    int keepAliveSeconds) {}
