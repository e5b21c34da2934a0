"""Faults around `sensord run` as a real process: SIGTERM mid-session, a wearable vanishing
mid-set, the broker restarting mid-session, a corrupt config, and what systemd's notify socket
receives (READY, STATUS, WATCHDOG only while samples flow during a session, STOPPING)."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.mqtt.helpers import Collector, PrivateBroker
from tests.service import procs
from tests.service.routines import Routine, one_exercise, write_routine

SPEED = 10.0


def _events(seen: Collector, base: str, kind: str | None = None) -> list[dict[str, object]]:
    events = procs.received_events(seen, base, "left")
    return [e for e in events if kind is None or e["type"] == kind]


def _reps(seen: Collector, base: str, exercise: str) -> int:
    return sum(1 for e in _events(seen, base, "rep") if e["exercise"] == exercise)


def _assert_nothing_lost(seen: Collector, base: str, store: Path) -> list[dict[str, object]]:
    """Every stored event was delivered and reached the subscriber, each seq once, in order."""
    stored = procs.stored_events(store)
    assert stored
    assert all(row["_delivered"] for row in stored)
    received = procs.received_events(seen, base, "left")
    assert [e["seq"] for e in received] == [row["seq"] for row in stored]
    assert [e["type"] for e in received] == [row["type"] for row in stored]
    return received


@pytest.fixture
def pf_motion(tmp_path: Path) -> Routine:
    return write_routine(tmp_path, one_exercise("plantar_flexion", "seated"), side="left",
                         seed=2)


@pytest.mark.asyncio
async def test_sighup_keeps_the_session_and_sigterm_loses_no_event_and_exits_within_5_s(
    broker_url: str, tmp_path: Path, pf_motion: Routine
) -> None:
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#"]) as seen:
        with procs.left_foot(
                config, pf_motion.motion, broker_url=broker_url, base=base, prefix=prefix,
                store=store, speed=SPEED,
        ) as (_worn, daemon):
            await seen.wait_for(lambda c: _reps(c, base, "plantar_flexion") >= 2, 60,
                                "two reps")
            # SIGHUP: a new target applies to the running session, which goes on.
            with config.open("a") as more:
                more.write("\n[routine.plantar_flexion]\nreps = 12\n")
            daemon.send_signal(signal.SIGHUP)
            await seen.wait_for(lambda c: _reps(c, base, "plantar_flexion") >= 3, 60,
                                "three reps")
            asked = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            await asyncio.to_thread(daemon.wait, 10)
            took_s = time.monotonic() - asked
        await asyncio.sleep(0.3)
    log = (tmp_path / "sensord.log").read_text()
    assert daemon.returncode == 0, log[-3000:]
    assert took_s < 5.0
    received = _assert_nothing_lost(seen, base, store)
    # The open session was closed on the way out, its summary published and kept.
    summary = received[-1]
    assert summary["type"] == "session"
    assert summary["end_reason"] == "finish"
    reps = [e for e in received if e["type"] == "rep"]
    assert summary["exercises"]["plantar_flexion"]["reps"] == len(reps) >= 3  # type: ignore[index]
    assert summary["exercises"]["plantar_flexion"]["target"] == 12  # type: ignore[index]
    assert len([e for e in received if e["type"] == "session_start"]) == 1
    assert "config reloaded" in log
    assert seen.on(f"{base}/bridge/availability")[-1].json()["state"] == "offline"
    assert seen.on(f"{base}/left/availability")[-1].json()["state"] == "offline"
    assert "disconnecting from" in log


@pytest.mark.asyncio
async def test_wearable_vanishing_mid_set_resumes_the_set_without_double_counting(
    broker_url: str, tmp_path: Path, pf_motion: Routine
) -> None:
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#"]) as seen:
        with procs.left_foot(
                config, pf_motion.motion, broker_url=broker_url, base=base, prefix=prefix,
                store=store, speed=SPEED, extra="[session]\nidle_end_s = 30.0\n",
                stale_after_s=0.5,
        ) as (worn, daemon):
            await seen.wait_for(lambda c: _reps(c, base, "plantar_flexion") >= 3, 60,
                                "three reps")
            worn.pause()  # out of range: no radio, no samples
            await seen.wait_for(
                lambda c: c.on(f"{base}/left/availability")[-1].json()["state"]
                == "offline", 10, "the wearable going offline")
            await asyncio.sleep(1.0)
            worn.resume()
            await seen.wait_for(lambda c: bool(_events(c, base, "session")), 60,
                                "the session summary")
            daemon.send_signal(signal.SIGTERM)
            await asyncio.to_thread(daemon.wait, 10)
        await asyncio.sleep(0.3)
    log = (tmp_path / "sensord.log").read_text()
    assert daemon.returncode == 0, log[-3000:]
    received = _assert_nothing_lost(seen, base, store)
    states = [m.json()["state"] for m in seen.on(f"{base}/left/availability")]
    assert states.count("online") >= 2  # it came back
    reps = [e for e in received if e["type"] == "rep"]
    # The motion went on while the wearable was away (a rep or two is lost), none is counted
    # twice: the reps never overlap and there are at most the ten the set had.
    assert 6 <= len(reps) <= 10, [(r["t_start"], r["t_end"]) for r in reps]
    spans = [(float(r["t_start"]), float(r["t_end"])) for r in reps]  # type: ignore[arg-type]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    # One session through the gap, the set resumed in it.
    assert len([e for e in received if e["type"] == "session_start"]) == 1
    summary = next(e for e in received if e["type"] == "session")
    assert summary["exercises"]["plantar_flexion"]["reps"] == len(reps)  # type: ignore[index]
    assert "reconnects" in log or "streaming" in log


@pytest.mark.asyncio
async def test_broker_restart_mid_session_loses_nothing(tmp_path: Path) -> None:
    routine = write_routine(tmp_path, one_exercise("toe_press", "standing"), side="left", seed=3)
    (tmp_path / "broker").mkdir()
    broker = PrivateBroker(tmp_path / "broker")
    broker.start()
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    try:
        async with Collector(broker.port, [f"{base}/#"], client_id=f"c{prefix}",
                             persistent=True) as seen:
            with procs.left_foot(
                    config, routine.motion, broker_url=broker.url, base=base, prefix=prefix,
                    store=store, speed=SPEED, extra="[session]\nidle_end_s = 20.0\n",
            ) as (_worn, daemon):
                await seen.wait_for(lambda c: _reps(c, base, "toe_press") >= 2, 60,
                                    "two reps")
                broker.stop()
                await asyncio.sleep(2.0)  # reps go on meanwhile, into the outbox
                await asyncio.to_thread(broker.start)
                await seen.wait_for(lambda c: bool(_events(c, base, "session")), 60,
                                    "the session summary")
                daemon.send_signal(signal.SIGTERM)
                await asyncio.to_thread(daemon.wait, 10)
            await asyncio.sleep(0.3)
    finally:
        broker.stop()
    log = (tmp_path / "sensord.log").read_text()
    assert daemon.returncode == 0, log[-3000:]
    received = _assert_nothing_lost(seen, base, store)
    reps = [e for e in received if e["type"] == "rep"]
    assert len(reps) >= 8
    assert "unreachable" in log  # the outage was noticed, and survived


def test_a_corrupt_config_gives_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[mqtt]\nurl = "mqtt://127.0.0.1"\n\n[ble]\nadapter = "wlan0"\n')
    done = subprocess.run([*procs.SENSORD, "run", "--config", str(config)], capture_output=True,
                          text=True, timeout=60, env=procs.env(), cwd=procs.ROOT, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{config}:5: ble.adapter:" in lines[0]
    assert "wlan0" in lines[0]


# --- sd_notify ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def notify_socket(tmp_path: Path) -> AsyncIterator[procs.NotifySocket]:
    listener = procs.NotifySocket(tmp_path / "notify")
    try:
        yield listener
    finally:
        listener.close()


@pytest.mark.asyncio
async def test_notify_ready_status_watchdog_and_no_watchdog_while_samples_stop(
    broker_url: str, tmp_path: Path, pf_motion: Routine, notify_socket: procs.NotifySocket
) -> None:
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#"]) as seen:
        extra_env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "400000"}
        with procs.left_foot(
                config, pf_motion.motion, broker_url=broker_url, base=base, prefix=prefix,
                store=store, speed=SPEED, extra="[service]\nstall_s = 1.0\n", stale_after_s=30.0,
                extra_env=extra_env,
        ) as (worn, daemon):
            await seen.wait_for(lambda c: bool(_events(c, base, "session_start")), 60,
                                "a session")
            fields = notify_socket.fields()
            assert "READY=1" in fields
            assert any(f.startswith("STATUS=") for f in fields)
            await asyncio.sleep(1.0)
            assert "WATCHDOG=1" in notify_socket.fields(time.monotonic() - 0.9)
            # Samples stop during the session (the stream stays "up": a silent stall).
            worn.pause()
            paused = time.monotonic()
            await asyncio.sleep(3.5)
            worn.resume()
            resumed = time.monotonic()
            quiet = notify_socket.fields(paused + 1.6, resumed)
            await asyncio.sleep(1.5)
            back = notify_socket.fields(resumed + 0.5)
            daemon.send_signal(signal.SIGTERM)
            await asyncio.to_thread(daemon.wait, 10)
    log = (tmp_path / "sensord.log").read_text()
    assert daemon.returncode == 0, log[-3000:]
    assert "WATCHDOG=1" not in quiet, quiet
    assert any("no samples" in f for f in quiet if f.startswith("STATUS=")), quiet
    assert "WATCHDOG=1" in back, back
    assert "STOPPING=1" in notify_socket.fields()
