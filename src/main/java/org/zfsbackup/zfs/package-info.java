/**
 * ZFS and ssh as data: argv builders ({@link org.zfsbackup.zfs.ZfsCommands}, {@link
 * org.zfsbackup.zfs.Endpoint}), the listing parser and dataset naming rules. Pure: depends on
 * {@code plan} only, runs nothing.
 */
package org.zfsbackup.zfs;
