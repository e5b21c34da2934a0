"""The workout history: finished sessions in SQLite, for ``sensord history`` and dashboards.

It shares the database file with the outbox (sensord/store.py) but owns only the tables named
``history_*``, so the two never step on each other's schema. A session is stored once (its id is
the key): recording the same summary again, say after a restart replays it, changes nothing.

The summary is kept whole as JSON (the published object, so the history can show anything it
showed) and the figures worth querying (time, device, reps per exercise) as columns.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Final

from sensord.errors import StoreError
from sensord.session import SessionSummary

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
_BUSY_TIMEOUT_MS: Final = 5000
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS history_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history_sessions (
    session_id TEXT PRIMARY KEY,
    device TEXT,
    side TEXT,
    routine TEXT NOT NULL,
    started_wall_s REAL NOT NULL,
    ended_wall_s REAL NOT NULL,
    duration_s REAL NOT NULL,
    reps INTEGER NOT NULL,
    progress REAL NOT NULL,
    complete INTEGER NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_sessions_started ON history_sessions (started_wall_s);
CREATE TABLE IF NOT EXISTS history_reps (
    session_id TEXT NOT NULL REFERENCES history_sessions (session_id) ON DELETE CASCADE,
    exercise TEXT NOT NULL,
    reps INTEGER NOT NULL,
    full INTEGER NOT NULL,
    short INTEGER NOT NULL,
    target INTEGER,
    PRIMARY KEY (session_id, exercise)
);
"""


@dataclass(frozen=True, slots=True)
class DayTotal:
    """Full reps done on one local calendar day, per exercise (exercises with none left out)."""

    day: date
    reps_by_exercise: tuple[tuple[str, int], ...]

    @property
    def reps(self) -> int:
        return sum(count for _exercise, count in self.reps_by_exercise)


class History:
    """The history tables of one database file. Use as a context manager, or ``close()``.

    ``readonly`` opens an existing file without creating or changing anything (for the
    ``history`` command, which must not create a database where there is none).
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        try:
            if readonly:
                self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path)
            self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                with self._db:
                    self._db.executescript(_SCHEMA)
                    self._db.execute(
                        "INSERT OR IGNORE INTO history_meta (key, value) VALUES (?, ?)",
                        ("schema_version", str(SCHEMA_VERSION)),
                    )
                self._check_version()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the history database {path}: {exc}") from exc

    def _check_version(self) -> None:
        row = self._db.execute(
            "SELECT value FROM history_meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the history in {self.path} was written by a newer sensord "
                f"(schema {row[0]}, this one reads {SCHEMA_VERSION}): upgrade sensord"
            )

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {action} the history in {self.path}: {exc}") from exc

    def _has_tables(self) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'history_sessions'"
        ).fetchone()
        return row is not None

    def record(self, summary: SessionSummary) -> bool:
        """Stores a finished session; False when it was already stored."""
        if self.readonly:
            raise StoreError(f"the history in {self.path} is open read-only")
        document = summary.to_dict()
        with self._errors("write"), self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO history_sessions (session_id, device, side, routine, "
                "started_wall_s, ended_wall_s, duration_s, reps, progress, complete, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    summary.session_id, summary.device, summary.side, summary.routine,
                    summary.started_wall_s, summary.ended_wall_s, summary.duration_s,
                    summary.reps, summary.progress, int(not summary.missing),
                    json.dumps(document, separators=(",", ":")),
                ),
            )
            if cursor.rowcount == 0:
                return False
            self._db.executemany(
                "INSERT INTO history_reps (session_id, exercise, reps, full, short, target) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (summary.session_id, e.exercise, e.reps, e.full, e.short, e.target_reps)
                    for e in summary.exercises
                ],
            )
        log.info("session %s stored in the history (%d reps)", summary.session_id, summary.reps)
        return True

    def sessions(
        self, *, limit: int | None = None, since_wall_s: float | None = None,
        device: str | None = None,
    ) -> list[SessionSummary]:
        """Stored sessions, newest first."""
        with self._errors("read"):
            if not self._has_tables():
                return []
            rows = self._db.execute(
                "SELECT summary FROM history_sessions "
                "WHERE started_wall_s >= ? AND (? IS NULL OR device = ?) "
                "ORDER BY started_wall_s DESC, session_id DESC LIMIT ?",
                (
                    -1e300 if since_wall_s is None else since_wall_s, device, device,
                    -1 if limit is None else limit,
                ),
            ).fetchall()
        out: list[SessionSummary] = []
        for (text,) in rows:
            try:
                out.append(SessionSummary.from_dict(json.loads(text)))
            except (ValueError, KeyError, TypeError) as exc:
                raise StoreError(f"a session in {self.path} is unreadable: {exc}") from exc
        return out

    def daily_reps(self, *, today: date, days: int, tz: tzinfo | None = None) -> list[DayTotal]:
        """Full reps per local day for the ``days`` days ending ``today`` (oldest first; days
        without sessions included, with no reps). ``tz`` is the local zone (None: the system's)."""
        first = today - timedelta(days=days - 1)
        start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
        if tz is None:
            start = start.astimezone()
        totals: dict[date, dict[str, int]] = {first + timedelta(days=k): {} for k in range(days)}
        with self._errors("read"):
            if not self._has_tables():
                return [DayTotal(day, ()) for day in totals]
            rows = self._db.execute(
                "SELECT s.started_wall_s, r.exercise, r.full FROM history_sessions s "
                "JOIN history_reps r USING (session_id) WHERE s.started_wall_s >= ?",
                (start.timestamp(),),
            ).fetchall()
        for started, exercise, full in rows:
            day = datetime.fromtimestamp(started, UTC).astimezone(tz).date()
            if day in totals and full:
                totals[day][exercise] = totals[day].get(exercise, 0) + int(full)
        return [DayTotal(day, tuple(sorted(counts.items()))) for day, counts in totals.items()]


__all__ = ["SCHEMA_VERSION", "DayTotal", "History"]
