"""Home Assistant MQTT discovery payloads (pure: no MQTT here).

Two forms, chosen by ``mqtt.discovery``:

- ``device`` (Home Assistant 2024.11+): one retained message per device on
  ``<prefix>/device/<node>/config`` with ``dev``, ``o`` (origin) and ``cmps`` (components).
- ``entity``: the classic one message per component on ``<prefix>/<platform>/<node>/<key>/config``
  (older Home Assistant and other consumers), each carrying the same device and origin blocks.

The daemon is a ``bridge`` device; each wearable is a device linked to it with ``via_device``.
A wearable's entities are available only while both the bridge and the wearable say so
(``availability_mode: all``). Event payloads carry ``type`` rather than Home Assistant's
``event_type``, so each event entity has a template that picks its events and names their type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sensord.model import EXERCISES, LinkState
from sensord.sinks.topics import Topics

ORIGIN_NAME: Final = "sensord"
HOLD_EXERCISES: Final = ("plantar_flexion", "toe_press")
_ID_RE: Final = re.compile(r"[^a-zA-Z0-9_-]+")
_AVAILABILITY_TEMPLATE: Final = "{{ value_json.state }}"
_BUTTON_PAYLOAD: Final = '{"v":1}'

_LABELS: Final = {
    "plantar_flexion": "Plantar flexion",
    "ankle_circle": "Ankle circle",
    "toe_press": "Toe press",
    "toe_walk": "Toe walk",
}


def node_id(base_topic: str, ident: str) -> str:
    """The Home Assistant node id of a wearable (or ``bridge``): unique per base topic."""
    return _ID_RE.sub("_", f"sensord_{base_topic}_{ident}")


@dataclass(frozen=True, slots=True)
class DiscoveryContext:
    """What every discovery payload needs to know."""

    prefix: str
    topics: Topics
    version: str
    status_expire_s: int

    @property
    def bridge_node(self) -> str:
        return node_id(self.topics.base, "bridge")

    def node(self, ident: str) -> str:
        return node_id(self.topics.base, ident)

    def origin(self) -> dict[str, Any]:
        return {"name": ORIGIN_NAME, "sw": self.version}


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained discovery message. An empty ``payload`` removes what the topic announced."""

    topic: str
    payload: dict[str, Any]


def _event_template(condition: str, event_type: str) -> str:
    """Renders the event (all its fields as attributes) when ``condition`` holds, else nothing
    (Home Assistant ignores an empty rendering)."""
    return (
        f"{{% if {condition} %}}"
        f"{{{{ dict(value_json, event_type={event_type}) | to_json }}}}"
        "{% endif %}"
    )


def _number(path: str) -> str:
    """A template for a numeric field that may be ``null`` (``None`` makes the state unknown)."""
    return f"{{{{ value_json.{path} if value_json.{path} is not none else 'None' }}}}"


