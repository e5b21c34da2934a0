"""Every payload builder against its JSON Schema in docs/schemas, over generated inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensord.model import DIRECTIONS, EXERCISE_IDS, ActivityState, Event, LinkState, WearableStatus
from sensord.session import SessionStart, SessionSummary
from sensord.sinks import payloads
from sensord.store import DailyTotals, Store
from tests.mqtt.helpers import SCHEMAS, schema, synthetic_block

finite = st.floats(min_value=0.0, max_value=1e5, allow_nan=False)


@st.composite
def events(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(["rep", "step", "set", "exercise"]))
    exercise = draw(st.sampled_from(EXERCISE_IDS))
    t0 = draw(finite)
    if kind == "step":
        return Event(type="step", exercise=exercise, t=t0)
    if kind == "set":
        return Event(type="set", exercise=exercise, t_start=t0, t_end=t0 + 1,
                     reps=draw(st.integers(0, 50)), target=draw(st.integers(1, 50)))
    if kind == "exercise":
        return Event(type="exercise", exercise=exercise, t_start=t0, previous=draw(
            st.none() | st.sampled_from(EXERCISE_IDS)))
    return Event(type="rep", exercise=exercise, t_start=t0, t_end=t0 + 1,
                 direction=draw(st.none() | st.sampled_from(DIRECTIONS)),
                 hold_s=draw(st.none() | st.floats(0, 30)),
                 short_hold=draw(st.none() | st.booleans()))


def test_every_schema_is_a_valid_schema_and_names_v() -> None:
    files = sorted(SCHEMAS.glob("*.schema.json"))
    assert len(files) >= 10
    for path in files:
        document = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(document)
        if path.name != "discovery_device.schema.json":  # Home Assistant's format, not ours
            assert document["properties"]["v"] == {"const": 1}, path.name


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(events(), min_size=1, max_size=5))
def test_stored_events_match_the_event_schema(tmp_path: Path, batch: list[Event]) -> None:
    with Store.open(tmp_path / f"{id(batch)}.db") as store:
        rows = store.append("left", batch)
    for row in rows:
        jsonschema.validate(row.to_dict(), schema("event"))


def test_session_events_match_the_event_schema(tmp_path: Path) -> None:
    start = SessionStart("s1", "left", "left", 12.0, 1.7e9, "auto")
    summary = SessionSummary(
        session_id="s1", device="left", side="left", routine="default", start_reason="auto",
        end_reason="idle", t_start=12.0, t_end=612.0, started_wall_s=1.7e9,
        ended_wall_s=1.7e9 + 600, exercises=(),
    )
    with Store.open(tmp_path / "o.db") as store:
        rows = store.append("left", [start.to_dict(), summary.to_dict()])
    for row in rows:
        jsonschema.validate(row.to_dict(), schema("event"))


@given(st.builds(
    ActivityState, t_s=finite, exercise=st.none() | st.sampled_from(EXERCISE_IDS),
    reps=st.integers(0, 99), target=st.none() | st.integers(1, 99),
    hold_s=st.none() | st.floats(0, 60), direction=st.none() | st.sampled_from(DIRECTIONS),
    steps=st.integers(0, 10_000), still=st.booleans(),
))
def test_activity(state: ActivityState) -> None:
    jsonschema.validate(payloads.activity("left", state), schema("activity"))


def test_activity_before_any_sample_and_with_a_session() -> None:
    jsonschema.validate(payloads.activity("left", ActivityState()), schema("activity"))
    with_session = payloads.activity("left", ActivityState(), {"active": True, "set_reps": 2})
    jsonschema.validate(with_session, schema("activity"))
    assert with_session["session"]["set_reps"] == 2


@given(st.builds(
    WearableStatus, link=st.sampled_from(list(LinkState)),
    battery_pct=st.none() | st.floats(0, 100), rssi_dbm=st.none() | st.floats(-120, 0),
    rate_hz=st.none() | st.floats(0, 1000) | st.just(float("nan")),
    loss_pct=st.none() | st.floats(0, 100),
))
def test_status(value: WearableStatus) -> None:
    body = payloads.status("left", value)
    jsonschema.validate(body, schema("status"))
    payloads.encode(body)  # NaN never reaches the wire


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("availability", payloads.availability(True)),
        ("availability", payloads.availability(False)),
        ("bridge_state", payloads.BridgeState("0.1.0", 12.5, ["left"], 0, 3).payload()),
        ("daily", payloads.daily(DailyTotals(
            "left", "2025-06-01", dict.fromkeys(("plantar_flexion", "ankle_circle", "toe_press",
                                                 "toe_walk"), 1),
            dict.fromkeys(("plantar_flexion", "ankle_circle", "toe_press", "toe_walk"), 0),
            {"plantar_flexion": 5.0, "toe_press": 0.0}, {"walk": 3, "toe_walk": 0}))),
        ("cmd_result", payloads.command_result("left", "identify", ok=False, message="no",
                                               ts="2025-06-01T08:00:00.000Z", request_id="7")),
        ("cmd_request", {"v": 1, "request_id": "abc"}),
        ("raw", payloads.raw_batch("left", [synthetic_block(0.2), synthetic_block(0.1)])),
    ],
)
def test_state_payloads(name: str, body: dict[str, Any]) -> None:
    jsonschema.validate(body, schema(name))


def test_daily_from_an_empty_store_has_every_exercise(tmp_path: Path) -> None:
    with Store.open(tmp_path / "o.db") as store:
        jsonschema.validate(payloads.daily(store.daily_totals("left")), schema("daily"))


def test_schemas_reject_what_they_should() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"v": 1, "state": "maybe"}, schema("availability"))
    with pytest.raises(jsonschema.ValidationError):  # a rep needs its times
        jsonschema.validate({"v": 1, "type": "rep", "exercise": "toe_press", "device": "l",
                             "seq": 1, "ts": "2025-06-01T08:00:00Z"}, schema("event"))
