/**
 * Events of a backup cycle, their error kinds and the sink port they go through. A leaf: depends on
 * nothing of ours (the cycle and the agent depend on it); no Vert.x, no Paho, no processes.
 */
package org.zfsbackup.event;
