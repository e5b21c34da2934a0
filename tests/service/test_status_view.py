"""`sensord status`: the live view in a real pseudo-terminal, the JSON snapshot, and the message
when no daemon answers. The daemon's side is played by publishing its payloads (built by the
daemon's own payload and session classes) to the shared Mosquitto."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess

import aiomqtt
import pexpect
import pytest

from sensord.model import ActivityState, LinkState, WearableStatus
from sensord.session import ExerciseSummary, SessionSnapshot
from sensord.sinks import payloads
from tests.service import procs


def _activity(reps: int, hold_s: float | None) -> bytes:
    snapshot = SessionSnapshot(
        active=True, session_id="left-1", t_s=100.0, elapsed_s=60.0,
        exercise="plantar_flexion", set_reps=reps, target=10, hold_s=hold_s, hold_target_s=5.0,
        next="plantar_flexion", progress=reps / 50,
        exercises=(
            ExerciseSummary("plantar_flexion", 10, reps=reps, full=reps, done=reps, units=10),
            ExerciseSummary("ankle_circle", 10, units=20),
        ),
    )
    state = ActivityState(t_s=100.0, exercise="plantar_flexion", reps=reps, target=10,
                          hold_s=hold_s)
    return payloads.encode(payloads.activity("left", state, snapshot.to_dict()))


async def _daemon_side(client: aiomqtt.Client, base: str) -> None:
    """What a daemon with one wearable in a plantar-flexion set publishes."""
    await client.publish(f"{base}/bridge/availability",
                         payloads.encode(payloads.availability(True)), qos=1, retain=True)
    state = payloads.BridgeState("0.1.0", 12.0, ["left"], 0, 0).payload()
    await client.publish(f"{base}/bridge/state", payloads.encode(state), qos=1, retain=True)
    await client.publish(f"{base}/left/availability",
                         payloads.encode(payloads.availability(True)), qos=1, retain=True)


async def _live_side(client: aiomqtt.Client, base: str) -> None:
    """The daemon's periodic and event messages (not retained: only live subscribers see them)."""
    status = WearableStatus(LinkState.STREAMING, battery_pct=81, rssi_dbm=-60, rate_hz=99.8,
                            loss_pct=0.4)
    await client.publish(f"{base}/left/status",
                         payloads.encode(payloads.status("left", status)), qos=0)
    for seq in (1, 2, 3):
        event = {"v": 1, "type": "rep", "exercise": "plantar_flexion", "t_start": seq * 8.0,
                 "t_end": seq * 8.0 + 6, "hold_s": 5.2, "device": "left", "seq": seq,
                 "ts": "2026-01-01T00:00:00.000Z"}
        await client.publish(f"{base}/left/event", json.dumps(event), qos=1)


async def _clear(client: aiomqtt.Client, base: str) -> None:
    for topic in ("bridge/availability", "bridge/state", "left/availability"):
        await client.publish(f"{base}/{topic}", b"", qos=1, retain=True)


@pytest.mark.asyncio
async def test_the_live_view_shows_counts_and_the_hold_timer_counting_up(
    broker_url: str,
) -> None:
    base, _ = procs.unique_space()
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        await _daemon_side(client, base)
        view = pexpect.spawn(
            procs.SENSORD[0], [*procs.SENSORD[1:], "status", "--broker", broker_url,
                               "--base-topic", base],
            env=procs.env(TERM="xterm-256color", COLUMNS="120", LINES="40"),
            cwd=str(procs.ROOT), dimensions=(40, 120), encoding="utf-8", timeout=20,
        )
        try:
            await asyncio.to_thread(view.expect, r"daemon .*online")
            await _live_side(client, base)
            await client.publish(f"{base}/left/activity", _activity(3, None))
            await asyncio.to_thread(view.expect, r"reps 3/10")
            await asyncio.to_thread(view.expect, r"99\.8 Hz")
            await asyncio.to_thread(view.expect, r"#3 rep plantar flexion hold 5\.2 s")
            seen = []
            for tenth in range(5, 31, 5):  # the hold timer, as the activity topic counts it
                hold = tenth / 10
                await client.publish(f"{base}/left/activity", _activity(4, hold))
                await asyncio.to_thread(view.expect, rf"hold {hold:.1f} s of 5 s")
                seen.append(hold)
            assert seen == sorted(seen)
            await asyncio.to_thread(view.expect, r"reps 4/10")
        finally:
            view.terminate(force=True)
            await _clear(client, base)


@pytest.mark.asyncio
async def test_once_json_is_a_snapshot_for_scripts(broker_url: str) -> None:
    base, _ = procs.unique_space()
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        await _daemon_side(client, base)
        # Retained here, so the snapshot has it without racing the subscription.
        await client.publish(f"{base}/left/activity", _activity(3, 2.5), qos=1, retain=True)
        try:
            done = await asyncio.to_thread(
                subprocess.run,
                [*procs.SENSORD, "status", "--broker", broker_url, "--base-topic", base,
                 "--once", "--json", "--wait", "2"],
                capture_output=True, text=True, timeout=60, env=procs.env(), cwd=procs.ROOT,
                check=False,
            )
        finally:
            await client.publish(f"{base}/left/activity", b"", qos=1, retain=True)
            await _clear(client, base)
    assert done.returncode == 0, done.stderr
    snapshot = json.loads(done.stdout)
    assert snapshot["daemon"] == "online"
    left = snapshot["wearables"]["left"]
    assert left["reps"] == 3
    assert left["target"] == 10
    assert math.isclose(left["hold_s"], 2.5)
    assert left["availability"] == "online"


def test_no_daemon_gives_a_clear_message(broker_url: str) -> None:
    base, _ = procs.unique_space()
    done = subprocess.run(
        [*procs.SENSORD, "status", "--broker", broker_url, "--base-topic", base, "--once",
         "--json", "--wait", "0.5"],
        capture_output=True, text=True, timeout=60, env=procs.env(), cwd=procs.ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"sensord: error: no sensord daemon answers under {base}/ on mqtt://127.0.0.1:1883; "
        "check mqtt.base_topic and that `sensord run` is running"
    )


def test_no_broker_gives_a_clear_message() -> None:
    done = subprocess.run(
        [*procs.SENSORD, "status", "--broker", "mqtt://127.0.0.1:1", "--once"],
        capture_output=True, text=True, timeout=60, env=procs.env(), cwd=procs.ROOT,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sensord: error: cannot read the broker mqtt://127.0.0.1:1")
