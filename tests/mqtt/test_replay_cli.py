"""`sensord replay` as users run it: a real subprocess against the real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

import sensord.cli  # noqa: F401 - registers the commands
from sensord.cli.app import app
from sensord.recording import read_recording, write_recording
from tests.mqtt.conftest import Space
from tests.mqtt.helpers import Collector, schema, synthetic_block

PORT = 1883


def write_config(tmp_path: Path, space: Space) -> Path:
    path = tmp_path / "sensord.toml"
    path.write_text(
        f'[mqtt]\nbase_topic = "{space.base}"\ndiscovery_prefix = "{space.prefix}"\n'
        f'[store]\npath = "{tmp_path / "outbox.db"}"\n'
    )
    return path


def strip_daemon_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in ("v", "device", "seq", "ts")}


@pytest.mark.asyncio
async def test_replay_publishes_the_events_analyze_prints(
    tmp_path: Path, space: Space, shared_data: Path
) -> None:
    recording = shared_data / "gaitmap_walk" / "walk_2x20m_left.csv"
    config = write_config(tmp_path, space)
    async with Collector(PORT, [f"{space.base}/#"]) as sub:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sensord", "replay", str(recording), "--device", "left",
            "--speed", "0", "--broker", "mqtt://127.0.0.1:1883", "--config", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(120):
            stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        await sub.wait_for(lambda c: any(
            m.json()["state"] == "offline" for m in c.on(f"{space.base}/bridge/availability")
        ), 10, "the end of the replay")
    analyze = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sensord", "analyze", str(recording), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        analyzed, problems = await analyze.communicate()
    assert analyze.returncode == 0, problems.decode()
    expected = [json.loads(line) for line in analyzed.decode().splitlines() if line.strip()]
    assert expected  # the walk has its steps: the comparison below is not between two nothings
    data = read_recording(recording)
    published = sub.json_on(f"{space.base}/left/event")
    for event in published:
        jsonschema.validate(event, schema("event"))
        assert event["device"] == "left"
    assert [strip_daemon_fields(e) for e in published] == expected
    assert [e["seq"] for e in published] == list(range(1, len(expected) + 1))
    assert f"{len(data.block)} samples, {len(expected)} event(s)" in stdout.decode()
    # the replay was seen as a wearable that streamed and stopped
    assert sub.json_on(f"{space.base}/left/availability")[-1]["state"] == "offline"
    assert sub.json_on(f"{space.base}/left/status")[-1]["rate_hz"] == pytest.approx(204.8)


def still_recording(tmp_path: Path, duration_s: float) -> Path:
    path = tmp_path / "still.csv"
    write_recording(path, synthetic_block(duration_s))
    return path


@pytest.mark.asyncio
async def test_sigkill_leaves_the_will_saying_offline(tmp_path: Path, space: Space) -> None:
    recording = still_recording(tmp_path, 60.0)
    config = write_config(tmp_path, space)
    bridge = f"{space.base}/bridge/availability"
    async with Collector(PORT, [bridge, f"{space.base}/left/availability"]) as sub:
        process = subprocess.Popen(  # noqa: ASYNC220 - killed below, never waited on blocking
            [sys.executable, "-m", "sensord", "replay", str(recording), "--device", "left",
             "--speed", "1", "--config", str(config), "--broker", "mqtt://127.0.0.1:1883"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            await sub.wait_for(lambda c: any(m.json()["state"] == "online"
                                             for m in c.on(f"{space.base}/left/availability")),
                               30, "the replay streaming")
            process.send_signal(signal.SIGKILL)
            await sub.wait_for(lambda c: c.on(bridge)[-1].json()["state"] == "offline", 10,
                               "the will")
        finally:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    will = sub.on(bridge)[-1]
    assert (will.qos, will.retain) == (1, True)
    jsonschema.validate(will.json(), schema("availability"))
    # and a dashboard that connects later still reads "offline" (retained)
    async with Collector(PORT, [bridge]) as late:
        await late.wait_for(lambda c: bool(c.messages), 5)
    assert late.messages[0].json() == {"v": 1, "state": "offline"}


runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "-1"], "--speed must be 0 or more"),
        (["--placement", "knee"], "--placement must be one of instep, ankle"),
        (["--broker", "http://x"], "mqtt.url"),
        (["--broker", "mqtt://u:pw@x"], "password_file"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    tmp_path: Path, space: Space, args: list[str], message: str
) -> None:
    recording = still_recording(tmp_path, 1.0)
    config = write_config(tmp_path, space)
    result = runner.invoke(app, ["replay", str(recording), "--device", "left", "--config",
                                 str(config), *args])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("sensord: error: ")
    assert message in result.stderr


def test_a_missing_recording_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "nope.csv"), "--device", "left"])
    assert result.exit_code == 2
    assert "nope.csv: no such file" in result.stderr


def test_help_names_the_options() -> None:
    result = runner.invoke(app, ["replay", "--help"])
    assert result.exit_code == 0
    for option in ("--device", "--speed", "--config", "--broker", "--store"):
        assert option in result.stdout
