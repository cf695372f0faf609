package org.zfsbackup.zfs;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.zfsbackup.plan.ReceiveRules;
import org.zfsbackup.plan.ReplicationStep;

/**
 * The {@code zfs} argument lists the engine uses (without the {@code zfs} program itself: an {@link
 * Endpoint} adds that, and ssh when the side is remote). Pure; golden-tested.
 */
public final class ZfsCommands {
  /**
   * Properties read by {@link #list}: enough to plan, to see a received dataset's canmount, whether
   * a snapshot has any hold ({@code userrefs}), and which datasets are placeholders.
   */
  private static final String LIST_PROPERTIES =
      "guid,createtxg,canmount,userrefs," + ReceiveRules.PLACEHOLDER_PROPERTY;

  /**
   * Properties read by {@link #listForRetention}: {@link #LIST_PROPERTIES} without canmount and the
   * placeholder mark, plus {@code creation} (epoch seconds with {@code -p}).
   */
  private static final String RETENTION_PROPERTIES = "guid,createtxg,creation,userrefs";

  /**
   * OpenZFS's token of an interrupted {@code receive -s} (zfs-receive(8) {@code -s}), {@code -}
   * when there is none. zfs-fuse does not know the property: its {@code zfs get} then fails with
   * {@link #NO_RESUME_TOKENS}, which is how a side without resumable receives is detected.
   */
  public static final String RESUME_TOKEN = "receive_resume_token";

  /** zfs-fuse's (and any pre-resume zfs's) refusal of {@link #RESUME_TOKEN}. */
  public static final String NO_RESUME_TOKENS = "invalid property '" + RESUME_TOKEN + "'";

  private ZfsCommands() {}

  /** Every dataset and snapshot below {@code roots}, in one process. */
  public static List<String> list(List<String> roots) {
    return list(roots, false);
  }

  /** {@link #list}, and with {@code resumeTokens} each dataset's {@link #RESUME_TOKEN} too. */
  public static List<String> list(List<String> roots, boolean resumeTokens) {
    return get(listProperties(resumeTokens), OptionalInt.empty(), roots);
  }

  private static String listProperties(boolean resumeTokens) {
    return resumeTokens ? LIST_PROPERTIES + "," + RESUME_TOKEN : LIST_PROPERTIES;
  }

  /**
   * {@code get -H -p -o name,property,value props [-d depth] -r roots...}, as {@link ZfsListing}
   * parses.
   *
   * @param depth how deep below each root ({@code -d}); empty = all the way
   */
  private static List<String> get(String props, OptionalInt depth, List<String> roots) {
    List<String> args =
        new ArrayList<>(List.of("get", "-H", "-p", "-o", "name,property,value", props));
    depth.ifPresent(d -> args.addAll(List.of("-d", Integer.toString(d))));
    args.add("-r");
    args.addAll(roots);
    return args;
  }

  /**
   * {@code send -t token}: the rest of an interrupted stream (zfs-send(8): {@code send [-PVenv] -t
   * receive_resume_token}). No {@code -w}: the token says whether the stream was raw.
   */
  public static List<String> resumeSend(String token) {
    return List.of("send", "-t", token);
  }

  /** The size of what {@link #resumeSend} would send ({@code -nP}), best effort. */
  public static List<String> resumeEstimate(String token) {
    return List.of("send", "-n", "-P", "-t", token);
  }

  /**
   * {@code receive -s [-F] <options> target} for a resumed stream: into the saved partial state,
   * which it completes (or, interrupted again, keeps). {@code force}: a full stream resumed into an
   * existing dataset without snapshots (the agent's placeholder), which OpenZFS 2.2 and later
   * refuse without {@code -F} ("Resuming recv on existing destination ... must specify -F to
   * overwrite it", lib/libzfs/libzfs_sendrecv.c); never for an incremental, where {@code -F} would
   * destroy the target's newer snapshots (zfs-receive(8)).
   */
  public static List<String> resumeReceive(String target, List<String> options, boolean force) {
    List<String> args = new ArrayList<>(List.of("receive", "-s"));
    if (force) {
      args.add("-F");
    }
    args.addAll(options);
    args.add(target);
    return args;
  }

  /** {@code receive -A dataset}: deletes the saved state of an interrupted {@code receive -s}. */
  public static List<String> abortResume(String dataset) {
    return List.of("receive", "-A", dataset);
  }

  /**
   * {@code send [-w] dataset@to} or {@code send [-w] -I dataset@from dataset@to}; never {@code -R}.
   */
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

  /**
   * A dry run of {@link #send} that prints the stream size ({@code -nP}); OpenZFS only, best
   * effort.
   */
  public static List<String> estimate(String dataset, ReplicationStep step, boolean raw) {
    List<String> args = send(dataset, step, raw);
    args.add(1, "-n");
    args.add(2, "-P");
    return args;
  }

  /** {@link #list} of one dataset and its snapshots (and its direct children). */
  public static List<String> listOne(String dataset) {
    return listOne(dataset, false);
  }

