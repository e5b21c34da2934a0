"""`sensord simulate` through typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sensord.cli import app
from sensord.recording import read_recording
from sensord.sim import SimSpec, simulate


def test_simulate_writes_recording_and_truth(tmp_path: Path) -> None:
    out, truth = tmp_path / "s.csv", tmp_path / "s.json"
    result = CliRunner().invoke(app, [
        "simulate", "--routine", "toe_press", "--side", "left", "--placement", "ankle",
        "--rate", "50", "--seed", "4", "--mounting-deg", "10", "--loss", "0.02",
        "--out", str(out), "--truth", str(truth),
    ])
    assert result.exit_code == 0, result.output
    assert "toe_press x10" in result.output
    rec = read_recording(out)
    assert (rec.meta.placement, rec.meta.side, rec.meta.rate_hz, rec.meta.device) == (
        "ankle", "left", 50.0, "sensord-sim")
    data = json.loads(truth.read_text())
    assert data["routine"] == "toe_press"
    assert data["seed"] == 4
    assert data["mounting"]["angle_deg"] <= 10.0
    assert data["loss"]["fraction"] == 0.02
    assert len(rec.block) + data["loss"]["lost_samples"] == round(data["duration_s"] * 50) + 1
    # the file holds exactly what the API synthesises for the same options
    sim = simulate(SimSpec(routine="toe_press", side="left", placement="ankle", rate_hz=50.0,
                           seed=4, mounting_max_deg=10.0, loss=0.02))
    np.testing.assert_allclose(rec.block.acc_m_s2, sim.block.acc_m_s2, atol=1e-6)


@pytest.mark.parametrize(("args", "message"), [
    (["--rate", "fast"], "--rate"),
    (["--rate", "5"], "rate"),
    (["--side", "middle"], "--side"),
    (["--placement", "wrist"], "--placement"),
    (["--routine", "yoga"], "--routine"),
    (["--loss", "0.9"], "loss"),
    (["--seed", "1.5"], "--seed"),
    (["--mounting-deg", "nan"], "--mounting-deg"),
])
def test_bad_options_exit_2_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", *args, "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("sensord: error:")
    assert message in lines[0]
    assert not (tmp_path / "x.csv").exists()


def test_missing_out_and_bad_directory(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["simulate"])
    assert result.exit_code == 2
    assert "--out" in result.output
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "no" / "x.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_simulate_as_a_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "walk.csv"
    done = subprocess.run(
        [sys.executable, "-m", "sensord", "simulate", "--routine", "walk", "--rate", "200",
         "--no-noise", "--mounting-deg", "0", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    rec = read_recording(out)
    assert rec.meta.rate_hz == 200.0
    np.testing.assert_allclose(np.diff(rec.block.t_s), 0.005, atol=1e-6)
    # noise off, level mounting, standing at the start: exactly gravity on z
    np.testing.assert_allclose(rec.block.acc_m_s2[0], [0.0, 0.0, 9.81], atol=0.05)
    bad = subprocess.run(
        [sys.executable, "-m", "sensord", "simulate", "--side", "up", "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "--side" in bad.stderr
