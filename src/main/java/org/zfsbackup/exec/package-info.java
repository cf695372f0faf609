/**
 * The one port for running processes and streams ({@link org.zfsbackup.exec.ProcessRunner}) and its
 * real implementation on {@link java.lang.ProcessBuilder}. Only this package starts processes.
 * {@link org.zfsbackup.exec.SshSharing} keeps one ssh connection per host for a cycle (its commands
 * are built by {@code zfs.Endpoint}: exec depends on {@code zfs}, never the reverse).
 */
package org.zfsbackup.exec;
