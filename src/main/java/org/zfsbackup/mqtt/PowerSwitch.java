package org.zfsbackup.mqtt;

import java.util.List;
import org.zfsbackup.exec.ProcessResult;

/**
 * Runs {@code power.command} after a graceful suspend. Blocking: returns when the command returns,
 * which for {@code systemctl suspend} is after the machine woke up again. Called on a worker thread.
 */
@FunctionalInterface
interface PowerSwitch {
  ProcessResult run(List<String> argv);
}
