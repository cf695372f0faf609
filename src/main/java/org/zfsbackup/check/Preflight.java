package org.zfsbackup.check;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.AgentConfig.MqttConfig;
import org.zfsbackup.config.AgentConfig.SourceConfig;
import org.zfsbackup.exec.ProcessResult;
import org.zfsbackup.exec.ProcessRunner;
import org.zfsbackup.exec.RealProcessRunner;
import org.zfsbackup.exec.SshSharing;
import org.zfsbackup.zfs.Endpoint;
import org.zfsbackup.zfs.ZfsCommands;

/**
 * The {@code check} command: is everything a cycle needs there? One item per line, in a fixed
 * order: the configuration, the broker (reachable, credentials accepted), each pull source (ssh
 * works, {@code zfs} answers, the configured datasets exist), the backup root ({@code
 * pull.target}), the byte counter ({@code commands.pv}) and the offsite side ({@code push.target},
 * which must exist: a cycle creates nothing at or above a target root). Changes nothing anywhere.
 *
 * <p>The items run in parallel, each bounded by {@code replication.connect_timeout_s} plus a
 * margin, so a host that does not answer costs that bound once, not once per host.
 */
public final class Preflight {
  /** Added to the connect timeout for the remote command itself. */
  static final Duration MARGIN = Duration.ofSeconds(5);

  private static final int MAX_THREADS = 8;

  private final AgentConfig config;
  private final ProcessRunner runner;
  private final BrokerProbe broker;
  private final Duration margin;
  private final SshSharing.Factory sharing;

  Preflight(AgentConfig config, ProcessRunner runner, BrokerProbe broker, Duration margin) {
    this(config, runner, broker, margin, SshSharing.Factory.OFF);
  }

  /**
   * @param sharing how cycles share ssh connections: one more line per ssh host, unless OFF
   */
  Preflight(
      AgentConfig config,
      ProcessRunner runner,
      BrokerProbe broker,
      Duration margin,
      SshSharing.Factory sharing) {
    this.config = config;
    this.runner = runner;
    this.broker = broker;
    this.margin = margin;
    this.sharing = sharing;
  }

  /**
   * The CLI entry: prints the report; true only when every item passed ({@code Main} turns that
   * into the exit code).
   */
  public static boolean run(AgentConfig config, boolean quiet, PrintStream out) {
    ProcessRunner runner = new RealProcessRunner();
    SshSharing.Factory sharing = SshSharing.Factory.inTmp(runner);
    List<CheckItem> items =
        new Preflight(config, runner, new PahoBrokerProbe(), MARGIN, sharing).check();
    return print(items, quiet, out);
  }

  /**
   * Every line goes to {@code out}, failures included: the report is the product of this command,
   * and a pipe ({@code check | mail}) should get all of it. {@code quiet} keeps only the failures.
   */
  static boolean print(List<CheckItem> items, boolean quiet, PrintStream out) {
    boolean allOk = true;
    for (CheckItem item : items) {
      allOk &= item.ok();
      if (!item.ok() || !quiet) {
        out.println(item.line());
      }
    }
    out.flush();
    return allOk;
  }

