/**
 * Events of a backup cycle and the sink port they go through. Depends on nothing of ours but the
 * cycle's report type; no Vert.x, no Paho, no processes.
 */
package org.zfsbackup.event;
