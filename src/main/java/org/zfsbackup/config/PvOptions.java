package org.zfsbackup.config;

import java.util.List;
import java.util.stream.Stream;

/**
 * {@code commands.pv}'s arguments read as pv reads them: the agent reads pv's byte counts ({@code
 * -n}) from the stream pv passes on, and some options break one or the other.
 */
final class PvOptions {
  private PvOptions() {}

  /** pv(1)'s options (1.6; and 1.8's -o, -X): letter, long name, and "=" when it takes a value. */
  private static final List<String[]> PV_OPTIONS =
      Stream.of(
              "p progress",
              "t timer",
              "e eta",
              "I fineta",
              "r rate",
              "a average-rate",
              "b bytes",
              "T buffer-percent",
              "A last-written =",
              "F format =",
              "n numeric",
              "q quiet",
              "W wait",
              "D delay-start =",
              "s size =",
              "l line-mode",
              "0 null",
              "i interval =",
              "w width =",
              "H height =",
              "N name =",
              "f force",
              "c cursor",
              "L rate-limit =",
              "B buffer-size =",
              "C no-splice",
              "E skip-errors",
              "S stop-at-size",
              "R remote =",
              "P pidfile =",
              "d watchfd =",
              "h help",
              "V version",
              "o output =",
              "X discard")
          .map(o -> o.split(" "))
          .toList();

  /**
   * The agent reads pv's byte counts ({@code -n}) from the stream it passes on: why option {@code
   * letter} breaks that, or null.
   */
  private static String pvBreaks(String letter) {
    return switch (letter) {
      case "q" -> "silences the byte counts the agent reads";
      case "t" -> "puts a time before each byte count, which the agent then cannot read";
      case "l" -> "counts lines, not the bytes the agent reads";
      case "S" -> "would cut every stream at -s's size";
      case "d", "R" -> "makes pv watch or steer another process";
      case "E" -> "would skip read errors instead of failing the stream";
      case "h", "V" -> "prints pv's help or version instead of the stream";
      case "o", "X" -> "sends the stream elsewhere than to the receive";
      default -> null;
    };
  }

  /**
   * {@code commands.pv}'s arguments read as pv reads them (getopt: short flags given together, a
   * value attached or the next argument, long names shortened or with "="): an option that breaks
   * the stream or its count, {@code --} (the agent's own flags after it would be files), and a file
   * to copy are refused. An option pv does not know is left to pv (and to check). pv may be wrapped
   * ({@code [nice, -n, '19', pv]}): its arguments are those after the first word named pv.
   */
  static void check(List<String> pv, Problems problems) {
    int word = 0; // pv itself: the first word named pv, else the first word
    for (int i = 0; pv != null && i < pv.size(); i++) {
      if (pv.get(i) != null && (pv.get(i).equals("pv") || pv.get(i).endsWith("/pv"))) {
        word = i;
        break;
      }
    }
    for (int i = word + 1; pv != null && i < pv.size(); i++) {
      String arg = pv.get(i);
      String problem = null;
      boolean valueNext = false;
      if (arg == null || arg.equals("-")) { // "-": standard input, which is the stream
        continue;
      } else if (arg.equals("--")) {
        problem = "ends pv's options, so the agent's own flags after it would be read as files";
      } else if (arg.startsWith("--")) {
        String name = arg.substring(2).split("=", 2)[0];
        List<String[]> named =
            PV_OPTIONS.stream()
                .filter(o -> o[1].equals(name) || !name.isEmpty() && o[1].startsWith(name))
                .toList();
        if (named.size() == 1 || named.stream().anyMatch(o -> o[1].equals(name))) {
          String[] o =
              named.stream().filter(x -> x[1].equals(name)).findFirst().orElse(named.get(0));
          problem = pvBreaks(o[0]);
          valueNext = o.length > 2 && !arg.contains("=");
        }
      } else if (arg.startsWith("-") && arg.length() > 1) {
        for (int k = 1; k < arg.length() && problem == null; k++) {
          String letter = arg.substring(k, k + 1);
          String[] o =
              PV_OPTIONS.stream().filter(x -> x[0].equals(letter)).findFirst().orElse(null);
          problem = pvBreaks(letter);
          if (o == null || o.length > 2) { // not known, or the rest is its value
            valueNext = o != null && k == arg.length() - 1;
            break;
          }
        }
      } else {
        problem = "would be read by pv as a file to copy instead of the stream";
      }
      if (problem == null && valueNext && i == pv.size() - 1) {
        problem = "takes a value, and none follows (pv would take the agent's own -C as it)";
      }
      if (problem != null) {
        problems.add("commands.pv[" + i + "]", "'" + arg + "' " + problem + "; remove it");
      }
      i += valueNext ? 1 : 0;
    }
  }
}
