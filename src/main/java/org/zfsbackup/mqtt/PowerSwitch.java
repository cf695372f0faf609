package org.zfsbackup.mqtt;

import java.util.List;
import org.zfsbackup.exec.ProcessResult;

/**
 * Runs {@code power.command} after a graceful suspend. Blocking: returns when the command returns,
 * which for {@code systemctl suspend} or {@code poweroff} is at once, before the machine goes down
 * (logind only queues the job), and for a command such as {@code pm-suspend} after the wake-up;
 * {@link PowerClocks} tells which happened. Called on a worker thread.
 */
@FunctionalInterface
interface PowerSwitch {
  ProcessResult run(List<String> argv);
}
