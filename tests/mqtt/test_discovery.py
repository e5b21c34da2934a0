"""Home Assistant discovery: what HA requires of each component, and templates that pick the
right messages (rendered with Jinja the way Home Assistant renders them)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from sensord.model import EXERCISES, ActivityState, LinkState, WearableStatus
from sensord.sinks import payloads
from sensord.sinks.discovery import (
    DiscoveryContext,
    all_messages,
    bridge_messages,
    wearable_messages,
)
from sensord.sinks.topics import Topics
from sensord.store import DailyTotals
from tests.mqtt.helpers import schema

CTX = DiscoveryContext(prefix="homeassistant", topics=Topics("sensord"), version="0.1.0",
                       status_expire_s=30)
# Home Assistant's own pattern for discovery topics (homeassistant/components/mqtt/discovery.py).
HA_TOPIC = re.compile(r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)"
                      r"?(?P<object_id>[a-zA-Z0-9_-]+)/config")

_ENV = ImmutableSandboxedEnvironment()
_ENV.filters["to_json"] = json.dumps


def render(template: str, payload: dict[str, Any]) -> str:
    """Renders a value template as Home Assistant does: ``value_json`` is the parsed payload."""
    return _ENV.from_string(template).render(value_json=payload, value=json.dumps(payload)).strip()


def components(ident: str = "left") -> dict[str, dict[str, Any]]:
    (message,) = wearable_messages(CTX, "device", ident, "Left")
    cmps: dict[str, dict[str, Any]] = message.payload["cmps"]
    return cmps


def event(**fields: Any) -> dict[str, Any]:
    return {"v": 1, "device": "left", "seq": 7, "ts": "2025-06-01T08:00:00.000Z", **fields}


def test_device_payloads_carry_what_home_assistant_requires() -> None:
    messages = all_messages(CTX, "device", {"left": "left", "Right Foot": "right_foot"})
    assert set(messages) == {"sensord_sensord_bridge", "sensord_sensord_left",
                             "sensord_sensord_right_foot"}
    unique_ids: list[str] = []
    for items in messages.values():
        (message,) = items
        assert HA_TOPIC.fullmatch(message.topic.removeprefix("homeassistant/"))
        jsonschema.validate(message.payload, schema("discovery_device"))
        unique_ids += [c["unique_id"] for c in message.payload["cmps"].values()
                       if "unique_id" in c]
    assert len(unique_ids) == len(set(unique_ids))


def test_wearables_hang_off_the_bridge_and_need_both_availabilities() -> None:
    (bridge,) = bridge_messages(CTX, "device")
    (left,) = wearable_messages(CTX, "device", "left", "left")
    assert left.payload["dev"]["via_device"] == bridge.payload["dev"]["ids"][0]
    assert left.payload["availability_mode"] == "all"
    assert [a["topic"] for a in left.payload["availability"]] == [
        "sensord/bridge/availability", "sensord/left/availability"]
    assert [a["topic"] for a in bridge.payload["availability"]] == ["sensord/bridge/availability"]
    for entry in left.payload["availability"]:
        assert render(entry["value_template"], payloads.availability(True)) == "online"
        assert render(entry["value_template"], payloads.availability(False)) == "offline"


def test_the_components_the_issue_asks_for() -> None:
    cmps = components()
    kinds = {key: c["p"] for key, c in cmps.items()}
    assert {k for k, p in kinds.items() if p == "event"} == {"rep", "hold", "set", "session"}
    assert {k for k, p in kinds.items() if p == "button"} == {
        "cmd_start", "cmd_stop", "cmd_reset", "cmd_identify"}
    triggers = {(c["type"], c["subtype"]) for c in cmps.values() if c["p"] == "device_automation"}
    assert {("set_completed", e) for e in EXERCISES} <= triggers
    assert {("hold_completed", "plantar_flexion"), ("hold_completed", "toe_press")} <= triggers
    for exercise in EXERCISES:
        assert cmps[f"reps_today_{exercise}"]["state_class"] == "total_increasing"
    for key in ("battery", "rssi", "rate", "loss", "link"):
        assert cmps[key]["entity_category"] == "diagnostic"
        assert cmps[key]["expire_after"] == 30
        assert cmps[key]["state_topic"] == "sensord/left/status"
    assert cmps["cmd_identify"]["command_topic"] == "sensord/left/cmd/identify"


def test_event_entities_fire_only_for_their_own_events() -> None:
    cmps = components()
    rep = event(type="rep", exercise="toe_press", t_start=1.0, t_end=7.0, hold_s=5.2,
                short_hold=False)
    circle = event(type="rep", exercise="ankle_circle", t_start=1.0, t_end=2.0, direction="cw")
    done = event(type="set", exercise="toe_press", t_start=0.0, t_end=90.0, reps=10, target=10)
    step = event(type="step", exercise="walk", t=3.0)
    started = event(type="session_start", session_id="s1", t=0.0, reason="auto")
    ended = event(type="session", session_id="s1", reps=30, progress=0.75, exercises={})
    expected = {
        "rep": {id(rep): "toe_press", id(circle): "ankle_circle"},
        "hold": {id(rep): "toe_press"},
        "set": {id(done): "toe_press"},
        "session": {id(started): "started", id(ended): "ended"},
    }
    for key, fired in expected.items():
        comp = cmps[key]
        for message in (rep, circle, done, step, started, ended):
            text = render(comp["value_template"], message)
            if id(message) in fired:
                value = json.loads(text)
                assert value["event_type"] == fired[id(message)]
                assert value["event_type"] in comp["event_types"]
                assert value["seq"] == 7
            else:
                assert text == "", (key, message)


def test_device_triggers_match_their_payload_only() -> None:
    cmps = components()
    full = event(type="rep", exercise="plantar_flexion", t_start=0.0, t_end=6.0, hold_s=5.1,
                 short_hold=False)
    short = event(type="rep", exercise="plantar_flexion", t_start=0.0, t_end=3.0, hold_s=2.0,
                  short_hold=True)
    done = event(type="set", exercise="plantar_flexion", t_start=0.0, t_end=90.0, reps=10)

    def fires(key: str, message: dict[str, Any]) -> bool:
        return render(cmps[key]["value_template"], message) == cmps[key]["payload"]

    assert fires("hold_completed_plantar_flexion", full)
    assert not fires("hold_completed_plantar_flexion", short)
    assert not fires("hold_completed_toe_press", full)
    assert not fires("hold_completed_plantar_flexion", done)
    assert fires("set_completed_plantar_flexion", done)
    assert not fires("set_completed_plantar_flexion", full)
    assert not fires("set_completed_toe_walk", done)


def test_sensor_templates_read_the_payloads_we_publish() -> None:
    cmps = components()
    totals = DailyTotals("left", "2025-06-01", reps={**dict.fromkeys(EXERCISES, 0),
                                                     "toe_walk": 3},
                         sets=dict.fromkeys(EXERCISES, 0), hold_s={}, steps={"walk": 12})
    daily = payloads.daily(totals)
    assert render(cmps["reps_today_toe_walk"]["value_template"], daily) == "3"
    assert render(cmps["steps_today"]["value_template"], daily) == "12"
    status = payloads.status("left", WearableStatus(LinkState.STREAMING, rssi_dbm=-67.4,
                                                    rate_hz=99.96))
    assert render(cmps["rssi"]["value_template"], status) == "-67.0"
    assert render(cmps["rate"]["value_template"], status) == "100.0"
    assert render(cmps["battery"]["value_template"], status) == "None"  # unknown, not 0
    assert render(cmps["link"]["value_template"], status) in cmps["link"]["options"]
    activity = payloads.activity("left", ActivityState(t_s=3.0, exercise="toe_press", reps=4,
                                                       target=10, hold_s=2.5))
    assert render(cmps["exercise"]["value_template"], activity) == "toe_press"
    assert render(cmps["set_reps"]["value_template"], activity) == "4"
    assert render(cmps["hold_timer"]["value_template"], activity) == "2.5"
    assert render(cmps["exercise"]["value_template"], payloads.activity(
        "left", ActivityState())) == "none"


@pytest.mark.parametrize("ident", ["left", "right_foot"])
def test_entity_form_has_one_topic_per_component_with_device_and_origin(ident: str) -> None:
    messages = wearable_messages(CTX, "entity", ident, ident)
    assert len(messages) == len(components(ident))
    for message in messages:
        match = HA_TOPIC.fullmatch(message.topic.removeprefix("homeassistant/"))
        assert match is not None
        assert match["node_id"] == f"sensord_sensord_{ident}"
        assert "p" not in message.payload
        assert message.payload["dev"]["ids"] == [f"sensord_sensord_{ident}"]
        assert message.payload["o"]["name"] == "sensord"
        if match["component"] == "device_automation":
            assert {"automation_type", "topic", "type", "subtype"} <= set(message.payload)
        else:
            assert message.payload["availability_mode"] == "all"
            assert message.payload["unique_id"].startswith(f"sensord_sensord_{ident}_")
