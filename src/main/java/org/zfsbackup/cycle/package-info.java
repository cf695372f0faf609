/**
 * The backup cycle: pull phase, push phase, per-dataset transfers, the report, and the CLI's {@code
 * run}/{@code plan}. Depends on {@code plan}, {@code zfs}, {@code config}, the {@code exec} port
 * and the {@code event} port, never on {@code mqtt} or {@code Main}; the agent ({@code mqtt})
 * drives it through {@link org.zfsbackup.cycle.CycleRunner}. {@code BackupCycle} hands each {@code
 * Transfer} one {@code TransferContext}; what a failed process means is decided by the pure {@code
 * Failures}.
 */
package org.zfsbackup.cycle;
