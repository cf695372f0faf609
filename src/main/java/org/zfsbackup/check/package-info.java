/**
 * The {@code check} command (preflight). Runs {@code zfs list} through the {@link
 * org.zfsbackup.exec.ProcessRunner} port and probes the broker through {@link
 * org.zfsbackup.check.BrokerProbe}, whose implementation is the only Paho use outside {@code mqtt}
 * (it borrows {@code mqtt}'s TLS socket factory). Depends on {@code config}, {@code exec}, {@code
 * zfs} and that factory; changes nothing anywhere. Reports whether every item passed; {@code Main}
 * turns that into the exit code.
 */
package org.zfsbackup.check;
