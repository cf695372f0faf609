package org.zfsbackup.mqtt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.zfsbackup.testing.Prerequisites;

/**
 * Renders Home Assistant templates with real Jinja2 (src/test/resources/ha/render_templates.py), so
 * the discovery templates are tested by what they output, not by their text.
 */
final class HaTemplates {
  /** One rendering: a template, the MQTT payload, the entity's current state, the time. */
  record Case(
      String template, String payload, String thisState, String now, Map<String, String> states) {
    Case(String template, String payload, String thisState, String now) {
      this(template, payload, thisState, now, Map.of());
    }
  }

  private HaTemplates() {}

  static String render(String template, String payload, String thisState, String now) {
    return render(List.of(new Case(template, payload, thisState, now))).get(0);
  }

  static String render(
      String template, String payload, String thisState, String now, Map<String, String> states) {
    return render(List.of(new Case(template, payload, thisState, now, states))).get(0);
  }

  /** {@link #findPython()}, looked for once (each look starts a Python). */
  private static final class Python {
    static final String NAME = findPython();
  }

  /**
   * The first Python that has Jinja2: {@code python3} on the PATH, else Debian's own, which
   * scripts/install-prereqs.sh gives python3-jinja2 (a PATH python3 from pyenv or a venv may lack
   * it). Found once per JVM.
   */
  static String python() {
    return Python.NAME;
  }

  private static String findPython() {
    for (String python : List.of("python3", "/usr/bin/python3")) {
      try {
        Process p = new ProcessBuilder(python, "-c", "import jinja2").start();
        if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
          return python;
        }
        p.destroyForcibly();
      } catch (IOException e) {
        // not this one
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
    return "python3"; // fails below with the missing-module message
  }

  static List<String> render(List<Case> cases) {
    Prerequisites.requireProgram("python3");
    ArrayNode in = Payloads.JSON.createArrayNode();
    for (Case c : cases) {
      ObjectNode n = in.addObject();
      n.put("template", c.template());
      n.put("payload", c.payload());
      n.put("this_state", c.thisState());
      n.put("now", c.now());
      c.states().forEach(n.putObject("states")::put);
    }
    try {
      Path script = Path.of("src/test/resources/ha/render_templates.py").toAbsolutePath();
      Process p = new ProcessBuilder(python(), script.toString()).start();
      p.getOutputStream().write(Payloads.text(in).getBytes(StandardCharsets.UTF_8));
      p.getOutputStream().close();
      byte[] out;
      try (InputStream s = p.getInputStream()) {
        out = s.readAllBytes();
      }
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        if (err.contains("No module named 'jinja2'")) {
          Prerequisites.require(false, "python3-jinja2");
        }
        throw new AssertionError("rendering failed: " + err);
      }
      List<String> rendered = new ArrayList<>();
      for (JsonNode r : Payloads.JSON.readTree(out)) {
        rendered.add(r.asText());
      }
      return rendered;
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
