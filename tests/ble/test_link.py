"""The wearable link through bleak's API, the bumble backend and the virtual wearable.

Content tests stream faster than real time (the virtual wearable's ``speed``): they check what
arrives, not when. The timing tests run in real time.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from bumble.link import LocalLink

from sensord.ble.adapter import BumbleAdapter
from sensord.ble.link import LinkConfig, WearableLink
from sensord.model import LinkState
from sensord.profiles import PROFILES, get_profile
from sensord.virtual.central import BumbleCentral
from sensord.virtual.wearable import VirtualWearable
from tests.ble.support import assert_equals_motion, lost_before, running, wait_until, walk_motion

FAST = 20.0  # content tests stream up to 20x faster than real time...
MAX_NOTIFICATIONS_PER_S = 800.0  # ...but no more packets per second than the loop can carry


def _content_speed(profile_id: str, rate_hz: float) -> float:
    """How much faster than real time a profile can stream in a test at this rate."""
    emulator = get_profile(profile_id).emulator()
    per_packet = emulator.samples_per_notification(247)
    zeros = np.zeros((per_packet, 3))
    notifications = len(emulator.encode(zeros, zeros)) * rate_hz / per_packet
    return max(1.0, min(FAST, MAX_NOTIFICATIONS_PER_S / notifications))


def _link(central: BumbleCentral, name: str, **options: object) -> WearableLink:
    config = LinkConfig(name=name, scan_timeout_s=2.0, connect_timeout_s=3.0, **options)  # type: ignore[arg-type]
    return WearableLink(config, BumbleAdapter.from_central(central))


def _profile_rates() -> list[tuple[str, float]]:
    return [
        (profile_id, rate)
        for profile_id, profile in PROFILES.items()
        for rate in sorted({profile.nearest_rate(100.0), max(profile.rates_hz)})
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(("profile_id", "rate_hz"), _profile_rates())
async def test_sixty_seconds_arrive_complete_and_equal_to_the_motion(
    link: LocalLink, central: BumbleCentral, shared_data: Path, profile_id: str, rate_hz: float
) -> None:
    profile = get_profile(profile_id)
    speed = _content_speed(profile_id, rate_hz)
    async with VirtualWearable(
        link, profile, name=f"{profile_id[:6]}-L", motion=walk_motion(shared_data), speed=speed
    ) as wearable:
        wearable_link = _link(central, wearable.name, profile="auto", rate_hz=rate_hz)
        target = int(60 * rate_hz)
        async with running(wearable_link) as run:
            await run.samples_at_least(target, timeout_s=60 / speed * 3 + 5)
            health = wearable_link.health()
    assert health.profile == profile_id  # recognised from the advertisement
    assert health.nominal_rate_hz == rate_hz
    assert health.lost_samples == 0
    assert health.gaps == 0
    assert health.decode_errors == 0
    assert health.duplicates == 0
    assert health.queue_drops == 0
    received = run.received()
    assert np.all(np.diff(received.t_s) > 0)
    assert_equals_motion(received, wearable)


@pytest.mark.asyncio
async def test_real_time_stream_is_at_rate_and_on_the_host_clock(
    link: LocalLink, central: BumbleCentral, wearable: VirtualWearable
) -> None:
    wearable_link = _link(central, wearable.name, rate_hz=100.0)
    async with running(wearable_link) as run:
        await run.samples_at_least(100, timeout_s=5)
        start = run.samples
        started = time.monotonic()
        await asyncio.sleep(12.0)
        elapsed = time.monotonic() - started
        health = wearable_link.health()
        received = run.received()
        now = time.monotonic()
    assert (run.samples - start) / elapsed == pytest.approx(100.0, rel=0.02)
    assert health.rate_hz == pytest.approx(100.0, rel=0.03)
    assert health.device_rate_hz == pytest.approx(100.0, rel=0.005)
    assert health.state == LinkState.STREAMING
    assert health.battery_pct == wearable.battery_pct
    assert health.device_info.manufacturer == wearable.device_info.manufacturer
    assert health.rssi_dbm == wearable.rssi_dbm
    # Sample times are host monotonic seconds: the newest is within a packet of "now".
    assert 0 <= now - received.t_s[-1] < 0.25
    spacing = np.diff(received.t_s[-500:])
    assert np.median(spacing) == pytest.approx(0.01, rel=0.01)
    assert np.percentile(np.abs(spacing - 0.01), 95) < 0.002
    assert_equals_motion(received, wearable)


@pytest.mark.asyncio
async def test_a_dropped_link_streams_again_within_two_seconds_without_duplicates(
    central: BumbleCentral, wearable: VirtualWearable
) -> None:
    wearable_link = _link(central, wearable.name)
    async with running(wearable_link) as run:
        await run.samples_at_least(150, timeout_s=5)
        before = run.samples
        dropped_at = time.monotonic()
        assert await wearable.drop_link()
        await run.until(lambda r: r.samples > before + 10, timeout_s=5)
        back_at = next(t for t, n in zip(run.arrivals_s, np.cumsum(
            [len(b) for b in run.blocks]), strict=True) if n > before)
        await run.samples_at_least(before + 100, timeout_s=5)
        health = wearable_link.health()
    assert back_at - dropped_at < 2.0
    assert health.reconnects == 1
    received = run.received()
    assert np.all(np.diff(received.t_s) > 0), "reordered or duplicated sample times"
    gaps = wearable_link.gaps()
    assert len(gaps) == 1
    assert gaps[0].cause == "reconnect"
    assert gaps[0].after_t_s < gaps[0].before_t_s
    assert health.duplicates == 0
    # Each stream's samples arrive exactly once, in order: no sample repeated across the drop.
    first, second = received.split([before])
    assert_equals_motion(first, wearable, stream=1)
    assert_equals_motion(second, wearable, stream=2)


@pytest.mark.asyncio
async def test_corrupt_and_truncated_packets_are_counted_and_skipped(
    central: BumbleCentral, link: LocalLink
) -> None:
    async with VirtualWearable(
        link, get_profile("sensord"), name="bad-L", speed=FAST, seed=3
    ) as wearable:
        wearable_link = _link(central, wearable.name)
        async with running(wearable_link) as run:
            await run.samples_at_least(100, timeout_s=5)
            wearable.faults.corrupt_next = 7
            wearable.faults.truncate_next = 5
            await run.until(lambda _r: wearable.faults.truncate_next == 0, timeout_s=5)
            await run.samples_at_least(run.samples + 200, timeout_s=5)
            health = wearable_link.health()
    assert wearable.stats.corrupted == 7
    assert wearable.stats.truncated == 5
    assert health.decode_errors == 12
    # The skipped packets' samples are known lost (the counter says so), never invented.
    assert health.lost_samples == lost_before(wearable, health.samples)
    assert health.gaps >= 1
    assert health.state == LinkState.STREAMING
    assert_equals_motion(run.received(), wearable)


@pytest.mark.asyncio
async def test_lost_packets_are_reported_as_gaps_of_the_exact_size(
    central: BumbleCentral, link: LocalLink
) -> None:
    async with VirtualWearable(
        link, get_profile("sensord"), name="lossy-L", speed=FAST, seed=5
    ) as wearable:
        wearable.faults.loss_probability = 0.05
        wearable_link = _link(central, wearable.name)
        async with running(wearable_link) as run:
            await run.samples_at_least(3000, timeout_s=20)
            health = wearable_link.health()
    lost = lost_before(wearable, health.samples)
    assert lost > 0
    assert health.lost_samples == lost
    # One gap per run of lost packets that a delivered packet closed.
    runs, delivered, in_run = 0, 0, False
    for times, ok in zip(wearable.sent.motion_t_s, wearable.sent.delivered, strict=True):
        if delivered >= health.samples:
            break
        if ok:
            runs += in_run and delivered > 0
            delivered += times.shape[0]
        in_run = not ok
    assert health.gaps == runs
    assert health.loss_pct == pytest.approx(
        100 * health.lost_samples / (health.samples + health.lost_samples)
    )
    assert_equals_motion(run.received(), wearable)


@pytest.mark.asyncio
async def test_leaving_unsubscribes_and_stops_the_wearable(
    central: BumbleCentral, wearable: VirtualWearable
) -> None:
    wearable_link = _link(central, wearable.name)
    async with running(wearable_link) as run:
        await run.samples_at_least(50, timeout_s=5)
        assert wearable.emulator.streaming
    assert wearable_link.state == LinkState.STOPPED
    assert not wearable.emulator.streaming  # the stop write arrived before the disconnect
    await wait_until(lambda: not wearable.connected, timeout_s=5)


@pytest.mark.asyncio
async def test_cancelling_the_link_still_stops_the_wearable(
    central: BumbleCentral, wearable: VirtualWearable
) -> None:
    wearable_link = _link(central, wearable.name)
    task = asyncio.create_task(wearable_link.run())
    await wait_until(lambda: wearable.emulator.streaming, timeout_s=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert not wearable.emulator.streaming


@pytest.mark.asyncio
@pytest.mark.parametrize("turns", [0, 1, 2, 3, 4, 6])
async def test_a_cancel_that_meets_the_start_response_still_stops_the_link(
    central: BumbleCentral, wearable: VirtualWearable, turns: int
) -> None:
    """bumble waits for a GATT response with 3.11's ``wait_for``, which drops a cancellation
    arriving in the same loop turn as the response. The cancel lands ``turns`` loop turns after
    the wearable took the start write, so one of them meets the response; the link must end
    and leave the wearable stopped instead of streaming on."""
    wearable_link = _link(central, wearable.name)
    task = asyncio.create_task(wearable_link.run())
    await wait_until(lambda: wearable.emulator.streaming, timeout_s=5, poll_s=0)
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=10)  # not wait_for: it would wait forever
    if not done:
        wearable_link.stop()
        await asyncio.wait([task], timeout=10)
    assert done, "the cancelled link kept running"
    assert task.cancelled()
    assert not wearable.emulator.streaming


@pytest.mark.asyncio
async def test_a_slow_consumer_loses_the_oldest_blocks_counted(
    central: BumbleCentral, link: LocalLink
) -> None:
    async with VirtualWearable(link, get_profile("sensord"), name="fast-L", speed=FAST) as w:
        wearable_link = _link(central, w.name, queue_blocks=4)
        task = asyncio.create_task(wearable_link.run())
        try:
            await wait_until(lambda: wearable_link.health().samples >= 500, timeout_s=10)
        finally:
            wearable_link.stop()
            await asyncio.wait_for(task, 5)
        blocks = [b async for b in wearable_link]
    assert len(blocks) == 4
    assert wearable_link.health().queue_drops > 0


@pytest.mark.asyncio
async def test_two_wearables_stream_at_once_on_one_adapter(
    central: BumbleCentral, link: LocalLink, shared_data: Path
) -> None:
    """Left and right on one adapter, in real time; the right one's clock runs 2 % fast, which
    its link must measure (and time its samples by)."""
    profile = get_profile("sensord")
    motion = walk_motion(shared_data)
    async with (
        VirtualWearable(link, profile, name="sensord-L", motion=motion) as left,
        VirtualWearable(link, profile, name="sensord-R", motion=motion) as right,
    ):
        right.faults.rate_scale = 1.02
        links = [_link(central, "sensord-L"), _link(central, "sensord-R")]
        async with running(links[0]) as run_left, running(links[1]) as run_right:
            await run_left.samples_at_least(100, timeout_s=5)
            await run_right.samples_at_least(100, timeout_s=5)
            await asyncio.sleep(5.0)
            healths = [link_.health() for link_ in links]
    for health, rate in zip(healths, (100.0, 102.0), strict=True):
        assert health.state == LinkState.STREAMING
        assert health.rate_hz == pytest.approx(rate, rel=0.03)
        assert health.device_rate_hz == pytest.approx(rate, rel=0.005)
        assert health.lost_samples == 0
    assert healths[0].address != healths[1].address
    received_right = run_right.received()
    assert np.median(np.diff(received_right.t_s[-300:])) == pytest.approx(1 / 102.0, rel=0.01)
    assert_equals_motion(run_left.received(), left)
    assert_equals_motion(received_right, right)


@pytest.mark.asyncio
async def test_a_wearable_gone_for_thirty_seconds_is_waited_for_without_busy_looping(
    central: BumbleCentral, wearable: VirtualWearable
) -> None:
    """Real time: out of range for 30 s (the link ends by supervision timeout), then back."""
    wearable_link = _link(central, wearable.name)
    async with running(wearable_link) as run:
        await run.samples_at_least(100, timeout_s=5)
        before = wearable_link.health()
        gone_at = time.monotonic()
        await wearable.vanish(30.0)
        await wait_until(lambda: wearable_link.state != LinkState.STREAMING, timeout_s=5)
        lost_after_s = time.monotonic() - gone_at
        samples = run.samples
        await run.until(lambda r: r.samples > samples, timeout_s=45)
        back_after_s = time.monotonic() - gone_at
        after = wearable_link.health()
    scans = after.scans - before.scans
    attempts = after.connect_attempts - before.connect_attempts
    print(f"lost after {lost_after_s:.2f} s, streaming again after {back_after_s:.2f} s, "
          f"{scans} scans and {attempts} connect attempts while away")
    assert 1.5 < lost_after_s < 3.0  # the supervision timeout, not the 5 s stale watchdog
    # Scans of 2 s with waits of 1, 2, 4, 5, 5... s: a handful in 30 s, never a busy loop.
    assert 4 <= scans <= 10
    assert attempts == 1  # no connect is tried until the wearable is seen again
    # Back within one capped wait (5 s + 20 % jitter) and a scan of it being back.
    assert 30.0 < back_after_s < 30.0 + 6.0 + 1.0
    assert after.reconnects == before.reconnects + 1
    gap = wearable_link.gaps()[-1]
    assert gap.cause == "reconnect"
    assert gap.duration_s == pytest.approx(back_after_s, abs=1.0)
