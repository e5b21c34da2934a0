"""The local SQLite store: the outbox of events and the per-device sequence numbers.

Every event is written here, with its ``device``, ``seq`` and ``ts``, before anything tries to
publish it, and is marked delivered only once the broker has acknowledged it (PUBACK). So a broker
outage or a daemon restart loses nothing: the rows wait and leave later, in order, with their
original ``seq`` and ``ts`` (consumers de-duplicate on ``device`` + ``seq``).

``seq`` is per device, starts at 1 and never repeats: the last value lives in its own table, so
pruning rows never lets a number come back. The table is bounded by rows and by age; when a bound
forces out rows that were never delivered, they are counted (persistently) and logged.

Delivered rows are kept (within the same bounds) because they are the day's history: the daily
totals are counted from them, so they survive restarts.

Calls are synchronous and short (one transaction each, a few per second at most in the daemon);
the store is used from the event loop directly. WAL mode lets a second process (``sensord
replay`` beside ``sensord run``) share the file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from sensord.errors import StoreError
from sensord.model import EXERCISES, Event

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
PAYLOAD_VERSION: Final = 1
_BUSY_TIMEOUT_MS: Final = 5000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_devices (
    device TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    day TEXT NOT NULL,
    created_s REAL NOT NULL,
    type TEXT NOT NULL,
    exercise TEXT NOT NULL,
    hold_s REAL,
    payload TEXT NOT NULL,
    delivered_s REAL,
    UNIQUE (device, seq)
);
CREATE INDEX IF NOT EXISTS outbox_events_pending ON outbox_events (id) WHERE delivered_s IS NULL;
CREATE INDEX IF NOT EXISTS outbox_events_day ON outbox_events (device, day);
CREATE TABLE IF NOT EXISTS outbox_discovery (
    node TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    topics TEXT NOT NULL
);
"""


def utc_now() -> datetime:
    """The wall clock in UTC (the default clock; tests pass their own)."""
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """``2025-06-01T08:30:00.125Z``: UTC ISO-8601 with milliseconds, as events carry it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_day(moment: datetime) -> str:
    """The local calendar date of a moment (daily totals reset at local midnight)."""
    return moment.astimezone().date().isoformat()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One outbox row. ``payload`` is the exact JSON text that is published."""

    row_id: int
    device: str
    seq: int
    ts: str
    payload: str

    def to_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.payload)
        return value