def _wearable_components(ctx: DiscoveryContext, ident: str) -> dict[str, dict[str, Any]]:
    topics = ctx.topics
    node = ctx.node(ident)
    event_topic = topics.event(ident)
    activity_topic = topics.activity(ident)
    daily_topic = topics.daily(ident)
    status_topic = topics.status(ident)
    comps: dict[str, dict[str, Any]] = {
        "rep": {
            "p": "event", "name": "Rep", "state_topic": event_topic,
            "event_types": list(EXERCISES),
            "value_template": _event_template("value_json.type == 'rep'", "value_json.exercise"),
        },
        "hold": {
            "p": "event", "name": "Hold", "state_topic": event_topic,
            "event_types": list(HOLD_EXERCISES),
            "value_template": _event_template(
                "value_json.type == 'rep' and value_json.hold_s is defined",
                "value_json.exercise",
            ),
        },
        "set": {
            "p": "event", "name": "Set", "state_topic": event_topic,
            "event_types": list(EXERCISES),
            "value_template": _event_template("value_json.type == 'set'", "value_json.exercise"),
        },
        "session": {
            "p": "event", "name": "Session", "state_topic": event_topic,
            "event_types": ["started", "ended"],
            "value_template": _event_template(
                "value_json.type in ('session_start', 'session')",
                "('started' if value_json.type == 'session_start' else 'ended')",
            ),
        },
        "exercise": {
            "p": "sensor", "name": "Exercise", "state_topic": activity_topic,
            "value_template": "{{ value_json.exercise or 'none' }}",
            "json_attributes_topic": activity_topic,
        },
        "set_reps": {
            "p": "sensor", "name": "Reps in set", "state_topic": activity_topic,
            "value_template": "{{ value_json.reps }}", "state_class": "measurement",
            "json_attributes_topic": activity_topic,
        },
        "hold_timer": {
            "p": "sensor", "name": "Hold timer", "state_topic": activity_topic,
            "value_template": "{{ value_json.hold_s if value_json.hold_s is not none else 0 }}",
            "device_class": "duration", "unit_of_measurement": "s",
            "state_class": "measurement",
        },
        "steps_today": {
            "p": "sensor", "name": "Steps today", "state_topic": daily_topic,
            "value_template": "{{ value_json.steps.walk }}", "state_class": "total_increasing",
            "unit_of_measurement": "steps",
        },
        "battery": {
            "p": "sensor", "name": "Battery", "state_topic": status_topic,
            "value_template": _number("battery_pct"), "device_class": "battery",
            "unit_of_measurement": "%", "state_class": "measurement",
            "entity_category": "diagnostic", "expire_after": ctx.status_expire_s,
        },
        "rssi": {
            "p": "sensor", "name": "Signal strength", "state_topic": status_topic,
            "value_template": _number("rssi_dbm"), "device_class": "signal_strength",
            "unit_of_measurement": "dBm", "state_class": "measurement",
            "entity_category": "diagnostic", "expire_after": ctx.status_expire_s,
        },
        "rate": {
            "p": "sensor", "name": "Sample rate", "state_topic": status_topic,
            "value_template": _number("rate_hz"), "device_class": "frequency",
            "unit_of_measurement": "Hz", "state_class": "measurement",
            "entity_category": "diagnostic", "expire_after": ctx.status_expire_s,
        },
        "loss": {
            "p": "sensor", "name": "Sample loss", "state_topic": status_topic,
            "value_template": _number("loss_pct"), "unit_of_measurement": "%",
            "state_class": "measurement", "entity_category": "diagnostic",
            "expire_after": ctx.status_expire_s,
        },
        "link": {
            "p": "sensor", "name": "Link", "state_topic": status_topic,
            "value_template": "{{ value_json.link }}", "device_class": "enum",
            "options": [state.value for state in LinkState],
            "entity_category": "diagnostic", "expire_after": ctx.status_expire_s,
        },
    }
    for exercise in EXERCISES:
        unit = "bouts" if exercise == "toe_walk" else "reps"
        comps[f"reps_today_{exercise}"] = {
            "p": "sensor", "name": f"{_LABELS[exercise]} {unit} today",
            "state_topic": daily_topic, "value_template": f"{{{{ value_json.reps.{exercise} }}}}",
            "state_class": "total_increasing", "unit_of_measurement": unit,
        }
        comps[f"set_completed_{exercise}"] = {
            "p": "device_automation", "automation_type": "trigger", "topic": event_topic,
            "type": "set_completed", "subtype": exercise, "payload": f"set:{exercise}",
            "value_template": "{{ value_json.type }}:{{ value_json.exercise }}",
        }
    for exercise in HOLD_EXERCISES:
        comps[f"hold_completed_{exercise}"] = {
            "p": "device_automation", "automation_type": "trigger", "topic": event_topic,
            "type": "hold_completed", "subtype": exercise, "payload": f"hold:{exercise}",
            "value_template": (
                "{{ 'hold' if value_json.type == 'rep' and value_json.hold_s is defined "
                "and not value_json.short_hold else 'other' }}:{{ value_json.exercise }}"
            ),
        }
    for command, label, extra in (
        ("start", "Start session", {}),
        ("stop", "Stop session", {}),
        ("reset", "Reset", {}),
        ("identify", "Identify", {"device_class": "identify", "entity_category": "config"}),
    ):
        comps[f"cmd_{command}"] = {
            "p": "button", "name": label, "command_topic": topics.cmd(ident, command),
            "payload_press": _BUTTON_PAYLOAD, **extra,
        }
    for key, comp in comps.items():
        if comp["p"] != "device_automation":
            comp["unique_id"] = f"{node}_{key}"
    return comps


