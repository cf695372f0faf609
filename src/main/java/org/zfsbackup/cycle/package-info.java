/**
 * The backup cycle: pull phase, push phase, per-dataset transfers, the report, and the CLI's
 * {@code run}/{@code plan}. Depends on {@code plan}, {@code zfs}, the {@code exec} port and the
 * {@code event} port; the agent ({@code mqtt}) drives it through {@link org.zfsbackup.cycle.CycleRunner}.
 */
package org.zfsbackup.cycle;
