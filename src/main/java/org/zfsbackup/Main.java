package org.zfsbackup;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.zfsbackup.check.Preflight;
import org.zfsbackup.command.CommandParser;
import org.zfsbackup.config.AgentConfig;
import org.zfsbackup.config.ConfigException;
import org.zfsbackup.config.ConfigLoader;
import org.zfsbackup.cycle.BackupCycle;
import org.zfsbackup.cycle.CliCycle;
import org.zfsbackup.cycle.ConfigDrift;
import org.zfsbackup.cycle.CycleRequest;
import org.zfsbackup.mqtt.AgentLauncher;

/**
 * Wiring only: parse the command line, load the config, run one command. Receives its streams and
 * environment so the whole CLI runs in-process in tests. Exit codes are decided here: {@code run},
 * {@code plan} and {@code check} report whether they succeeded ({@link #exitCode}), usage and
 * config errors become exit code 2, and so does an {@code agent} whose configuration cannot make
 * one.
 */
public final class Main {

  public static final int EXIT_OK = 0;
  public static final int EXIT_FAILED = 1;
  public static final int EXIT_USAGE = 2;

  static final String USAGE =
      """
      Usage: java -jar zfs-backup-agent.jar [COMMAND] [--config PATH] [--quiet]
             java -jar zfs-backup-agent.jar run|plan [--config PATH] [--quiet] [--] [SOURCE:DATASET...]

      Commands:
        agent    (default) connect to MQTT and wait for commands on the configured topic
        run      one backup cycle now (pull, then push); no MQTT needed
        plan     print what a cycle would do per dataset; changes nothing anywhere
                 (both: each SOURCE:DATASET given limits the cycle to that configured
                 source name and dataset, with its children, as MQTT's "datasets" does)
        check    preflight: config, broker, every ssh host with zfs, backup root, offsite

      Options:
        --config PATH   configuration file (YAML or JSON), default config/agent.yaml
        --quiet, -q     print nothing on a clean success: run and plan print only warnings and
                        errors, check only what failed
        --help, -h      this text
        --version       the version

      Exit codes:
        0  success (run: every dataset sent or already up to date; check: every item passed)
        1  failure (run: at least one dataset failed; check: at least one item failed)
        2  bad usage or bad configuration; nothing was run
        129, 130, 143  run or plan stopped by SIGHUP (a closed terminal), SIGINT or SIGTERM
                       (the cycle is reported interrupted)
      """;

