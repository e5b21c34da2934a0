"""Fault isolation and workout tracking in the daemon core, without a broker: a wearable whose
analysis fails, or whose source breaks, never stops the others; sessions are stored in time
order with the events and kept in the history."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sensord.config import Config, SessionConfig, StoreConfig, WearableConfig
from sensord.daemon import Daemon, PipelineLike, RecordingSource, open_history
from sensord.history import History
from sensord.model import ActivityState, Event, ImuBlock, WearableStatus
from sensord.store import DailyTotals, Store
from tests.mqtt.helpers import ScriptedPipeline, synthetic_block


class QuietSink:
    """Our own Sink seam: takes everything, publishes nothing, ends when stopped."""

    def __init__(self) -> None:
        self._stopped = asyncio.Event()
        self.activity: list[tuple[str, dict[str, Any] | None]] = []

    def events_stored(self) -> None:
        pass

    def set_availability(self, device: str, online: bool) -> None:
        pass

    def set_activity(self, device: str, state: ActivityState,
                     session: dict[str, Any] | None = None) -> None:
        self.activity.append((device, session))

    def set_status(self, device: str, status: WearableStatus) -> None:
        pass

    def set_daily(self, totals: DailyTotals) -> None:
        pass

    def add_raw(self, device: str, block: ImuBlock) -> None:
        pass

    async def run(self) -> None:
        await self._stopped.wait()

    async def wait_connected(self, timeout_s: float) -> bool:
        return True

    async def drain(self, timeout_s: float) -> bool:
        return True

    def stop(self) -> None:
        self._stopped.set()


class FailsOnce(ScriptedPipeline):
    """Raises on its third block (a bug in the analysis), like no real pipeline should."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = 0

    def feed(self, block: ImuBlock) -> list[Event]:
        self.blocks += 1
        if self.blocks == 3:
            raise ZeroDivisionError("a bug")
        return super().feed(block)


class BrokenSource:
    """A source that breaks after one block (not a SensordError: a bug)."""

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        yield synthetic_block(1.0)
        raise KeyError("broken")

    def status(self) -> WearableStatus:
        return WearableStatus()


@pytest.mark.asyncio
async def test_a_failing_wearable_never_stops_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = Config(
        store=StoreConfig(path=str(tmp_path / "sensord.db")),
        session=SessionConfig(idle_end_s=600.0),
        wearables=tuple(WearableConfig(name=n, rate_hz=50.0) for n in ("a", "b", "c")),
    )
    made: dict[str, int] = {}

    def factory(wearable: WearableConfig, _config: Config) -> PipelineLike:
        made[wearable.name] = made.get(wearable.name, 0) + 1
        if wearable.name == "a" and made["a"] == 1:
            return FailsOnce()
        return ScriptedPipeline(every_s=0.5)

    store = Store.open(tmp_path / "sensord.db")
    history = open_history(store)
    sink = QuietSink()
    daemon = Daemon(config, store, sink, pipeline_factory=factory, track_sessions=True,
                    history=history, isolate_faults=True)
    sources = {
        "a": RecordingSource(synthetic_block(10.0), speed=0),
        "b": RecordingSource(synthetic_block(10.0), speed=0),
        "c": BrokenSource(),
    }
    with caplog.at_level(logging.ERROR, logger="sensord.daemon"):
        summary = await asyncio.wait_for(daemon.run(sources), 30)
    # b went through untouched: 19 reps (0.5 s apart in 10 s), the set, and its session.
    kinds_b = [row.to_dict()["type"] for row in store.pending(1000) if row.device == "b"]
    assert kinds_b.count("rep") == 19
    assert kinds_b[0] == "session_start"
    assert kinds_b[-1] == "session"
    # a lost what its failed pipeline held (one block of analysis), then went on afresh.
    kinds_a = [row.to_dict()["type"] for row in store.pending(1000) if row.device == "a"]
    assert 10 <= kinds_a.count("rep") < 19
    assert made["a"] == 2
    assert kinds_a.count("session_start") == 1  # the same session through the fault
    # c's source broke: logged, and its session (if any) closed; the others were not stopped.
    assert summary.samples["c"] == 50
    messages = [r.getMessage() for r in caplog.records]
    assert any("wearable a: the analysis failed" in m for m in messages)
    assert any("wearable c failed; the other wearables carry on" in m for m in messages)
    # Sessions are in the history; the live snapshot rode on the activity topic.
    assert summary.sessions["b"][0].exercise("plantar_flexion").reps == 19  # type: ignore[union-attr]
    assert history is not None
    history.close()
    with History(tmp_path / "sensord.db", readonly=True) as kept:
        assert {s.device for s in kept.sessions(limit=10)} == {"a", "b", "c"}
    assert any(session and session["active"] for device, session in sink.activity
               if device == "b")
    store.close()