  /** {@link #listOne}, and with {@code resumeTokens} the dataset's {@link #RESUME_TOKEN} too. */
  public static List<String> listOne(String dataset, boolean resumeTokens) {
    return get(listProperties(resumeTokens), OptionalInt.of(1), List.of(dataset));
  }

  /**
   * {@code receive [-F] <options> target}. {@code -F} only to replace the agent's empty placeholder
   * with a full stream (see {@code plan.ReceiveRules}): on an incremental it would destroy the
   * target's newer snapshots (zfs-receive(8)).
   */
  public static List<String> receive(String target, List<String> options, boolean force) {
    List<String> args = new ArrayList<>(List.of("receive"));
    if (force) {
      args.add("-F");
    }
    args.addAll(options);
    args.add(target);
    return args;
  }

  /**
   * Creates one missing parent, unmountable from the start, marked as the agent's placeholder
   * ({@link ReceiveRules#PLACEHOLDER_PROPERTY}): the mark's value is the dataset's own name, so the
   * children that inherit it are not taken for placeholders, nor is a placeholder renamed
   * elsewhere.
   */
  public static List<String> createParent(String dataset) {
    return List.of(
        "create",
        "-o",
        "canmount=off",
        "-o",
        ReceiveRules.PLACEHOLDER_PROPERTY + "=" + dataset,
        dataset);
  }

  /** Removes the placeholder mark once a real stream replaced the placeholder. */
  public static List<String> clearPlaceholder(String dataset) {
    return List.of("inherit", ReceiveRules.PLACEHOLDER_PROPERTY, dataset);
  }

  /**
   * {@code rollback snapshot}, never {@code -r}: it fails rather than destroy a snapshot newer than
   * {@code snapshot} (zfs-rollback(8)); it only discards the head's unsnapshotted changes.
   */
  public static List<String> rollback(String snapshot) {
    return List.of("rollback", snapshot);
  }

  /** {@code holds -H snap...}: one line per hold, {@code snapshot TAB tag TAB time} (OpenZFS). */
  public static List<String> holds(List<String> snapshots) {
    List<String> args = new ArrayList<>(List.of("holds", "-H"));
    args.addAll(snapshots);
    return args;
  }

  /** {@code release tag snap...}: each snapshot on its own, as {@code zfs hold} does. */
  public static List<String> release(String tag, List<String> snapshots) {
    List<String> args = new ArrayList<>(List.of("release", tag));
    args.addAll(snapshots);
    return args;
  }

  public static List<String> canmountOff(String dataset) {
    return List.of("set", "canmount=off", dataset);
  }

  /**
   * {@code hold tag snap...}: zfs holds each snapshot on its own, and names the ones it could not.
   */
  public static List<String> hold(String tag, List<String> snapshots) {
    List<String> args = new ArrayList<>(List.of("hold", tag));
    args.addAll(snapshots);
    return args;
  }

  /**
   * What retention needs of every dataset and snapshot below {@code root}: {@link
   * #RETENTION_PROPERTIES}. Parsed by {@link ZfsListing}, which then knows each snapshot's
   * creation.
   */
  public static List<String> listForRetention(String root) {
    return get(RETENTION_PROPERTIES, OptionalInt.empty(), List.of(root));
  }

  /**
   * {@code list -H -o name -t snapshot <snapshots>}: those that exist, by name; each one gone is a
   * "dataset does not exist" line on stderr.
   */
  public static List<String> listSnapshots(List<String> snapshots) {
    List<String> args = new ArrayList<>(List.of("list", "-H", "-o", "name", "-t", "snapshot"));
    args.addAll(snapshots);
    return args;
  }

  /** {@code get -H -o value keystatus <dataset>}: {@code available}, {@code unavailable} or -. */
  public static List<String> keyStatus(String dataset) {
    return List.of("get", "-H", "-o", "value", "keystatus", dataset);
  }

  /** {@code get -H -p -o value available <dataset>}: bytes, its quota and its pool's space. */
  public static List<String> available(String dataset) {
    return List.of("get", "-H", "-p", "-o", "value", "available", dataset);
  }

  /**
   * {@code get -H -p -o property,value canmount,mounted,referenced[,logicalreferenced] <dataset>}:
   * whether a placeholder is still as the agent made it ({@link ReceiveRules#placeholderInUse});
   * {@code logical}: with its size before compression (OpenZFS; zfs-fuse has no such property).
   */
  public static List<String> placeholderUse(String dataset, boolean logical) {
    String props = "canmount,mounted,referenced" + (logical ? ",logicalreferenced" : "");
    return List.of("get", "-H", "-p", "-o", "property,value", props, dataset);
  }

  /**
   * {@code destroy dataset@a,b,c}: OpenZFS destroys the snapshots of one dataset given as a comma
   * list in one call, and none of them when one cannot be destroyed (zfs-destroy(8)).
   */
  public static List<String> destroy(String dataset, List<String> snapshots) {
    if (snapshots.isEmpty()) {
      throw new IllegalArgumentException("no snapshot to destroy");
    }
    return List.of("destroy", dataset + "@" + String.join(",", snapshots));
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