  /** A parsed command line. */
  record Invocation(String command, Path configPath, boolean quiet, List<String> datasets) {
    Invocation(String command, Path configPath, boolean quiet) {
      this(command, configPath, quiet, List.of());
    }
  }

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err, System.getenv()));
  }

  /** Runs the CLI; returns the exit code. {@code agent} returns only when the agent stops. */
  public static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env) {
    Invocation inv;
    try {
      inv = parse(List.of(args));
    } catch (UsageException e) {
      err.println("zfs-backup-agent: " + e.getMessage());
      err.println("Try 'java -jar zfs-backup-agent.jar --help'.");
      return EXIT_USAGE;
    }
    if (inv.command().equals("help")) {
      out.print(USAGE);
      return EXIT_OK;
    }
    if (inv.command().equals("version")) {
      out.println("zfs-backup-agent " + version());
      return EXIT_OK;
    }
    AgentConfig config;
    try {
      // What the load says (a password file others can read) follows --quiet and journald's format.
      Logging.configure("info", env, inv.quiet());
      config = ConfigLoader.load(inv.configPath(), env);
    } catch (ConfigException e) {
      err.println(
          "zfs-backup-agent: bad configuration " + inv.configPath() + ": " + e.getMessage());
      return EXIT_USAGE;
    }
    CommandParser datasets = new CommandParser(CycleRequest.configuredDatasets(config));
    for (String d : inv.datasets()) {
      Optional<String> problem = datasets.unconfigured(d);
      if (problem.isPresent()) {
        err.println("zfs-backup-agent: " + problem.get());
        return EXIT_USAGE;
      }
    }
    Logging.configure(config.logLevel(), env, inv.quiet());
    Set<String> only = new LinkedHashSet<>(inv.datasets());
    return switch (inv.command()) {
      case "run" -> exitCode(CliCycle.run(config, false, inv.quiet(), only, out, err));
      case "plan" -> exitCode(CliCycle.run(config, true, inv.quiet(), only, out, err));
      case "check" -> exitCode(Preflight.run(config, inv.quiet(), out));
      case "agent" -> agent(config, inv.configPath(), env, err) ? EXIT_OK : EXIT_USAGE;
      default -> throw new IllegalStateException(inv.command());
    };
  }

  /** The agent's cycles say when the file changed since it was loaded ({@link ConfigDrift}). */
  private static boolean agent(
      AgentConfig config, Path file, Map<String, String> env, PrintStream err) {
    ConfigDrift drift = new ConfigDrift(file, env, config);
    return AgentLauncher.run(config, err, c -> BackupCycle.create(c).watching(drift));
  }

  /** {@code run}, {@code plan} and {@code check}: 0 when the command succeeded, else 1. */
  public static int exitCode(boolean succeeded) {
    return succeeded ? EXIT_OK : EXIT_FAILED;
  }

  static Invocation parse(List<String> args) {
    String command = null;
    Path config = Path.of("config/agent.yaml");
    boolean quiet = false;
    boolean configGiven = false;
    List<String> datasets = new ArrayList<>();
    List<String> rest = new ArrayList<>(args);
    boolean options = true; // until "--": a source named -n can then be named (-n:tank/a)
    for (int i = 0; i < rest.size(); i++) {
      String a = rest.get(i);
      if (!options || a.equals("--")) {
        command = options ? command : positional(a, command, datasets);
        options = false;
        continue;
      }
      switch (a) {
        case "--help", "-h", "help" -> {
          return new Invocation("help", config, quiet);
        }
        case "--version" -> {
          return new Invocation("version", config, quiet);
        }
        case "--quiet", "-q" -> quiet = true;
        case "--config", "-c" -> {
          if (i + 1 >= rest.size()
              || rest.get(i + 1).startsWith("-")
              || rest.get(i + 1).isEmpty()) {
            throw new UsageException("--config needs a path"); // not the next option taken as one
          }
          config = onlyOnce(configGiven, Path.of(rest.get(++i)));
          configGiven = true;
        }
        default -> {
          if (a.equals("--config=")) {
            throw new UsageException("--config needs a path");
          } else if (a.startsWith("--config=")) {
            config = onlyOnce(configGiven, Path.of(a.substring("--config=".length())));
            configGiven = true;
          } else if (a.startsWith("-")) {
            throw new UsageException("unknown option '" + a + "'");
          } else {
            command = positional(a, command, datasets);
          }
        }
      }
    }
    return new Invocation(command == null ? "agent" : command, config, quiet, datasets);
  }

  /** The command, or after run or plan a dataset; returns the command. */
  private static String positional(String a, String command, List<String> datasets) {
    if (command != null && List.of("run", "plan").contains(command)) {
      datasets.add(a); // checked against the configuration once it is loaded
    } else if (command != null) {
      throw new UsageException("unexpected argument '" + a + "' after command '" + command + "'");
    } else if (!List.of("agent", "run", "plan", "check").contains(a)) {
      throw new UsageException("unknown command '" + a + "' (expected agent, run, plan or check)");
    }
    return command == null ? a : command;
  }

  /** {@code path}, unless an earlier {@code --config} was given: two would leave one unused. */
  private static Path onlyOnce(boolean given, Path path) {
    if (given) {
      throw new UsageException("--config given more than once");
    }
    return path;
  }

  static String version() {
    String v = Main.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message);
    }
  }
}
