"""SIGHUP applies the whole config to a running `sensord run` (real processes: `sensord
wearable` over the bumble TCP transport, real Mosquitto): wearables join and leave, links
restart, the MQTT session moves to another broker with the outbox, and a broken config keeps
the running one. Through all of it, a wearable that stays keeps its open session and no event
is lost."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.mqtt.helpers import Collector, PrivateBroker
from tests.service import procs
from tests.service.routines import Routine, one_exercise, write_routine

SPEED = 10.0


@pytest.fixture
def left_motion(tmp_path: Path) -> Routine:
    return write_routine(tmp_path, one_exercise("plantar_flexion", "seated"), side="left",
                         seed=2)


@pytest.fixture
def right_motion(tmp_path: Path) -> Routine:
    return write_routine(tmp_path, one_exercise("toe_press", "standing"), side="right", seed=3)


@pytest_asyncio.fixture
async def notify_socket(tmp_path: Path) -> Any:
    listener = procs.NotifySocket(tmp_path / "notify")
    try:
        yield listener
    finally:
        listener.close()


def _events(seen: Collector, base: str, device: str, kind: str | None = None
            ) -> list[dict[str, Any]]:
    return [e for e in procs.received_events(seen, base, device)
            if kind is None or e["type"] == kind]


def _reps(seen: Collector, base: str, device: str) -> int:
    return len(_events(seen, base, device, "rep"))


def _availability(seen: Collector, base: str, device: str) -> list[str]:
    """The availability payloads seen, empty ones (a cleared retained topic) left out."""
    return [m.json()["state"] for m in seen.on(f"{base}/{device}/availability") if m.payload]


def _discovery(seen: Collector, prefix: str, device: str) -> list[bytes]:
    """The payloads on the wearable's device discovery topic, in order."""
    return [m.payload for m in seen.messages
            if m.topic.startswith(f"{prefix}/device/") and device in m.topic]


def _assert_delivered(store: Path, base: str, *seen: Collector) -> dict[str, list[Any]]:
    """Every stored event was delivered and reached a subscriber (on one broker or another),
    each wearable's seq without a gap. Returns the received events per device."""
    stored = procs.stored_events(store)
    assert stored
    assert all(row["_delivered"] for row in stored)
    out: dict[str, list[Any]] = {}
    for device in sorted({row["device"] for row in stored}):
        got: dict[int, Any] = {}
        for collector in seen:
            for event in procs.received_events(collector, base, device):
                got.setdefault(int(event["seq"]), event)
        mine = [row for row in stored if row["device"] == device]
        assert sorted(got) == [row["seq"] for row in mine] == list(range(1, len(mine) + 1))
        out[device] = [got[k] for k in sorted(got)]
    return out


def _one_intact_session(events: list[Any]) -> dict[str, Any]:
    """One session from start to the summary at SIGTERM, counting every rep published."""
    starts = [e for e in events if e["type"] == "session_start"]
    summaries = [e for e in events if e["type"] == "session"]
    assert len(starts) == len(summaries) == 1, [e["type"] for e in events]
    summary: dict[str, Any] = summaries[0]
    assert summary["session_id"] == starts[0]["session_id"]
    assert summary["end_reason"] == "finish"
    reps = [e for e in events if e["type"] == "rep"]
    assert sum(item["reps"] for item in summary["exercises"].values()) == len(reps)
    return summary


async def _stop(daemon: subprocess.Popen[str], log: Path) -> str:
    daemon.send_signal(signal.SIGTERM)
    await asyncio.to_thread(daemon.wait, 10)
    text = await asyncio.to_thread(log.read_text)
    assert daemon.returncode == 0, text[-3000:]
    return text


