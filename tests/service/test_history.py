"""The workout history in SQLite and the ``sensord history`` command."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sensord.cli import app
from sensord.errors import StoreError
from sensord.history import History
from sensord.model import Event
from sensord.session import SessionSummary, WorkoutTracker

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def make_session(
    wall_s: float, device: str = "left", presses: int = 10, short: int = 0,
    circles: int = 0,
) -> SessionSummary:
    tracker = WorkoutTracker(device=device, side="left")
    events: list[Event] = []
    t = 0.0
    for index in range(presses):
        hold = 3.0 if index < short else 5.2
        events.append(Event("rep", "toe_press", t_start=t, t_end=t + hold + 1, hold_s=hold))
        t += hold + 2
    for _ in range(circles):
        events.append(Event("rep", "ankle_circle", t_start=t, t_end=t + 1, direction="cw"))
        t += 1
    tracker.feed(events, wall_s + t)
    (summary,) = tracker.finish()
    assert isinstance(summary, SessionSummary)
    return summary


NOON = datetime(2024, 6, 10, 12, 0, tzinfo=UTC).timestamp()


def test_sessions_are_stored_once_and_listed_newest_first(tmp_path: Path) -> None:
    db = tmp_path / "state" / "sensord.db"
    older = make_session(NOON - 86400)
    newer = make_session(NOON, device="right", presses=4)
    with History(db) as history:
        assert history.record(older)
        assert history.record(newer)
        assert not history.record(newer)  # replayed: ignored
        assert history.sessions() == [newer, older]
        assert history.sessions(limit=1) == [newer]
        assert history.sessions(device="left") == [older]
        assert history.sessions(since_wall_s=NOON - 3600) == [newer]
    with sqlite3.connect(db) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        count = raw.execute("SELECT count(*) FROM history_reps").fetchone()[0]
    raw.close()
    assert tables == {"history_meta", "history_sessions", "history_reps"}
    assert count == 2 * 4  # one row per routine exercise per session


def test_daily_reps_bucket_by_local_day(tmp_path: Path) -> None:
    zone = timezone(timedelta(hours=-5))
    with History(tmp_path / "h.db") as history:
        # 02:00 UTC on 11 June is still 10 June at UTC-5.
        history.record(make_session(NOON + 14 * 3600, presses=7, short=2))
        history.record(make_session(NOON, presses=10, circles=3))
        history.record(make_session(NOON - 5 * 86400, presses=10))
        days = history.daily_reps(today=date(2024, 6, 11), days=3, tz=zone)
    assert [d.day for d in days] == [date(2024, 6, 9), date(2024, 6, 10), date(2024, 6, 11)]
    assert [d.reps for d in days] == [0, 5 + 10 + 3, 0]
    assert days[1].reps_by_exercise == (("ankle_circle", 3), ("toe_press", 15))


def test_history_shares_the_file_with_other_tables(tmp_path: Path) -> None:
    db = tmp_path / "sensord.db"
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY, payload TEXT)")
        raw.execute("PRAGMA user_version = 7")
    raw.close()
    with History(db) as history:
        history.record(make_session(NOON))
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 7
        assert raw.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    raw.close()


def test_readonly_reads_a_file_without_history_tables(tmp_path: Path) -> None:
    db = tmp_path / "sensord.db"
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY)")
    raw.close()
    with History(db, readonly=True) as history:
        assert history.sessions() == []
        assert [d.reps for d in history.daily_reps(today=date(2024, 1, 1), days=2)] == [0, 0]
        with pytest.raises(StoreError, match="read-only"):
            history.record(make_session(NOON))


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "sensord.db"
    History(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE history_meta SET value = '99' WHERE key = 'schema_version'")
    raw.close()
    with pytest.raises(StoreError, match="newer sensord"):
        History(db)


def test_a_corrupt_file_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "sensord.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the history database"):
        History(db)


def test_history_command_shows_table_and_chart(tmp_path: Path) -> None:
    db = tmp_path / "sensord.db"
    now = datetime.now(UTC).timestamp()
    with History(db) as history:
        history.record(make_session(now - 3600, presses=10, short=3))
        history.record(make_session(now - 86400 - 3600, device="right", presses=4))
    result = runner.invoke(app, ["history", "--db", str(db), "--days", "3"],
                           env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Workout sessions" in out
    assert "presses 7/10 (3 short)" in out
    assert "right (left)" in out
    assert "Reps per day" in out
    bars = [line for line in out.splitlines() if "█" in line and "flexion" not in line]
    assert len(bars) == 2
    assert bars[-1].rstrip().endswith("7")
    assert bars[0].rstrip().endswith("4")
    assert bars[-1].count("█") > bars[0].count("█")


def test_history_json_lines(tmp_path: Path) -> None:
    db = tmp_path / "sensord.db"
    first, second = make_session(NOON - 60), make_session(NOON, presses=3)
    with History(db) as history:
        history.record(first)
        history.record(second)
    result = runner.invoke(app, ["history", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["session_id"] for line in lines] == [second.session_id, first.session_id]
    assert lines[0]["type"] == "session"
    assert lines[0]["exercises"]["toe_press"]["full"] == 3


def test_history_without_a_database_creates_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "history"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "STATE_DIRECTORY": str(state),
             "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert result.returncode == 0, result.stderr
    assert f"No workout sessions recorded yet (history: {state / 'sensord.db'})" in (
        result.stdout.replace("\n", ""))
    assert not state.exists()


def test_history_uses_the_configured_store_path(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    with History(db) as history:
        history.record(make_session(NOON))
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db}"\n', encoding="utf-8")
    result = runner.invoke(app, ["history", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1