  /** Runs every item; returns within about {@link #deadline()} whatever the hosts do. */
  List<CheckItem> check() {
    List<CheckItem> items = new ArrayList<>();
    items.add(CheckItem.ok("config", describeConfig()));

    List<String> names = new ArrayList<>();
    List<Callable<CheckItem>> tasks = new ArrayList<>();
    List<Endpoint> endpoints = new ArrayList<>(); // the sides a cycle reaches, pull then push
    Optional<MqttConfig> mqtt = config.mqtt();
    if (mqtt.isEmpty()) {
      // A cron-only set-up (`run` needs no broker) must be able to pass its preflight.
      items.add(
          CheckItem.warn(
              "broker",
              "no mqtt section in the configuration (run and plan work without one;"
                  + " the agent command needs one)"));
    } else {
      String name = "broker " + mqtt.get().url();
      names.add(name);
      tasks.add(() -> brokerItem(name, mqtt.get()));
    }
    for (SourceConfig source : config.pull().sources()) {
      Endpoint endpoint = config.endpoint(source.host(), source.user(), source.port());
      endpoints.add(endpoint);
      String name = "source " + source.name() + " (" + endpoint.label() + ")";
      names.add(name);
      tasks.add(
          () ->
              zfsListItem(
                  name,
                  endpoint,
                  source.datasets().stream().distinct().toList(),
                  plural(source.datasets().stream().distinct().count(), "dataset") + " present"));
    }
    String root = config.pull().target();
    names.add("backup root " + root);
    tasks.add(
        () ->
            targetItem(
                "backup root " + root,
                Endpoint.local(config.commands().zfs()),
                root,
                "pull.target",
                true));
    List<String> pv = config.commands().pv();
    if (!pv.isEmpty()) {
      names.add("byte counter");
      tasks.add(() -> counterItem(pv));
    }
    config
        .push()
        .ifPresent(
            push -> {
              Endpoint endpoint = config.endpoint(push.host(), push.user(), push.port());
              endpoints.add(endpoint);
              // The root itself, not only its pool: the push creates nothing at or above
              // push.target.
              String name = "offsite " + endpoint.label() + " target " + push.target();
              names.add(name);
              // Raw streams bring their own encryption: only a new parent needs the key there.
              tasks.add(
                  () -> targetItem(name, endpoint, push.target(), "push.target", !push.raw()));
            });
    names.add("state file");
    tasks.add(() -> StateFileCheck.item(config.stateFile()));
    SharingCheck.addItems(endpoints, sharing, itemTimeout(), names, tasks);

    items.addAll(runAll(names, tasks));
    return items;
  }