def _bridge_components(ctx: DiscoveryContext) -> dict[str, dict[str, Any]]:
    state = ctx.topics.bridge_state
    node = ctx.bridge_node
    comps: dict[str, dict[str, Any]] = {
        "uptime": {
            "p": "sensor", "name": "Uptime", "state_topic": state,
            "value_template": "{{ value_json.uptime_s }}", "device_class": "duration",
            "unit_of_measurement": "s", "state_class": "measurement",
            "entity_category": "diagnostic",
        },
        "outbox_pending": {
            "p": "sensor", "name": "Events waiting", "state_topic": state,
            "value_template": "{{ value_json.outbox_pending }}", "state_class": "measurement",
            "entity_category": "diagnostic",
        },
        "outbox_dropped": {
            "p": "sensor", "name": "Events dropped", "state_topic": state,
            "value_template": "{{ value_json.outbox_dropped }}",
            "state_class": "total_increasing", "entity_category": "diagnostic",
        },
    }
    for key, comp in comps.items():
        comp["unique_id"] = f"{node}_{key}"
    return comps


def _bridge_device(ctx: DiscoveryContext) -> dict[str, Any]:
    return {
        "ids": [ctx.bridge_node], "name": f"sensord ({ctx.topics.base})",
        "mf": "sensord", "mdl": "sensord daemon", "sw": ctx.version,
    }


def _wearable_device(ctx: DiscoveryContext, ident: str, name: str) -> dict[str, Any]:
    return {
        "ids": [ctx.node(ident)], "name": f"sensord {name}", "mf": "sensord",
        "mdl": "Foot-worn IMU", "sw": ctx.version, "via_device": ctx.bridge_node,
    }


def _availability(ctx: DiscoveryContext, ident: str | None) -> dict[str, Any]:
    entries = [{"topic": ctx.topics.bridge_availability, "value_template": _AVAILABILITY_TEMPLATE}]
    if ident is not None:
        entries.append(
            {"topic": ctx.topics.availability(ident), "value_template": _AVAILABILITY_TEMPLATE}
        )
    return {"availability": entries, "availability_mode": "all"}


def _device_form(
    ctx: DiscoveryContext, node: str, dev: dict[str, Any], comps: dict[str, dict[str, Any]],
    availability: dict[str, Any],
) -> list[DiscoveryMessage]:
    payload = {"dev": dev, "o": ctx.origin(), "cmps": comps, "qos": 1, **availability}
    return [DiscoveryMessage(f"{ctx.prefix}/device/{node}/config", payload)]


def _entity_form(
    ctx: DiscoveryContext, node: str, dev: dict[str, Any], comps: dict[str, dict[str, Any]],
    availability: dict[str, Any],
) -> list[DiscoveryMessage]:
    out = []
    for key, comp in comps.items():
        config = {k: v for k, v in comp.items() if k != "p"}
        platform = comp["p"]
        config["dev"] = dev
        config["o"] = ctx.origin()
        config["qos"] = 1
        if platform != "device_automation":
            config.update(availability)
        out.append(DiscoveryMessage(f"{ctx.prefix}/{platform}/{node}/{key}/config", config))
    return out


def bridge_messages(ctx: DiscoveryContext, mode: str) -> list[DiscoveryMessage]:
    """The bridge device's discovery (``mode`` is ``device`` or ``entity``)."""
    form = _device_form if mode == "device" else _entity_form
    return form(ctx, ctx.bridge_node, _bridge_device(ctx), _bridge_components(ctx),
                _availability(ctx, None))


def wearable_messages(
    ctx: DiscoveryContext, mode: str, ident: str, name: str
) -> list[DiscoveryMessage]:
    """One wearable's discovery (``mode`` is ``device`` or ``entity``)."""
    form = _device_form if mode == "device" else _entity_form
    return form(ctx, ctx.node(ident), _wearable_device(ctx, ident, name),
                _wearable_components(ctx, ident), _availability(ctx, ident))


def all_messages(
    ctx: DiscoveryContext, mode: str, wearables: Mapping[str, str]
) -> dict[str, list[DiscoveryMessage]]:
    """node id -> its discovery messages, for the bridge and every wearable (name -> id)."""
    out = {ctx.bridge_node: bridge_messages(ctx, mode)}
    for name, ident in wearables.items():
        out[ctx.node(ident)] = wearable_messages(ctx, mode, ident, name)
    return out


__all__ = [
    "HOLD_EXERCISES", "DiscoveryContext", "DiscoveryMessage", "all_messages", "bridge_messages",
    "node_id", "wearable_messages",
]
