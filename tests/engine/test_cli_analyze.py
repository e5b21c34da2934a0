"""`sensord analyze` through typer's runner and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from sensord.cli import app
from sensord.model import Event
from sensord.pipeline import analyze
from sensord.recording import read_recording

ROOT = Path(__file__).resolve().parents[2]


def test_json_lines_are_the_pipeline_events_in_time_order(shared_data: Path) -> None:
    path = shared_data / "gaitmap_walk" / "walk_2x20m_right.csv"
    result = CliRunner().invoke(app, ["analyze", str(path), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    expected = sorted(analyze(read_recording(path).block), key=lambda e: e.time_s)
    assert [Event.from_dict(d) for d in lines] == expected
    assert all({"type", "exercise"} <= set(d) for d in lines)
    steps = [d for d in lines if d["type"] == "step"]
    assert steps
    assert all(d["exercise"] == "walk" and "t" in d for d in steps)


def test_human_summary_names_steps_and_placement(shared_data: Path) -> None:
    path = shared_data / "gaitmap_walk" / "walk_2x20m_left.csv"
    result = CliRunner().invoke(app, ["analyze", str(path), "--placement", "ankle"])
    assert result.exit_code == 0, result.output
    assert "ankle placement" in result.output
    assert "walking" in result.output
    assert "not counted" in result.output  # what the shank cannot see is said, not guessed


def test_bad_file_exits_2_with_one_line_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("t,ax,ay,az,gx,gy,gz\n0,0,0,9.8,0,0,0\n0.01,0,x,9.8,0,0,0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sensord", "analyze", str(bad)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert f"{bad}:3:" in proc.stderr
    assert "not a number" in proc.stderr
    lenient = subprocess.run(
        [sys.executable, "-m", "sensord", "analyze", str(bad), "--lenient"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert lenient.returncode == 0, lenient.stderr
    assert "skipped 1 malformed lines" in lenient.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sensord", "analyze", str(tmp_path / "none.csv"), "--debug"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


def test_plot_writes_a_png(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "gaitmap_walk" / "stairs_up_left.csv"
    png = tmp_path / "plot.png"
    result = CliRunner().invoke(app, ["analyze", str(path), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
