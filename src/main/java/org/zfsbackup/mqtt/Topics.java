package org.zfsbackup.mqtt;

/**
 * The agent's topics, all below {@code T} ({@code mqtt.topic}). Users publish commands on {@code T}
 * itself; the agent subscribes to exactly {@code T}, never to a wildcard, so its own publications
 * never come back as commands.
 */
public record Topics(String base) {
  public Topics {
    if (base == null || base.isEmpty() || base.contains("+") || base.contains("#")) {
      throw new IllegalArgumentException(
          "mqtt.topic must be a non-empty topic without wildcards: " + base);
    }
  }

  public String command() {
    return base;
  }

  public String availability() {
    return base + "/availability";
  }

  public String state() {
    return base + "/state";
  }

  public String progress() {
    return base + "/progress";
  }

  public String error() {
    return base + "/error";
  }

  public String result() {
    return base + "/result";
  }

  /** Progress over the whole cycle (not in contract §4: an extension, see docs/mqtt.md). */
  public String cycleProgress() {
    return base + "/cycle_progress";
  }

  public String event() {
    return base + "/event";
  }
}
