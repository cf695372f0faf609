"""Renders Home Assistant MQTT value templates with real Jinja2, for the discovery tests.

Reads a JSON list of cases on stdin: {"template", "payload" (the MQTT payload text), "this_state",
"now" (ISO-8601, optional), "states" (entity id -> state, optional)}; writes a JSON list of the rendered strings. Provides what the
agent's templates use from Home Assistant's template environment: value, value_json, this (the
entity's state object: .state, .attributes), now(), as_datetime, timedelta, states(), is_state()
and the tojson filter
(https://www.home-assistant.io/docs/configuration/templating/,
https://www.home-assistant.io/integrations/mqtt/#using-templates). A template error fails the
whole run, as it would log an error in Home Assistant.
"""
import datetime
import json
import sys

import jinja2


def as_datetime(value):
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class This:
    def __init__(self, state):
        self.state = state
        self.attributes = {}


env = jinja2.Environment()
out = []
for case in json.load(sys.stdin):
    now = as_datetime(case["now"]) if case.get("now") else datetime.datetime.now(datetime.timezone.utc)
    payload = case["payload"]
    try:
        value_json = json.loads(payload)
    except ValueError:
        value_json = None
    states = case.get("states") or {}
    template = env.from_string(case["template"])
    out.append(
        template.render(
            value=payload,
            value_json=value_json,
            this=This(case.get("this_state", "unknown")),
            now=lambda: now,
            as_datetime=as_datetime,
            timedelta=datetime.timedelta,
            states=lambda entity_id: states.get(entity_id, "unknown"),
            is_state=lambda entity_id, state: states.get(entity_id, "unknown") == state,
        )
    )
json.dump(out, sys.stdout)