@dataclass(frozen=True, slots=True)
class DailyTotals:
    """Today's totals for one device (local calendar day).

    ``reps`` and ``sets`` per exercise (every exercise of the routine is present, zero when not
    done), ``hold_s`` the seconds held per hold exercise, ``steps`` landings per kind (``walk`` for
    ordinary walking, ``toe_walk`` on tiptoe).
    """

    device: str
    day: str
    reps: dict[str, int] = field(default_factory=dict)
    sets: dict[str, int] = field(default_factory=dict)
    hold_s: dict[str, float] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts for the bridge state and the logs."""

    pending: int
    total: int
    dropped: int


class Store:
    """The SQLite outbox. Open it with ``Store.open(path)``; close it (or use ``with``)."""

    def __init__(
        self, connection: sqlite3.Connection, path: str, *, max_rows: int, max_age_days: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = connection
        self.path = path
        self.max_rows = max_rows
        self.max_age_s = max_age_days * 86400.0
        self._clock = clock
        self._next_age_check_s = 0.0

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, max_rows: int = 100_000,
        max_age_days: float = 30.0, clock: Callable[[], datetime] = utc_now,
    ) -> Self:
        """Opens (creating if needed) the database; raises StoreError with what to do next."""
        if max_rows < 1:
            raise StoreError(f"store.max_rows must be at least 1, got {max_rows}")
        name = str(path)
        try:
            if name != ":memory:":
                Path(name).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(name, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1e3)
            connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed event survives a power cut, not just a crash of this process.
            connection.execute("PRAGMA synchronous = FULL")
            connection.executescript(_SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO outbox_meta (key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )
            connection.execute(
                "INSERT OR IGNORE INTO outbox_meta (key, value) VALUES ('dropped', '0')"
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open the event store {name}: {exc}; check store.path and its permissions"
            ) from exc
        return cls(connection, name, max_rows=max_rows, max_age_days=max_age_days, clock=clock)

    # --- writing ------------------------------------------------------------------------------

    def append(
        self, device: str, events: Sequence[Event | Mapping[str, Any]]
    ) -> list[StoredEvent]:
        """Stores events of one device in one transaction, numbering them with the next ``seq``.

        An event is a pipeline ``Event`` or any event object as a mapping with a ``type`` (the
        session tracker's ``session_start``/``session`` objects). Returns the stored rows
        (payload with ``v``, ``device``, ``seq`` and ``ts``). The bounds are applied afterwards,
        so a flood drops the oldest rows, never the new ones.
        """
        if not events:
            return []
        prepared = [_event_fields(event) for event in events]
        now = self._clock()
        ts = iso_utc(now)
        day = local_day(now)
        created_s = now.timestamp()
        stored: list[StoredEvent] = []
        try:
            with self._transaction():
                row = self._db.execute(
                    "SELECT last_seq FROM outbox_devices WHERE device = ?", (device,)
                ).fetchone()
                seq = int(row[0]) if row else 0
                for fields in prepared:
                    seq += 1
                    kind = str(fields["type"])
                    body = {"v": PAYLOAD_VERSION, **fields, "device": device, "seq": seq,
                            "ts": ts}
                    payload = json.dumps(body, separators=(",", ":"), allow_nan=False)
                    hold = fields.get("hold_s")
                    cursor = self._db.execute(
                        "INSERT INTO outbox_events (device, seq, ts, day, created_s, type, "
                        "exercise, hold_s, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (device, seq, ts, day, created_s, kind, str(fields.get("exercise", "")),
                         float(hold) if isinstance(hold, int | float) else None, payload),
                    )
                    assert cursor.lastrowid is not None
                    stored.append(StoredEvent(cursor.lastrowid, device, seq, ts, payload))
                self._db.execute(
                    "INSERT INTO outbox_devices (device, last_seq) VALUES (?, ?) "
                    "ON CONFLICT (device) DO UPDATE SET last_seq = excluded.last_seq",
                    (device, seq),
                )
        except (sqlite3.Error, ValueError, TypeError) as exc:
            raise StoreError(f"cannot write events to {self.path}: {exc}") from exc
        self._enforce_bounds(created_s)
        return stored

    def mark_delivered(self, row_ids: Sequence[int]) -> None:
        """Marks rows delivered (after the broker's PUBACK)."""
        if not row_ids:
            return
        delivered_s = self._clock().timestamp()
        try:
            with self._transaction():
                self._db.executemany(
                    "UPDATE outbox_events SET delivered_s = ? WHERE id = ? AND delivered_s IS NULL",
                    [(delivered_s, row_id) for row_id in row_ids],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot update {self.path}: {exc}") from exc

    # --- reading ------------------------------------------------------------------------------

    def pending(self, limit: int = 100) -> list[StoredEvent]:
        """The oldest undelivered rows, in the order they were stored."""
        rows = self._query(
            "SELECT id, device, seq, ts, payload FROM outbox_events WHERE delivered_s IS NULL "
            "ORDER BY id LIMIT ?", (limit,),
        )
        return [StoredEvent(int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4])) for r in rows]

    def pending_count(self, device: str | None = None) -> int:
        if device is None:
            rows = self._query("SELECT count(*) FROM outbox_events WHERE delivered_s IS NULL", ())
        else:
            rows = self._query(
                "SELECT count(*) FROM outbox_events WHERE delivered_s IS NULL AND device = ?",
                (device,),
            )
        return int(rows[0][0])

    def last_seq(self, device: str) -> int:
        rows = self._query("SELECT last_seq FROM outbox_devices WHERE device = ?", (device,))
        return int(rows[0][0]) if rows else 0

    def stats(self) -> OutboxStats:
        rows = self._query(
            "SELECT (SELECT count(*) FROM outbox_events WHERE delivered_s IS NULL), "
            "(SELECT count(*) FROM outbox_events), "
            "(SELECT value FROM outbox_meta WHERE key = 'dropped')", (),
        )
        pending, total, dropped = rows[0]
        return OutboxStats(int(pending), int(total), int(dropped))

    def daily_totals(self, device: str, day: date | str | None = None) -> DailyTotals:
        """Counts the stored events of ``device`` on a local calendar day (today by default)."""
        day_text = local_day(self._clock()) if day is None else str(day)
        reps = dict.fromkeys(EXERCISES, 0)
        sets = dict.fromkeys(EXERCISES, 0)
        hold_s = {"plantar_flexion": 0.0, "toe_press": 0.0}
        steps = {"walk": 0, "toe_walk": 0}
        rows = self._query(
            "SELECT type, exercise, count(*), total(hold_s) FROM outbox_events "
            "WHERE device = ? AND day = ? GROUP BY type, exercise", (device, day_text),
        )
        for kind, exercise, count, held in rows:
            if kind == "rep":
                reps[exercise] = reps.get(exercise, 0) + int(count)
                if exercise in hold_s:
                    hold_s[exercise] = round(hold_s[exercise] + float(held), 3)
            elif kind == "set":
                sets[exercise] = sets.get(exercise, 0) + int(count)
            elif kind == "step":
                steps[exercise] = steps.get(exercise, 0) + int(count)
        return DailyTotals(device, day_text, reps, sets, hold_s, steps)

    # --- discovery bookkeeping (so a wearable that leaves the config can be removed) ----------

    def discovered(self) -> dict[str, tuple[str, list[str]]]:
        """node id -> (device name, retained topics published for it)."""
        rows = self._query("SELECT node, device, topics FROM outbox_discovery", ())
        return {str(node): (str(device), list(json.loads(topics))) for node, device, topics in rows}

    def remember_discovery(self, node: str, device: str, topics: Sequence[str]) -> None:
        try:
            self._db.execute(
                "INSERT INTO outbox_discovery (node, device, topics) VALUES (?, ?, ?) "
                "ON CONFLICT (node) DO UPDATE SET device = excluded.device, "
                "topics = excluded.topics",
                (node, device, json.dumps(sorted(set(topics)))),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot update {self.path}: {exc}") from exc

    def forget_discovery(self, node: str) -> None:
        try:
            self._db.execute("DELETE FROM outbox_discovery WHERE node = ?", (node,))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot update {self.path}: {exc}") from exc

    # --- bounds -------------------------------------------------------------------------------

    def prune(self) -> int:
        """Applies the age and row bounds now; returns how many undelivered rows were dropped."""
        return self._enforce_bounds(self._clock().timestamp(), force=True)

    def _enforce_bounds(self, now_s: float, *, force: bool = False) -> int:
        dropped = 0
        try:
            with self._transaction():
                if force or now_s >= self._next_age_check_s:
                    # Age is checked at most once a minute: rows age slowly.
                    self._next_age_check_s = now_s + 60.0
                    cutoff = now_s - self.max_age_s
                    dropped += self._delete("created_s < ? AND delivered_s IS NULL", (cutoff,))
                    self._delete("created_s < ? AND delivered_s IS NOT NULL", (cutoff,))
                # max(id) - min(id) + 1 bounds the row count from above and costs two index
                # look-ups; count(*) (a scan) only runs when that bound is exceeded.
                low, high = self._db.execute(
                    "SELECT min(id), max(id) FROM outbox_events").fetchone()
                if low is not None and high - low + 1 > self.max_rows:
                    total = int(
                        self._db.execute("SELECT count(*) FROM outbox_events").fetchone()[0])
                    excess = total - self.max_rows
                    if excess > 0:
                        excess -= self._delete(
                            "id IN (SELECT id FROM outbox_events WHERE delivered_s IS NOT NULL "
                            "ORDER BY id LIMIT ?)", (excess,),
                        )
                    if excess > 0:
                        dropped += self._delete(
                            "id IN (SELECT id FROM outbox_events ORDER BY id LIMIT ?)", (excess,)
                        )
                if dropped:
                    self._db.execute(
                        "UPDATE outbox_meta SET value = CAST(value AS INTEGER) + ? "
                        "WHERE key = 'dropped'",
                        (dropped,),
                    )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot prune {self.path}: {exc}") from exc
        if dropped:
            log.warning(
                "outbox full (max %d rows, %.1f days): dropped the %d oldest undelivered "
                "event(s); %d dropped in all", self.max_rows, self.max_age_s / 86400.0, dropped,
                self.stats().dropped,
            )
        return dropped

    def _delete(self, where: str, args: tuple[Any, ...]) -> int:
        cursor = self._db.execute(f"DELETE FROM outbox_events WHERE {where}", args)  # noqa: S608
        return int(cursor.rowcount)

    # --- plumbing -----------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _event_fields(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    fields = event.to_dict() if isinstance(event, Event) else dict(event)
    kind = fields.get("type")
    if not isinstance(kind, str) or not kind:
        raise StoreError(f"an event needs a type, got {fields!r:.80}")
    return fields


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``): takes the write lock up front, so
    two processes sharing the file never interleave a read-modify-write of ``last_seq``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")


__all__ = [
    "DailyTotals", "OutboxStats", "Store", "StoredEvent", "iso_utc",
    "local_day", "utc_now",
]
