package org.zfsbackup.command;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.zfsbackup.command.Fields.absent;
import static org.zfsbackup.command.Fields.bool;
import static org.zfsbackup.command.Fields.quote;
import static org.zfsbackup.command.Fields.reject;
import static org.zfsbackup.command.Fields.wrongType;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.zfsbackup.command.ParseResult.Accepted;
import org.zfsbackup.command.ParseResult.Reason;

/**
 * The fields only {@code run} takes: {@code run_id} (at most 128 characters without control
 * characters: it goes into logs), {@code then} (only {@code "suspend"}), {@code dry_run} and {@code
 * datasets}. A {@code datasets} entry must equal a configured {@code source-name:dataset} exactly;
 * a child of a configured dataset is not accepted (the message names the configured parent), since
 * a request names whole configured trees; an empty list is rejected (ambiguous).
 */
final class RunFields {
  static final int MAX_RUN_ID_LENGTH = 128;

  private final Set<String> configuredDatasets;

  RunFields(Set<String> configuredDatasets) {
    this.configuredDatasets = configuredDatasets;
  }

  ParseResult parse(JsonNode root) {
    String runId = null;
    JsonNode runIdNode = root.get("run_id");
    if (!absent(runIdNode)) {
      if (!runIdNode.isTextual()) {
        return wrongType("run_id", "a string", runIdNode);
      }
      runId = runIdNode.asText();
      if (runId.isEmpty()
          || runId.length() > MAX_RUN_ID_LENGTH
          || runId.chars().anyMatch(Character::isISOControl)
          || !runId.equals(new String(runId.getBytes(UTF_8), UTF_8))) { // a lone surrogate
        return reject(
            Reason.INVALID_VALUE,
            "run_id must be 1 to "
                + MAX_RUN_ID_LENGTH
                + " characters without control characters or lone surrogates");
      }
    }
    boolean thenSuspend = false;
    JsonNode then = root.get("then");
    if (!absent(then)) {
      if (!then.isTextual()) {
        return wrongType("then", "the string \"suspend\"", then);
      }
      if (!then.asText().strip().equalsIgnoreCase("suspend")) {
        return reject(
            Reason.INVALID_VALUE,
            "then " + quote(then.asText()) + " is not supported (only \"suspend\")");
      }
      thenSuspend = true;
    }
    Optional<Boolean> dryRun = bool(root, "dry_run");
    if (dryRun.isEmpty()) {
      return wrongType("dry_run", "true or false", root.get("dry_run"));
    }
    Set<String> datasets = new LinkedHashSet<>();
    JsonNode list = root.get("datasets");
    if (!absent(list)) {
      if (!list.isArray()) {
        return wrongType("datasets", "a list of \"source-name:dataset\" strings", list);
      }
      if (list.isEmpty()) {
        return reject(
            Reason.INVALID_VALUE,
            "datasets is an empty list (leave it out to run every configured dataset)");
      }
      for (JsonNode entry : list) {
        if (!entry.isTextual()) {
          return wrongType("datasets[]", "a \"source-name:dataset\" string", entry);
        }
        String name = entry.asText();
        Optional<String> problem = unconfigured(name);
        if (problem.isPresent()) {
          return reject(Reason.UNCONFIGURED_DATASET, problem.get());
        }
        datasets.add(name);
      }
    }
    return new Accepted(new AgentCommand.Run(runId, thenSuspend, dryRun.get(), datasets));
  }

  /** Why {@code name} is not a configured {@code source-name:dataset}; empty when it is one. */
  Optional<String> unconfigured(String name) {
    if (configuredDatasets.contains(name)) {
      return Optional.empty();
    } else if (name.indexOf(':') < 0) {
      return Optional.of(
          "dataset " + quote(name) + " is not configured: entries are \"source-name:dataset\"");
    }
    for (String configured : configuredDatasets) {
      if (name.startsWith(configured + "/")) {
        return Optional.of(
            "dataset "
                + quote(name)
                + " is not configured: it is inside "
                + quote(configured)
                + "; name the configured dataset (it includes its children)");
      }
    }
    return Optional.of(
        "dataset "
            + quote(name)
            + " is not configured (configured: "
            + String.join(", ", new TreeSet<>(configuredDatasets))
            + ")");
  }
}