@pytest.mark.asyncio
async def test_sighup_adds_a_wearable_and_restarts_only_the_links_a_ble_change_concerns(
    broker_url: str, tmp_path: Path, left_motion: Routine, right_motion: Routine,
) -> None:
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#", f"{prefix}/#"]) as seen:
        with procs.left_foot(config, left_motion.motion, broker_url=broker_url, base=base,
                             prefix=prefix, store=store, speed=SPEED) as (left, daemon):
            await seen.wait_for(lambda c: _reps(c, base, "left") >= 2, 60, "two left reps")
            with procs.wearable("right", side="right", motion=str(right_motion.motion),
                                speed=SPEED) as right:
                # The right foot joins, and a [ble] timing changes (the left link restarts).
                procs.write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                                   wearables=(left, right), store=store,
                                   sides=("left", "right"), stale_after_s=2.5)
                daemon.send_signal(signal.SIGHUP)
                before = _reps(seen, base, "left")
                await seen.wait_for(lambda c: _reps(c, base, "right") >= 2, 60,
                                    "two reps of the added wearable")
                await seen.wait_for(lambda c: _reps(c, base, "left") >= before + 2, 60,
                                    "the left foot counting on")
                log = await _stop(daemon, tmp_path / "sensord.log")
        await asyncio.sleep(0.3)
    received = _assert_delivered(store, base, seen)
    assert "added right" in log
    assert "link restarted left" in log
    # The left link restarted once (a second connection) and the right one never did.
    until_stop = log.split("INFO sensord.runner: stopping")[0]
    assert until_stop.count("wearable left: connecting -> streaming") == 2
    assert until_stop.count("wearable right: connecting -> streaming") == 1
    # The left foot's session went through the link restart: one session, every rep in it.
    _one_intact_session(received["left"])
    assert any(e["type"] == "rep" and e["exercise"] == "toe_press" for e in received["right"])
    assert "online" in _availability(seen, base, "right")
    discovery = _discovery(seen, prefix, "right")
    assert discovery
    assert discovery[-1]  # announced to Home Assistant, not removed


@pytest.mark.asyncio
async def test_sighup_removes_a_wearable_which_goes_offline_while_the_other_counts_on(
    broker_url: str, tmp_path: Path, left_motion: Routine, right_motion: Routine,
) -> None:
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#", f"{prefix}/#"]) as seen:
        with procs.two_feet(config, left_motion.motion, right_motion.motion,
                            broker_url=broker_url, base=base, prefix=prefix, store=store,
                            speed=SPEED) as (left, _, daemon):
            await seen.wait_for(
                lambda c: _reps(c, base, "left") >= 2 and _reps(c, base, "right") >= 2,
                60, "two reps of each foot")
            procs.write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                               wearables=(left,), store=store, sides=("left",))
            daemon.send_signal(signal.SIGHUP)
            await seen.wait_for(
                lambda c: bool(_events(c, base, "right", "session")), 30,
                "the removed wearable's session summary")
            await seen.wait_for(
                lambda c: _discovery(c, prefix, "right")[-1:] == [b""], 30,
                "the removed wearable's discovery removed")
            after = _reps(seen, base, "left")
            await seen.wait_for(lambda c: _reps(c, base, "left") >= after + 2, 60,
                                "the left foot counting on")
            right_reps = _reps(seen, base, "right")
            log = await _stop(daemon, tmp_path / "sensord.log")
        await asyncio.sleep(0.3)
    received = _assert_delivered(store, base, seen)
    assert "removed right" in log
    # The removed foot: its session closed and published, then offline, then forgotten.
    summary = _one_intact_session(received["right"])
    assert summary["device"] == "right"
    assert _availability(seen, base, "right")[-1] == "offline"
    assert _reps(seen, base, "right") == right_reps  # nothing after it left
    # The other foot never noticed: one session, still open until SIGTERM, every rep in it.
    _one_intact_session(received["left"])
    assert _discovery(seen, prefix, "left")[-1]


