package org.zfsbackup.check;

/**
 * One line of the {@code check} report.
 *
 * @param name   what was checked, e.g. {@code source host-storage (zbackup@host-storage)}
 * @param ok     whether it passed
 * @param detail what was found, or why it failed; one line
 */
public record CheckItem(String name, boolean ok, String detail) {

  static CheckItem ok(String name, String detail) {
    return new CheckItem(name, true, detail);
  }

  static CheckItem fail(String name, String reason) {
    return new CheckItem(name, false, reason);
  }

  /** {@code ok   name: detail} or {@code FAIL name: reason}. */
  public String line() {
    String tail = detail.isEmpty() ? "" : ": " + detail;
    return (ok ? "ok   " : "FAIL ") + name + tail;
  }
}
