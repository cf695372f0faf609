package org.zfsbackup.check;

/**
 * One line of the {@code check} report.
 *
 * @param name what was checked, e.g. {@code source host-storage (zbackup@host-storage)}
 * @param ok whether it passed
 * @param detail what was found, or why it failed; one line
 * @param warning passed, but not as well as it should (ssh connection sharing that falls back)
 */
public record CheckItem(String name, boolean ok, String detail, boolean warning) {

  static CheckItem ok(String name, String detail) {
    return new CheckItem(name, true, detail, false);
  }

  static CheckItem fail(String name, String reason) {
    return new CheckItem(name, false, reason, false);
  }

  /** Passes (the exit code stays 0), with a line that says what is missing. */
  static CheckItem warn(String name, String detail) {
    return new CheckItem(name, true, detail, true);
  }

  /** {@code ok name: detail}, {@code warn name: detail} or {@code FAIL name: reason}. */
  public String line() {
    String tail = detail.isEmpty() ? "" : ": " + detail;
    return (!ok ? "FAIL " : warning ? "warn " : "ok   ") + name + tail;
  }
}