@pytest.mark.asyncio
async def test_sighup_moves_mqtt_to_another_broker_and_the_outbox_goes_with_it(
    tmp_path: Path, left_motion: Routine,
) -> None:
    brokers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        broker = PrivateBroker(tmp_path / name)
        broker.start()
        brokers.append(broker)
    first, second = brokers
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    try:
        async with (
            Collector(first.port, [f"{base}/#"], client_id=f"a{prefix}",
                      persistent=True) as on_first,
            Collector(second.port, [f"{base}/#"], client_id=f"b{prefix}",
                      persistent=True) as on_second,
        ):
            with procs.left_foot(config, left_motion.motion, broker_url=first.url, base=base,
                                 prefix=prefix, store=store, speed=SPEED) as (left, daemon):
                await on_first.wait_for(lambda c: _reps(c, base, "left") >= 2, 60,
                                        "two reps on the first broker")
                procs.write_config(config, broker_url=second.url, base=base, prefix=prefix,
                                   wearables=(left,), store=store, sides=("left",))
                daemon.send_signal(signal.SIGHUP)
                await on_second.wait_for(lambda c: _reps(c, base, "left") >= 1, 60,
                                         "reps on the second broker")
                # The first broker was told the bridge went offline on the way out.
                bridge = [m.json()["state"] for m in on_first.on(f"{base}/bridge/availability")]
                assert bridge[-1] == "offline"
                # The second broker goes away; reps are stored meanwhile, then the config
                # names the first broker again: what waited in the outbox is delivered there.
                second.stop()
                stored_before = len(procs.stored_events(store))
                await asyncio.sleep(2.0)
                waiting = len(procs.stored_events(store)) - stored_before
                pending = sum(not r["_delivered"] for r in procs.stored_events(store))
                procs.write_config(config, broker_url=first.url, base=base, prefix=prefix,
                                   wearables=(left,), store=store, sides=("left",))
                daemon.send_signal(signal.SIGHUP)
                await on_first.wait_for(
                    lambda c: _reps(c, base, "left") + _reps(on_second, base, "left")
                    >= _reps_stored(store), 30, "the outbox on the first broker")
                log = await _stop(daemon, tmp_path / "sensord.log")
            await asyncio.sleep(0.3)
    finally:
        for broker in brokers:
            broker.stop()
    assert waiting >= 1  # events were stored while no broker took them
    assert pending >= 1
    received = _assert_delivered(store, base, on_first, on_second)
    _one_intact_session(received["left"])
    assert log.count("MQTT session moving to") == 2
    assert f"leaving {first.url} for {second.url}" in log
    assert f"leaving {second.url}" not in log  # it was down: nothing to say goodbye to


def _reps_stored(store: Path) -> int:
    return sum(1 for row in procs.stored_events(store) if row["type"] == "rep")


@pytest.mark.asyncio
async def test_a_broken_config_on_sighup_keeps_the_running_one_with_one_line_naming_the_key(
    broker_url: str, tmp_path: Path, left_motion: Routine, notify_socket: procs.NotifySocket,
) -> None:
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#"]) as seen:
        with procs.left_foot(config, left_motion.motion, broker_url=broker_url, base=base,
                             prefix=prefix, store=store, speed=SPEED,
                             extra_env={"NOTIFY_SOCKET": str(notify_socket.path)},
                             ) as (left, daemon):
            await seen.wait_for(lambda c: _reps(c, base, "left") >= 1, 60, "a rep")
            good = config.read_text()
            # A bad adapter name, a config without any wearable, an unknown profile: each
            # refused.
            config.write_text(good.replace(f'adapter = "{left.adapter}"', 'adapter = "wlan0"'))
            daemon.send_signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            config.write_text(good.split("[[wearable]]")[0])
            daemon.send_signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            config.write_text(good.replace('side = "left"', 'side = "left"\nprofile = "nope"'))
            daemon.send_signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            reps = _reps(seen, base, "left")
            await seen.wait_for(lambda c: _reps(c, base, "left") >= reps + 2, 60,
                                "the foot counting on")
            log = await _stop(daemon, tmp_path / "sensord.log")
    received = _assert_delivered(store, base, seen)
    _one_intact_session(received["left"])
    failed = [line for line in log.splitlines() if "config reload failed" in line]
    assert len(failed) == 3, failed
    assert f"{config}:" in failed[0]
    assert "wearable[0].adapter:" in failed[0]
    assert "wlan0" in failed[0]
    assert f"{config}: wearable: no wearables" in failed[1]
    assert f"{config}: wearable[0].profile: unknown profile 'nope'" in failed[2]
    assert "Traceback" not in log
    until_stop = log.split("INFO sensord.runner: stopping")[0]
    assert "wearable left: streaming -> " not in until_stop  # the link was never touched
    # Each SIGHUP: RELOADING=1 with the monotonic clock, then READY=1 again.
    fields = notify_socket.fields()
    reloads = [i for i, f in enumerate(fields) if f == "RELOADING=1"]
    assert len(reloads) == 3
    for index in reloads:
        assert fields[index + 1].startswith("MONOTONIC_USEC=")
        assert "READY=1" in fields[index + 2:]


