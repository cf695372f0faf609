package org.zfsbackup.zfs;

import java.util.ArrayList;
import java.util.List;
import org.zfsbackup.plan.ReplicationStep;

/**
 * The {@code zfs} argument lists the engine uses (without the {@code zfs} program itself: an
 * {@link Endpoint} adds that, and ssh when the side is remote). Pure; golden-tested.
 */
public final class ZfsCommands {
  /**
   * Properties read by {@link #list}: enough to plan, to see a received dataset's canmount, and
   * whether a snapshot has any hold ({@code userrefs}).
   */
  public static final String LIST_PROPERTIES = "guid,createtxg,canmount,userrefs";

  private ZfsCommands() {}

  /** Every dataset and snapshot below {@code roots}, in one process. */
  public static List<String> list(List<String> roots) {
    List<String> args = new ArrayList<>(List.of("get", "-H", "-p", "-o", "name,property,value", LIST_PROPERTIES, "-r"));
    args.addAll(roots);
    return args;
  }

  /** {@code send [-w] dataset@to} or {@code send [-w] -I dataset@from dataset@to}; never {@code -R}. */
  public static List<String> send(String dataset, ReplicationStep step, boolean raw) {
    List<String> args = new ArrayList<>(List.of("send"));
    if (raw) {
      args.add("-w");
    }
    if (step instanceof ReplicationStep.Incremental inc) {
      args.add("-I");
      args.add(dataset + "@" + inc.from().name());
    }
    args.add(dataset + "@" + step.to().name());
    return args;
  }

  /** A dry run of {@link #send} that prints the stream size ({@code -nP}); OpenZFS only, best effort. */
  public static List<String> estimate(String dataset, ReplicationStep step, boolean raw) {
    List<String> args = send(dataset, step, raw);
    args.add(1, "-n");
    args.add(2, "-P");
    return args;
  }

  /** {@code receive -F <options> target}. */
  public static List<String> receive(String target, List<String> options) {
    List<String> args = new ArrayList<>(List.of("receive", "-F"));
    args.addAll(options);
    args.add(target);
    return args;
  }

  /** Creates one missing parent, unmountable from the start. */
  public static List<String> createParent(String dataset) {
    return List.of("create", "-o", "canmount=off", dataset);
  }

  public static List<String> canmountOff(String dataset) {
    return List.of("set", "canmount=off", dataset);
  }

  public static List<String> hold(String tag, String snapshot) {
    return List.of("hold", tag, snapshot);
  }

  /** {@code hold tag snap...}: zfs holds each snapshot on its own, and names the ones it could not. */
  public static List<String> hold(String tag, List<String> snapshots) {
    List<String> args = new ArrayList<>(List.of("hold", tag));
    args.addAll(snapshots);
    return args;
  }

  public static List<String> release(String tag, String snapshot) {
    return List.of("release", tag, snapshot);
  }

  /** {@code release tag snap...}: like {@link #hold(String, List)}, each snapshot on its own. */
  public static List<String> release(String tag, List<String> snapshots) {
    List<String> args = new ArrayList<>(List.of("release", tag));
    args.addAll(snapshots);
    return args;
  }

  /** Reads the stream size from {@code zfs send -nP} output ({@code size\tN}); -1 when absent. */
  public static long parseEstimate(String output) {
    long size = -1;
    for (String line : output.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 2 && f[0].equals("size") && f[1].matches("[0-9]{1,18}")) {
        size = Long.parseLong(f[1]);
      }
    }
    return size;
  }
}
