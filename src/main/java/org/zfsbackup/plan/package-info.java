/**
 * The replication rules as pure functions: snapshots in, a plan or a typed refusal out. Depends on
 * nothing of ours and on no I/O, Vert.x or processes.
 */
package org.zfsbackup.plan;