@pytest.mark.asyncio
async def test_sighup_restarts_a_wearable_whose_side_changed_alone_and_keeps_the_store(
    broker_url: str, tmp_path: Path, left_motion: Routine, right_motion: Routine,
) -> None:
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    elsewhere = tmp_path / "elsewhere.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#"]) as seen:
        # The right foot was set up as a left one; the fix comes with a new store path.
        with procs.two_feet(config, left_motion.motion, right_motion.motion,
                            broker_url=broker_url, base=base, prefix=prefix, store=store,
                            speed=SPEED, sides=("left", "left")) as (left, right, daemon):
            await seen.wait_for(
                lambda c: _reps(c, base, "left") >= 2 and _reps(c, base, "right") >= 1,
                60, "reps of each foot")
            procs.write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                               wearables=(left, right), store=elsewhere,
                               sides=("left", "right"))
            daemon.send_signal(signal.SIGHUP)
            await seen.wait_for(
                lambda c: bool(_events(c, base, "right", "session")), 30,
                "the restarted wearable's session summary")
            await seen.wait_for(
                lambda c: _availability(c, base, "right")[-1:] == ["online"], 30,
                "the restarted wearable back online")
            after = _reps(seen, base, "left")
            await seen.wait_for(lambda c: _reps(c, base, "left") >= after + 2, 60,
                                "the left foot counting on")
            log = await _stop(daemon, tmp_path / "sensord.log")
        await asyncio.sleep(0.3)
    received = _assert_delivered(store, base, seen)
    assert not elsewhere.exists()  # the running daemon kept its database
    warned = [line for line in log.splitlines() if "store.path changed" in line]
    assert len(warned) == 1
    assert str(elsewhere) in warned[0]
    assert "restarted right" in log
    # The right foot's first session ended at the restart, as it would at a daemon restart.
    first = next(e for e in received["right"] if e["type"] == "session")
    assert first["side"] == "left"
    assert first["end_reason"] == "finish"
    assert _availability(seen, base, "right")[-3:] == ["offline", "online", "offline"]
    # The left foot was left alone: its link never restarted, its session is whole.
    until_stop = log.split("INFO sensord.runner: stopping")[0]
    assert "wearable left: streaming -> " not in until_stop
    _one_intact_session(received["left"])


@pytest.mark.asyncio
async def test_a_sighup_still_applying_when_sigterm_comes_ends_with_the_stop(
    broker_url: str, tmp_path: Path, left_motion: Routine, right_motion: Routine,
    notify_socket: procs.NotifySocket,
) -> None:
    """The reload restarts a wearable that does not answer (its goodbye takes the whole grace),
    and SIGTERM comes meanwhile: the stop goes through cleanly, nothing restarts on the way out,
    and the reload ending late does not tell systemd the service is ready again."""
    base, prefix = procs.unique_space()
    store = tmp_path / "sensord.db"
    config = tmp_path / "sensord.toml"
    async with Collector(1883, [f"{base}/#"]) as seen:
        with procs.two_feet(config, left_motion.motion, right_motion.motion,
                            broker_url=broker_url, base=base, prefix=prefix, store=store,
                            speed=SPEED,
                            extra_env={"NOTIFY_SOCKET": str(notify_socket.path)},
                            ) as (left, right, daemon):
            await seen.wait_for(
                lambda c: _reps(c, base, "left") >= 1 and _reps(c, base, "right") >= 1,
                60, "a rep of each foot")
            procs.write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                               wearables=(left, right), store=store, sides=("left", "left"))
            right.pause()  # its link's stop writes hang until the grace runs out
            try:
                daemon.send_signal(signal.SIGHUP)
                await asyncio.sleep(0.3)
                log = await _stop(daemon, tmp_path / "sensord.log")
            finally:
                right.resume()
    assert "restarted right" in log
    assert "Traceback" not in log
    after_stop = log.split("INFO sensord.runner: stopping")[1]
    assert "wearable right: idle -> scanning" not in after_stop  # no restart on the way out
    fields = notify_socket.fields()
    stopping = fields.index("STOPPING=1")
    assert "RELOADING=1" in fields[:stopping]
    assert "READY=1" not in fields[stopping:], fields[stopping:]
    assert fields[-2:] == ["STOPPING=1", "STATUS=stopped"]
