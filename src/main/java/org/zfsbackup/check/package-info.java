/**
 * The {@code check} command (preflight). Runs {@code zfs list} through the
 * {@link org.zfsbackup.exec.ProcessRunner} port and probes the broker through
 * {@link org.zfsbackup.check.BrokerProbe}, whose implementation is the only Paho use outside
 * {@code mqtt}. Depends on {@code config}, {@code exec} and {@code zfs}; changes nothing anywhere.
 */
package org.zfsbackup.check;
