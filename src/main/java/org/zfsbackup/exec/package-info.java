/**
 * The one port for running processes and streams ({@link org.zfsbackup.exec.ProcessRunner}) and
 * its real implementation on {@link java.lang.ProcessBuilder}. Only this package starts processes.
 */
package org.zfsbackup.exec;
