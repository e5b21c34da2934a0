"""The outbox: seq never repeats, rows wait until delivered, bounds drop and count."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sensord.errors import StoreError
from sensord.history import History
from sensord.model import Event
from sensord.store import Store, local_day

REP = Event(type="rep", exercise="plantar_flexion", t_start=1.0, t_end=2.0, hold_s=5.2)
STEP = Event(type="step", exercise="walk", t=3.0)
SET = Event(type="set", exercise="plantar_flexion", t_start=0.0, t_end=9.0, reps=10, target=10)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_seq_is_per_device_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Store.open(path) as store:
        first = store.append("left", [REP, REP])
        store.append("right", [STEP])
    with Store.open(path) as store:
        later = store.append("left", [REP])
        right = store.append("right", [STEP])
    assert [r.seq for r in first] == [1, 2]
    assert [r.seq for r in later] == [3]
    assert [r.seq for r in right] == [2]


def test_payload_is_the_contract_event_with_v_device_seq_ts(tmp_path: Path) -> None:
    clock = Clock(datetime(2025, 6, 1, 8, 30, 0, 125000, tzinfo=UTC))
    with Store.open(tmp_path / "o.db", clock=clock) as store:
        (row,) = store.append("left", [REP])
    assert row.to_dict() == {
        "v": 1, "type": "rep", "exercise": "plantar_flexion", "t_start": 1.0, "t_end": 2.0,
        "hold_s": 5.2, "device": "left", "seq": 1, "ts": "2025-06-01T08:30:00.125Z",
    }


def test_pending_is_in_order_until_delivered(tmp_path: Path) -> None:
    with Store.open(tmp_path / "o.db") as store:
        rows = store.append("left", [REP, STEP, SET])
        store.append("right", [STEP])
        assert [(r.device, r.seq) for r in store.pending()] == [
            ("left", 1), ("left", 2), ("left", 3), ("right", 1)
        ]
        store.mark_delivered([rows[0].row_id, rows[2].row_id])
        assert [(r.device, r.seq) for r in store.pending()] == [("left", 2), ("right", 1)]
        assert store.pending_count("left") == 1
        assert store.stats().total == 4


def test_seq_never_repeats_even_after_rows_are_pruned(tmp_path: Path) -> None:
    with Store.open(tmp_path / "o.db", max_rows=2) as store:
        for _ in range(5):
            rows = store.append("left", [REP])
            store.mark_delivered([r.row_id for r in rows])
        assert store.stats().total == 2
        assert store.append("left", [REP])[0].seq == 6


def test_row_bound_drops_delivered_rows_first_then_counts_lost_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store.open(tmp_path / "o.db", max_rows=3) as store:
        delivered = store.append("left", [REP, REP])
        store.mark_delivered([r.row_id for r in delivered])
        store.append("left", [REP])
        store.append("left", [REP])  # 4 rows: the oldest delivered one goes, nothing is lost
        assert store.stats().dropped == 0
        assert [r.seq for r in store.pending()] == [3, 4]
        with caplog.at_level(logging.WARNING, logger="sensord.store"):
            # rows 2 (delivered), 3, 4 + three new: seq 2 goes quietly, 3 and 4 are lost
            store.append("left", [REP, REP, REP])
        stats = store.stats()
        assert stats.total == 3
        assert stats.dropped == 2
        assert [r.seq for r in store.pending()] == [5, 6, 7]
        assert "dropped the 2 oldest undelivered" in caplog.text


def test_age_bound_drops_old_rows_and_keeps_the_count_across_restarts(tmp_path: Path) -> None:
    clock = Clock(datetime(2025, 6, 1, 12, tzinfo=UTC))
    path = tmp_path / "o.db"
    with Store.open(path, max_age_days=1.0, clock=clock) as store:
        store.append("left", [REP, REP])
        clock.now += timedelta(hours=25)
        assert store.prune() == 2
        assert store.pending() == []
    with Store.open(path, clock=clock) as store:
        assert store.stats().dropped == 2


def test_daily_totals_count_one_local_day(tmp_path: Path) -> None:
    clock = Clock(datetime(2025, 6, 1, 12, tzinfo=UTC))
    with Store.open(tmp_path / "o.db", clock=clock) as store:
        store.append("left", [REP, REP, SET, STEP, Event(type="step", exercise="toe_walk", t=1.0)])
        store.append("right", [REP])
        totals = store.daily_totals("left")
        assert totals.day == local_day(clock.now)
        assert totals.reps == {"plantar_flexion": 2, "ankle_circle": 0, "toe_press": 0,
                               "toe_walk": 0}
        assert totals.sets["plantar_flexion"] == 1
        assert totals.hold_s == {"plantar_flexion": 10.4, "toe_press": 0.0}
        assert totals.steps == {"walk": 1, "toe_walk": 1}
        clock.now += timedelta(days=1)
        assert store.daily_totals("left").reps["plantar_flexion"] == 0


def test_two_processes_sharing_the_file_never_reuse_a_seq(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    Store.open(path).close()
    seqs: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        with Store.open(path) as store:
            for _ in range(40):
                rows = store.append("left", [REP])
                with lock:
                    seqs.extend(r.seq for r in rows)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(seqs) == list(range(1, 121))


def test_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot open the event store"):
        Store.open(blocker / "sub" / "o.db")


def test_session_objects_are_stored_too_and_a_type_is_required(tmp_path: Path) -> None:
    start = {"type": "session_start", "session_id": "s1", "device": None, "t": 0.0}
    with Store.open(tmp_path / "o.db") as store:
        (row,) = store.append("left", [start])
        assert row.to_dict()["device"] == "left"  # the daemon's name wins
        assert row.to_dict()["session_id"] == "s1"
        with pytest.raises(StoreError, match="needs a type"):
            store.append("left", [{"exercise": "toe_press"}])
        assert store.last_seq("left") == 1  # a refused batch takes no number


def test_outbox_and_history_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "sensord.db"
    with Store.open(path) as store, History(path) as history:
        store.append("left", [REP])
        assert history.sessions(limit=5) == []
        assert store.pending_count() == 1
