"""The small pieces under the link: the drop-oldest queue, backoff waits, the rate meter,
adapter names."""

from __future__ import annotations

import asyncio
import random

import pytest
from bleak.exc import BleakDeviceNotFoundError, BleakError

from sensord.ble.adapter import AdapterPool, BlueZAdapter, BumbleAdapter, parse_adapter
from sensord.ble.backoff import Backoff, ErrorClass, WearableNotFoundError, classify
from sensord.ble.health import LinkHealth, RateMeter
from sensord.ble.queue import DropOldestQueue, QueueClosed
from sensord.errors import InputError
from sensord.model import LinkState
from sensord.virtual.central import AdapterLostError


@pytest.mark.asyncio
async def test_queue_drops_the_oldest_and_counts_it() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(3)
    for item in range(5):
        queue.put_nowait(item)
    assert queue.dropped == 2
    assert [await queue.get() for _ in range(3)] == [2, 3, 4]


@pytest.mark.asyncio
async def test_queue_wakes_a_waiting_consumer_and_ends_iteration_on_close() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(10)
    received: list[int] = []

    async def consume() -> None:
        received.extend([item async for item in queue])

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    queue.put_nowait(1)
    queue.put_nowait(2)
    queue.close()
    await asyncio.wait_for(task, 1.0)
    assert received == [1, 2]
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(queue.get(), 1.0)


def test_errors_are_classified_for_their_waits() -> None:
    assert classify(WearableNotFoundError("gone")) == ErrorClass.NOT_FOUND
    assert classify(BleakDeviceNotFoundError("AA", "gone")) == ErrorClass.NOT_FOUND
    assert classify(BleakError("No more connection slots")) == ErrorClass.BUSY
    assert classify(BleakError("Operation already in progress")) == ErrorClass.BUSY
    assert classify(AdapterLostError("bumble adapter x: HCI transport lost")) == (
        ErrorClass.ADAPTER)
    assert classify(BleakError("org.bluez.Error.Failed")) == ErrorClass.TRANSIENT
    assert classify(TimeoutError()) == ErrorClass.TRANSIENT


def test_backoff_grows_per_class_with_jitter_and_resets_after_a_good_stream() -> None:
    backoff = Backoff(rng=random.Random(4))
    waits = [backoff.delay(ErrorClass.NOT_FOUND) for _ in range(6)]
    nominal = [1, 2, 4, 5, 5, 5]
    for wait, expected in zip(waits, nominal, strict=True):
        assert expected * 0.8 <= wait <= expected * 1.2
    assert 0.2 <= backoff.delay(ErrorClass.TRANSIENT) <= 0.3  # a new class starts at its base
    backoff.succeeded()
    assert backoff.delay(ErrorClass.TRANSIENT) == 0.0  # a dropped good stream retries at once
    assert 0.2 <= backoff.delay(ErrorClass.TRANSIENT) <= 0.3
    assert backoff.failures == 2


def test_backoff_never_busy_loops_however_long_it_fails() -> None:
    backoff = Backoff(rng=random.Random(1))
    waits = [backoff.delay(ErrorClass.TRANSIENT) for _ in range(10_000)]
    assert min(waits) >= 0.2
    assert max(waits) <= 8.0 * 1.2


def test_rate_meter_measures_the_achieved_rate() -> None:
    meter = RateMeter(window_s=5.0)
    t = 0.0
    while t < 10.0:
        meter.add(t, 5)
        t += 0.05
    assert meter.rate_hz(t) == pytest.approx(100.0, rel=0.02)
    assert meter.rate_hz(t + 6.0) == 0.0


def test_health_snapshot_is_json_ready() -> None:
    health = LinkHealth(name="left", state=LinkState.STREAMING, state_age_s=1.234,
                        samples=10, last_sample_age_s=2.0)
    data = health.to_dict()
    assert data["state"] == "streaming"
    assert data["nominal_rate_hz"] is None
    assert health.stale


def test_adapters_are_parsed_and_shared_by_name() -> None:
    assert isinstance(parse_adapter("hci1"), BlueZAdapter)
    assert parse_adapter("hci1").client_kwargs() == {"bluez": {"adapter": "hci1"}}
    bumble = parse_adapter("bumble:tcp-client:127.0.0.1:9000")
    assert isinstance(bumble, BumbleAdapter)
    assert bumble.transport == "tcp-client:127.0.0.1:9000"
    for bad in ("bumble:", "usb0", ""):
        with pytest.raises(InputError):
            parse_adapter(bad)
    pool = AdapterPool()
    assert pool.get("hci0") is pool.get(" hci0")
    assert pool.get("hci0") is not pool.get("hci1")
