"""`sensord demo --speed`: a short run on a machine with nothing configured ends with the
session summary."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from sensord.demo import DemoOptions, run_demo
from tests.mqtt.helpers import free_port
from tests.service import procs


def test_a_short_demo_ends_with_the_session_summary(broker_url: str, tmp_path: Path) -> None:
    del broker_url  # the demo takes the broker on localhost:1883 when there is one
    home = tmp_path / "home"
    home.mkdir()
    env = procs.env(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                    XDG_STATE_HOME=str(home / ".state"))
    done = subprocess.run(
        [*procs.SENSORD, "demo", "--speed", "20", "--seconds", "14"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:] + out[-2000:]
    assert "broker: the one on 127.0.0.1:1883" in out
    assert re.search(r"Session right-\S+: \d+ reps", out), out
    row = re.search(r"plantar flexion\s*│\s*(\d+)\s*│\s*10\s*│\s*(\d+)", out)
    assert row is not None, out
    full, short = int(row.group(1)), int(row.group(2))
    assert 5 <= full + short <= 11  # the set of ten, seen from its start within 14 s
    events = re.search(r"(\d+) events published to mqtt://127\.0\.0\.1:1883; sessions: 1", out)
    assert events is not None, out
    assert int(events.group(1)) > full + short
    # Nothing was written outside the temporary state directory.
    assert not any(home.rglob("*"))


@pytest.mark.asyncio
async def test_without_a_broker_the_demo_brings_its_own(tmp_path: Path) -> None:
    output = io.StringIO()
    nothing_there = ("127.0.0.1", free_port())
    result = await run_demo(
        DemoOptions(speed=20.0, seconds=9.0, state_dir=tmp_path, local_broker=nothing_there),
        Console(file=output, width=100),
    )
    text = output.getvalue()
    assert f"broker: none on 127.0.0.1:{nothing_there[1]}, so sensord's embedded broker" in text
    assert result.broker.startswith("mqtt://127.0.0.1:")
    assert result.broker != f"mqtt://127.0.0.1:{nothing_there[1]}"
    assert result.events > 0
    assert len(result.summaries) == 1
    assert result.summaries[0].exercise("plantar_flexion").reps > 0  # type: ignore[union-attr]
    assert (tmp_path / "sensord.db").exists()
