"""Helpers for link tests: run a link while collecting its blocks, compare with the motion."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np

from sensord.ble.link import WearableLink
from sensord.model import ImuBlock
from sensord.virtual.motion import MotionSource
from sensord.virtual.wearable import VirtualWearable

WALK = Path("gaitmap_walk") / "walk_2x20m_left.csv"


async def wait_until(
    predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.01
) -> None:
    """Polls ``predicate`` until true (for state that has no event to wait on), bounded;
    ``poll_s=0`` checks on every loop turn, to act in the turn the state changed."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - the virtual wearable's state has no events
            await asyncio.sleep(poll_s)


class Running:
    """A running link and everything it yielded so far (blocks and their host arrival)."""

    def __init__(self, link: WearableLink) -> None:
        self.link = link
        self.blocks: list[ImuBlock] = []
        self.arrivals_s: list[float] = []
        self.samples = 0
        self._changed = asyncio.Event()

    async def _consume(self) -> None:
        async for block in self.link:
            self.blocks.append(block)
            self.arrivals_s.append(time.monotonic())
            self.samples += len(block)
            self._changed.set()

    async def until(self, predicate: Callable[[Running], bool], timeout_s: float) -> None:
        """Waits (at most ``timeout_s``) until ``predicate(self)`` holds after a block."""
        async with asyncio.timeout(timeout_s):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

    async def samples_at_least(self, n: int, timeout_s: float) -> None:
        await self.until(lambda r: r.samples >= n, timeout_s)

    def received(self) -> ImuBlock:
        return ImuBlock.concat(self.blocks)


@asynccontextmanager
async def running(link: WearableLink) -> AsyncIterator[Running]:
    """Runs ``link`` and a consumer in one task group; stops the link on exit."""
    collector = Running(link)
    async with asyncio.TaskGroup() as group:
        group.create_task(link.run(), name="test-link")
        group.create_task(collector._consume(), name="test-consumer")
        try:
            yield collector
        finally:
            link.stop()


def walk_motion(shared_data: Path) -> MotionSource:
    """A real foot-worn walk (gaitmap, 204.8 Hz) as the wearable's motion."""
    return MotionSource.from_recording(shared_data / WALK)


def assert_equals_motion(
    received: ImuBlock, wearable: VirtualWearable, *, stream: int | None = None
) -> None:
    """``received`` equals, sample for sample and within the profile's quantisation (one step:
    some devices truncate), what the wearable sampled from its motion and delivered intact (in
    ``stream``, if given)."""
    times = wearable.sent.times(stream=stream)
    n = len(received)
    assert times.shape[0] >= n, f"received {n} samples, the wearable delivered {times.shape[0]}"
    acc, gyro = wearable.motion.sample(times[:n])
    q = wearable.profile.quantisation()
    acc = np.clip(acc, -q.acc_full_scale_m_s2, q.acc_full_scale_m_s2)
    gyro = np.clip(gyro, -q.gyro_full_scale_rad_s, q.gyro_full_scale_rad_s)
    acc_err = np.abs(received.acc_m_s2 - acc).max()
    gyro_err = np.abs(received.gyro_rad_s - gyro).max()
    assert acc_err <= q.acc_step_m_s2 + 1e-9, f"acc off by {acc_err} m/s^2"
    assert gyro_err <= q.gyro_step_rad_s + 1e-9, f"gyro off by {gyro_err} rad/s"


def lost_before(wearable: VirtualWearable, received: int) -> int:
    """Samples the wearable failed to deliver intact before its ``received``-th delivered one:
    what a link that received ``received`` samples can know to be lost (a stream's losses
    before its first delivered packet are invisible: the counter starts where the link does)."""
    delivered = lost = 0
    started: set[int] = set()
    sent = wearable.sent
    for times, ok, stream in zip(sent.motion_t_s, sent.delivered, sent.stream, strict=True):
        if delivered >= received:
            break
        if ok:
            delivered += times.shape[0]
            started.add(stream)
        elif stream in started:
            lost += times.shape[0]
    return lost


def wearable_adapter(process: subprocess.Popen[str], timeout_s: float) -> str | None:
    """The ``--adapter`` string a starting `sensord wearable` process prints on stdout, or None
    if it ended or said nothing of the kind within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            return None
        match = re.search(r"--adapter (bumble:tcp-client:127\.0\.0\.1:\d+)", line)
        if match:
            return match.group(1)
    return None
