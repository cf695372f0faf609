/**
 * The MQTT agent (contract §4): the Paho v3 adapter, the agent's state machine, what it publishes
 * (availability, state, progress, error, result, event), Home Assistant discovery, the power-down,
 * and {@link org.zfsbackup.mqtt.AgentLauncher}, which wires it all for the {@code agent} command.
 *
 * <p>Who does what: {@code Agent} takes commands and drives the state machine, whose whole state is
 * one {@code AgentStatus} value (its diagram is tested against its transition table) and which
 * publishes {@code AgentState} on {@code T/state}; {@code AgentPublisher} publishes (keeping errors
 * and events in the {@code Outbox} while the broker is away); {@code CycleReporting} turns a
 * cycle's events and report into progress, errors and the result, kept in {@code StateStore}
 * through {@code StateSaves}; {@code PowerDown} goes offline, disconnects and runs {@code
 * power.command}; {@code AgentLog} words the log lines. {@code PahoConnection} (with {@code
 * PahoCalls} and {@code InFlight}) is the broker connection behind {@code MqttPort}.
 *
 * <p>Depends on {@code config}, {@code command}, {@code cycle} and {@code event}; this package
 * (with {@code exec}'s implementation, the config loader and {@code Main}) is where Paho, Vert.x
 * and processes are touched. The Vert.x event loop never blocks: the cycle and the power command
 * run on a dedicated worker executor and report back with {@code runOnContext}; Paho callbacks copy
 * what they received, hand it to the agent's context and return.
 */
package org.zfsbackup.mqtt;
