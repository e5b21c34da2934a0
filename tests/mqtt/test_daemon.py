"""The daemon core without a broker: sources, rate meter, back-off, midnight, the worker."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensord.config import WearableConfig
from sensord.daemon import RateMeter, RecordingSource, WearableWorker, seconds_to_local_midnight
from sensord.model import ActivityState, ImuBlock, LinkState, WearableStatus
from sensord.sinks.mqtt import Backoff
from sensord.store import DailyTotals, Store
from tests.mqtt.helpers import ScriptedPipeline, synthetic_block


async def collect(source: RecordingSource) -> list[ImuBlock]:
    return [block async for block in source.blocks()]


@pytest.mark.asyncio
async def test_speed_zero_yields_every_sample_in_order() -> None:
    block = synthetic_block(5.0)
    source = RecordingSource(block, speed=0)
    pieces = await collect(source)
    assert len(pieces) == 5  # one-second blocks when nothing paces them
    np.testing.assert_array_equal(ImuBlock.concat(pieces).t_s, block.t_s)
    assert source.status().link == LinkState.STOPPED


@pytest.mark.asyncio
async def test_speed_paces_by_the_sample_clock() -> None:
    block = synthetic_block(2.0)
    started = time.monotonic()
    pieces = await collect(RecordingSource(block, speed=8.0, block_s=0.1))
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0  # 2 s of samples at 8x: 0.25 s
    assert len(pieces) == 20


@pytest.mark.asyncio
async def test_a_gap_in_the_recording_is_not_filled() -> None:
    block = synthetic_block(2.0)
    t = block.t_s.copy()
    t[50:] += 3.0  # 3 s of lost packets
    gappy = ImuBlock(t, block.acc_m_s2, block.gyro_rad_s)
    pieces = await collect(RecordingSource(gappy, speed=0))
    assert sum(len(p) for p in pieces) == len(block)


def test_rate_meter_sees_rate_and_loss() -> None:
    meter = RateMeter(nominal_rate_hz=100.0, window_s=10.0)
    assert meter.rate_hz() is None
    t = np.arange(0, 5, 0.01)
    keep = np.ones_like(t, dtype=bool)
    keep[::4] = False  # every 4th sample lost: 25 %
    meter.add(ImuBlock.from_arrays(t[keep], np.zeros((keep.sum(), 3)),
                                   np.zeros((keep.sum(), 3))))
    assert meter.rate_hz() == pytest.approx(75.0, rel=0.02)
    assert meter.loss_pct() == pytest.approx(25.0, abs=2.0)


def test_backoff_doubles_with_jitter_within_bounds() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(1))
    delays = [backoff.next() for _ in range(8)]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.next() <= 1.0
    assert 4.0 <= backoff.longest() <= 8.0


@given(st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),  # noqa: DTZ001 - naive bounds
    timezones=st.just(UTC),
))
def test_midnight_is_less_than_a_long_day_away(moment: datetime) -> None:
    now = moment.astimezone()
    wait = seconds_to_local_midnight(now)
    assert 0 < wait <= 25 * 3600
    after = (now + timedelta(seconds=wait)).astimezone()
    assert (after.hour, after.minute, after.second) == (0, 0, 0)


class RecordingSink:
    """Our own Sink seam, recording the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def events_stored(self) -> None:
        self.calls.append(("events", None))

    def set_availability(self, device: str, online: bool) -> None:
        self.calls.append(("availability", online))

    def set_activity(self, device: str, state: ActivityState) -> None:
        self.calls.append(("activity", state))

    def set_status(self, device: str, status: WearableStatus) -> None:
        self.calls.append(("status", status))

    def set_daily(self, totals: DailyTotals) -> None:
        self.calls.append(("daily", totals))

    def add_raw(self, device: str, block: ImuBlock) -> None:
        self.calls.append(("raw", len(block)))

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def wait_connected(self, timeout_s: float) -> bool:
        return True

    async def drain(self, timeout_s: float) -> bool:
        return True

    def stop(self) -> None:
        pass

    def kinds(self, kind: str) -> list[Any]:
        return [value for name, value in self.calls if name == kind]


@pytest.mark.asyncio
async def test_worker_stores_before_it_tells_and_goes_offline_at_the_end(tmp_path: Path) -> None:
    sink = RecordingSink()
    with Store.open(tmp_path / "o.db") as store:
        worker = WearableWorker(
            WearableConfig(name="left", rate_hz=50.0),
            RecordingSource(synthetic_block(2.0), speed=0), ScriptedPipeline(every_s=0.5),
            store, sink,
        )
        await worker.run()
        assert store.pending_count() == worker.events == 4  # 3 reps + the set
    assert sink.kinds("availability") == [False, True, False]
    assert sink.kinds("daily")[-1].reps["plantar_flexion"] == 3
    assert sink.kinds("daily")[-1].sets["plantar_flexion"] == 1
    final = sink.kinds("status")[-1]
    assert final.link == LinkState.STOPPED
    assert final.rate_hz == pytest.approx(50.0)
    assert sum(sink.kinds("raw")) == 100