  /** Each item is already bounded; this is the backstop for one that is not (a stuck probe). */
  private List<CheckItem> runAll(List<String> names, List<Callable<CheckItem>> tasks) {
    int threads = Math.max(1, Math.min(MAX_THREADS, tasks.size()));
    AtomicInteger counter = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "check-" + counter.incrementAndGet());
              t.setDaemon(true); // a stuck item must not keep the JVM alive
              return t;
            });
    try {
      List<Future<CheckItem>> futures = new ArrayList<>();
      tasks.forEach(t -> futures.add(pool.submit(t)));
      int waves = (tasks.size() + threads - 1) / threads;
      long deadline = System.nanoTime() + deadline().multipliedBy(Math.max(1, waves)).toNanos();
      List<CheckItem> out = new ArrayList<>();
      for (int i = 0; i < futures.size(); i++) {
        out.add(await(names.get(i), futures.get(i), deadline));
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  private CheckItem await(String name, Future<CheckItem> future, long deadline) {
    try {
      return future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      future.cancel(true);
      return CheckItem.fail(name, "no answer within " + deadline().toSeconds() + " s");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      return CheckItem.fail(
          name, "unexpected " + cause.getClass().getSimpleName() + ": " + cause.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return CheckItem.fail(name, "interrupted");
    }
  }

  /** The bound for one item's process; the backstop adds one more margin. */
  Duration itemTimeout() {
    return config.replication().connectTimeout().plus(margin);
  }

  Duration deadline() {
    return itemTimeout().plus(margin);
  }

  private CheckItem brokerItem(String name, MqttConfig mqtt) {
    Optional<String> problem = broker.problem(mqtt, config.replication().connectTimeout());
    if (problem.isPresent()) {
      return CheckItem.fail(name, problem.get());
    }
    return CheckItem.ok(
        name, mqtt.username().map(u -> "connected as " + u).orElse("connected (anonymous)"));
  }

  /** {@code zfs list -H -o name <names>} on that side: proves ssh, zfs on PATH and the datasets. */
  private CheckItem zfsListItem(
      String name, Endpoint endpoint, List<String> datasets, String okDetail) {
    List<String> args = new ArrayList<>(List.of("list", "-H", "-o", "name"));
    args.addAll(datasets);
    ProcessResult r = runner.run(endpoint.zfs(args), itemTimeout());
    return r.ok() ? CheckItem.ok(name, okDetail) : CheckItem.fail(name, reason(r, endpoint));
  }

  /**
   * A target root: it must exist, since a cycle never creates it (nor anything above it); its key
   * loaded when it is encrypted, where every receive needs it ({@code keyNeeded}), else a warning.
   */
  private CheckItem targetItem(
      String name, Endpoint endpoint, String root, String key, boolean keyNeeded) {
    CheckItem item = zfsListItem(name, endpoint, List.of(root), "present");
    if (!item.ok() && item.detail().contains("dataset does not exist")) {
      return CheckItem.fail(
          name,
          "does not exist: a cycle would create nothing and send nothing"
              + " there. Create it (with the encryption you want), import its pool, or correct "
              + key);
    }
    // OpenZFS: an encrypted root whose key is not loaded takes no plain receive and no zfs create
    // below it (zfs-load-key(8)). zfs-fuse has no keystatus: its zfs get fails, and that is fine.
    ProcessResult keys =
        item.ok() ? runner.run(endpoint.zfs(ZfsCommands.keyStatus(root)), itemTimeout()) : null;
    if (keys != null && keys.ok() && keys.stdout().strip().equals("unavailable")) {
      return keyNeeded
          ? CheckItem.fail(
              name,
              "its encryption key is not loaded: receives and the parents the agent creates below"
                  + " it would fail. Load it after every boot: zfs load-key on its encryption"
                  + " root (zfs get encryptionroot "
                  + root
                  + ")")
          : CheckItem.warn(
              name,
              "its encryption key is not loaded: raw streams are received without it, but a"
                  + " dataset that needs a new parent below it fails (create_failed) until the"
                  + " key of its encryption root (zfs get encryptionroot "
                  + root
                  + ") is loaded; or use an unencrypted push.target");
    }
    // A full pool (or quota) fails every receive, and every parent the agent would create.
    ProcessResult space =
        item.ok() ? runner.run(endpoint.zfs(ZfsCommands.available(root)), itemTimeout()) : null;
    String bytes = space != null && space.ok() ? space.stdout().strip() : "";
    if (bytes.equals("0")) {
      return CheckItem.fail(
          name,
          "present, but no space is left below it (available 0): every receive would fail."
              + " Free some (retention, zfs destroy), raise its quota, or grow its pool");
    } else if (bytes.matches("[0-9]{1,18}")) {
      double mib = Long.parseLong(bytes) / 1048576.0;
      return CheckItem.ok(
          name,
          String.format(
              Locale.ROOT,
              "present, %.1f %s available",
              mib < 1024 ? mib : mib / 1024,
              mib < 1024 ? "MiB" : "GiB"));
    }
    return item;
  }

  /**
   * {@code commands.pv} must run on this machine, with the flags the streams give it: every stream
   * goes through it. Run on an empty input, it counts nothing and exits 0.
   */
  private CheckItem counterItem(List<String> pv) {
    ProcessResult r = runner.run(RealProcessRunner.counter(pv), itemTimeout());
    String cmd = String.join(" ", pv);
    return r.ok()
        ? CheckItem.ok("byte counter", cmd + " works")
        : CheckItem.fail(
            "byte counter",
            "cannot run '"
                + cmd
                + "' (install pv, or set commands.pv: [])"
                + (r.stderrTail().isBlank() ? "" : ": " + oneLine(r.stderrTail())));
  }

  /** Why a {@code zfs list} failed, in the words a user would search for. */
  String reason(ProcessResult r, Endpoint endpoint) {
    String stderr = oneLine(r.stderrTail());
    String tail = stderr.isEmpty() ? "" : ": " + stderr;
    if (r.startFailed()) {
      return "cannot start '" + r.argv().get(0) + "'" + tail;
    }
    if (r.timedOut()) {
      return "no answer within " + itemTimeout().toSeconds() + " s" + tail;
    }
    if (!endpoint.isLocal() && r.exitCode() == 255) {
      return "ssh failed" + tail;
    }
    if (r.exitCode() == 127) {
      return "zfs not found" + (endpoint.isLocal() ? "" : " on " + endpoint.label()) + tail;
    }
    return "zfs list exited with " + r.exitCode() + tail;
  }

  private String describeConfig() {
    long datasets = // a dataset listed twice in one source is one
        config.pull().sources().stream()
            .mapToLong(s -> s.datasets().stream().distinct().count())
            .sum();
    int sources = config.pull().sources().size();
    String push =
        config
            .push()
            .map(p -> "push to " + p.host().orElse("local") + ":" + p.target())
            .orElse("no push");
    return plural(sources, "source") + ", " + plural(datasets, "dataset") + ", " + push;
  }

  private static String plural(long n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }

  /** stderr tails are several lines; a report line is one. */
  static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*\\n\\s*", "; ");
  }
}
