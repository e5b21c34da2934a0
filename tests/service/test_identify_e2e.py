"""`cmd/identify` end to end: `sensord wearable` and `sensord run` as real processes, a real
Mosquitto, and the wearable saying it was identified.

In the first test the daemon has two wearables configured: ``left`` is the virtual wearable
and streams; ``right`` is never seen, so its link keeps scanning and an identify to it is
refused with the reason. The second runs the wearable as a Thingy:52 (which shows itself) and
as a Movesense sensor (which cannot, and the answer says why).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from tests.mqtt.helpers import Collector
from tests.service import procs


async def _line_with(process: subprocess.Popen[str], text: str, timeout_s: float) -> str:
    """The first line of the process's stdout containing ``text`` (read in a thread)."""
    stdout = process.stdout
    assert stdout is not None
    async with asyncio.timeout(timeout_s):
        while True:
            line = await asyncio.to_thread(stdout.readline)
            if not line:
                raise AssertionError(f"the process ended before printing {text!r}")
            if text in line:
                return line


async def _identify_when_online(
    seen: Collector, base: str, requests: list[tuple[str, dict[str, object]]]
) -> None:
    """Waits until ``left`` is online, then sends each ``(wearable id, body)`` as a dashboard
    would."""
    await seen.wait_for(
        lambda c: any(m.json()["state"] == "online" for m in c.on(f"{base}/left/availability")),
        60, "left online")
    async with aiomqtt.Client("127.0.0.1", 1883, timeout=5) as dashboard:
        for ident, body in requests:
            await dashboard.publish(f"{base}/{ident}/cmd/identify", json.dumps(body).encode(),
                                    qos=1)


def _result(seen: Collector, base: str, ident: str, request_id: str) -> dict[str, object] | None:
    for answer in seen.json_on(f"{base}/{ident}/cmd/identify/result"):
        if answer.get("request_id") == request_id:
            return dict(answer)
    return None


@pytest.mark.asyncio
async def test_identify_blinks_the_connected_wearable_and_refuses_the_absent_one(
    broker_url: str, tmp_path: Path
) -> None:
    base, prefix = procs.unique_space()
    config = tmp_path / "sensord.toml"
    with procs.wearable("left", side="left", speed=1.0) as worn:
        absent = procs.Wearable(worn.process, worn.adapter, "right")
        procs.write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                           wearables=(worn, absent), store=tmp_path / "sensord.db",
                           sides=("left", "right"))
        async with Collector(1883, [f"{base}/#"]) as seen:
            with procs.daemon(config, speed=1.0):
                await _identify_when_online(seen, base, [
                    ("left", {"v": 1, "request_id": "L1", "duration_s": 2}),
                    ("right", {"v": 1, "request_id": "R1"}),
                    ("left", {"v": 1, "request_id": "L2", "duration_s": 600}),
                ])
                await seen.wait_for(
                    lambda c: all(_result(c, base, i, r) for i, r in
                                  (("left", "L1"), ("right", "R1"), ("left", "L2"))),
                    30, "three identify results")
                printed = await _line_with(worn.process, "identify", 10)
    left = _result(seen, base, "left", "L1")
    assert left is not None
    assert left["ok"] is True, left
    assert left["message"] == "blinking its LED for 2 s"
    assert printed.startswith("wearable left: identify #1 (blinking its LED for 2000 ms)")
    right = _result(seen, base, "right", "R1")
    assert right is not None
    assert right["ok"] is False
    assert "right is not connected" in str(right["message"])
    too_long = _result(seen, base, "left", "L2")
    assert too_long is not None
    assert too_long["ok"] is False
    assert "duration_s" in str(too_long["message"])


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("profile_id", "ok", "message", "printed"),
    [
        ("thingy52", True, "breathing its LED white for 5 s", "wearable left: identify #1 (LED"),
        ("movesense", False, "identify: not supported by profile movesense: the LED takes a "
                             "Whiteboard PUT", None),
    ],
)
async def test_identify_follows_the_wearables_profile(
    broker_url: str, tmp_path: Path, profile_id: str, ok: bool, message: str,
    printed: str | None,
) -> None:
    base, prefix = procs.unique_space()
    config = tmp_path / "sensord.toml"
    with procs.wearable("left", side="left", speed=1.0,
                        extra=("--profile", profile_id)) as worn:
        procs.write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                           wearables=(worn,), store=tmp_path / "sensord.db", sides=("left",))
        async with Collector(1883, [f"{base}/#"]) as seen:
            with procs.daemon(config, speed=1.0):
                await _identify_when_online(seen, base, [("left", {"v": 1, "request_id": "P1"})])
                await seen.wait_for(lambda c: _result(c, base, "left", "P1") is not None, 30,
                                    "the identify result")
                line = await _line_with(worn.process, "identify", 10) if printed else None
    answer = _result(seen, base, "left", "P1")
    assert answer is not None
    assert answer["ok"] is ok, answer
    assert str(answer["message"]).startswith(message)
    if printed is not None:
        assert line is not None
        assert line.startswith(printed)
