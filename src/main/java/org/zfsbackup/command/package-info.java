/**
 * Commands the agent accepts on its MQTT topic, as data, and the pure parser that turns a payload
 * into a command or a typed rejection. Depends on nothing of ours and on no framework: no Vert.x,
 * no Paho, no I/O (Jackson only reads the payload bytes).
 */
package org.zfsbackup.command;
