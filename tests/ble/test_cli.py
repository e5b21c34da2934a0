"""`sensord wearable`, `scan` and `record` as real processes over the TCP transport, and their
error handling through typer's runner."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sensord.cli import app
from sensord.recording import read_recording
from tests.ble.support import wearable_adapter

SENSORD = [sys.executable, "-m", "sensord"]
WAIT_S = 20.0


@pytest.fixture
def wearable_process() -> Iterator[str]:
    """A `sensord wearable` process with two wearables; yields its adapter string."""
    process = subprocess.Popen(
        [*SENSORD, "wearable", "--listen", "tcp-server:127.0.0.1:0",
         "--name", "sensord-L", "--name", "sensord-R"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        adapter = wearable_adapter(process, WAIT_S)
        if adapter is None:
            process.kill()
            _, err = process.communicate(timeout=5)
            pytest.fail(f"sensord wearable did not start: {err}")
        yield adapter
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate(timeout=5)
    assert process.returncode == 0, err


def _check_recording(path: Path, *, min_samples: int) -> None:
    recording = read_recording(path)
    block = recording.block
    assert len(block) >= min_samples
    assert recording.meta.rate_hz == 100.0
    assert block.t_s[0] == 0.0
    spacing = np.diff(block.t_s)
    assert np.all(spacing > 0)
    assert np.median(spacing) == pytest.approx(0.01, rel=0.02)
    # The built-in motion is ankle pumps: gravity rotated about y, rotation about y only.
    assert np.abs(np.linalg.norm(block.acc_m_s2, axis=1) - 9.80665).max() < 0.02
    assert np.abs(block.gyro_rad_s[:, [0, 2]]).max() < 0.01
    assert np.abs(block.gyro_rad_s[:, 1]).max() > 0.1


def test_wearable_and_record_as_two_processes_over_tcp(
    wearable_process: str, tmp_path: Path
) -> None:
    listed = subprocess.run(
        [*SENSORD, "scan", "--adapter", wearable_process, "--timeout", "1", "--json"],
        capture_output=True, text=True, timeout=WAIT_S, check=True,
    )
    assert '"name": "sensord-L"' in listed.stdout
    assert '"profile": "sensord"' in listed.stdout
    out = tmp_path / "left.csv"
    done = subprocess.run(
        [*SENSORD, "record", "--device", "sensord-L", "--adapter", wearable_process,
         "--duration", "4", "--out", str(out), "--placement", "instep", "--side", "left"],
        capture_output=True, text=True, timeout=WAIT_S + 10, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "0 lost" in done.stdout
    _check_recording(out, min_samples=400)
    meta = read_recording(out).meta
    assert (meta.device, meta.side, meta.placement) == ("sensord-L", "left", "instep")
    assert dict(meta.extra)["profile"] == "sensord"


def test_ctrl_c_finishes_the_recording_cleanly(wearable_process: str, tmp_path: Path) -> None:
    out = tmp_path / "right.csv"
    process = subprocess.Popen(
        [*SENSORD, "record", "--device", "sensord-R", "--adapter", wearable_process,
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and (
        not out.exists() or out.read_text().count("\n") < 250
    ):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, stderr
    assert "samples" in stdout
    _check_recording(out, min_samples=200)


runner = CliRunner()


def test_record_through_an_adapter_nobody_serves_fails_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "record", "--device", "x", "--adapter", "bumble:tcp-client:127.0.0.1:9",
        "--out", str(tmp_path / "x.csv"),
    ])
    assert result.exit_code == 1
    assert "cannot open adapter bumble:tcp-client:127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_record_gives_up_on_a_wearable_that_never_appears(
    wearable_process: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, [
        "record", "--device", "nobody", "--adapter", wearable_process,
        "--out", str(tmp_path / "x.csv"), "--wait", "2",
    ])
    assert result.exit_code == 1
    assert "no samples from nobody within 2 s" in result.output
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--adapter", "hci"],
        ["record", "--device", "x", "--out", "x.csv", "--profile", "nope"],
        ["record", "--device", "x", "--out", "x.csv", "--side", "middle"],
        ["wearable", "--listen", "udp:1"],
        ["wearable", "--name", "x" * 30],
        ["wearable", "--loss", "2"],
        ["wearable", "--profile", "nope"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
