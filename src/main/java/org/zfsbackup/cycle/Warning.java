package org.zfsbackup.cycle;

import org.zfsbackup.event.ErrorKind;
import org.zfsbackup.exec.ProcessResult;

/**
 * Something that went wrong without failing its dataset: published as an error of kind {@link
 * ErrorKind#WARNING} whose message starts with {@code kind}, and listed in the report.
 *
 * @param kind what could not be done, e.g. {@link ErrorKind#HOLD_FAILED}
 * @param result the process that failed, for its exit code and stderr
 */
record Warning(String dataset, ErrorKind kind, String message, ProcessResult result) {}
