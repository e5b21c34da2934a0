"""`sensord record`: one wearable's stream into a recording file (CONTRACTS.md section 2).

Times in the file start at 0 with the first sample; gaps (lost packets, reconnects) stay gaps
in ``t``. Every block is flushed as it is written, so stopping at any moment (Ctrl-C, the
duration reached, the process killed) leaves a valid file.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sensord.ble.adapter import Adapter
from sensord.ble.health import LinkHealth
from sensord.ble.link import LinkConfig, WearableLink
from sensord.errors import LinkError
from sensord.model import ImuBlock
from sensord.recording import RecordingMeta, RecordingWriter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """``duration_s`` None: until stopped; ``wait_s``: give up if no sample arrives by then."""

    out: Path
    duration_s: float | None = None
    wait_s: float = 60.0
    placement: str | None = None
    side: str | None = None
    status_every_s: float = 0.5


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What was written."""

    samples: int
    duration_s: float
    health: LinkHealth


async def record(
    config: LinkConfig,
    adapter: Adapter,
    options: RecordOptions,
    stop: asyncio.Event,
    status: Callable[[LinkHealth, int], None] | None = None,
) -> RecordResult:
    """Streams ``config``'s wearable into ``options.out`` until ``stop``, the duration, or (with
    nothing recorded yet) ``wait_s``; ``LinkError`` if nothing arrived in time."""
    await adapter.ensure()
    link = WearableLink(config, adapter)
    writer: RecordingWriter | None = None
    first_t: float | None = None
    last_t = 0.0
    timed_out = False

    def open_writer(first: ImuBlock) -> RecordingWriter:
        now_wall = time.time()
        started = now_wall - (time.monotonic() - float(first.t_s[0]))
        health = link.health()
        extra = tuple(
            (key, value) for key, value in (
                ("profile", health.profile), ("address", health.address),
            ) if value
        )
        meta = RecordingMeta(
            placement=options.placement, side=options.side, rate_hz=health.nominal_rate_hz,
            device=config.name,
            started_at=datetime.fromtimestamp(started, UTC).isoformat(timespec="milliseconds"),
            extra=extra,
        )
        return RecordingWriter(options.out, meta)

    async def consume() -> None:
        nonlocal writer, first_t, last_t
        async for block in link:
            if writer is None:
                writer = open_writer(block)
                first_t = float(block.t_s[0])
            assert first_t is not None
            shifted = ImuBlock(block.t_s - first_t, block.acc_m_s2, block.gyro_rad_s)
            writer.write(shifted)
            last_t = float(shifted.t_s[-1])
            if options.duration_s is not None and last_t >= options.duration_s:
                stop.set()

    async def report() -> None:
        nonlocal timed_out
        started = time.monotonic()
        while not stop.is_set():
            if status is not None:
                status(link.health(), 0 if writer is None else writer.samples)
            if writer is None and time.monotonic() - started > options.wait_s:
                timed_out = True
                stop.set()
                return
            try:
                async with asyncio.timeout(options.status_every_s):
                    await stop.wait()
            except TimeoutError:
                continue

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(link.run(), name="record-link")
            group.create_task(consume(), name="record-write")
            group.create_task(report(), name="record-status")
            await stop.wait()
            link.stop()
    finally:
        if writer is not None:
            writer.close()
    health = link.health()
    if status is not None:
        status(health, 0 if writer is None else writer.samples)
    if writer is None:
        why = f" (last error: {health.last_error})" if health.last_error else ""
        if timed_out:
            raise LinkError(
                f"no samples from {config.name} within {options.wait_s:g} s{why}; "
                f"is it on, in range and not connected elsewhere?"
            )
        raise LinkError(f"stopped before {config.name} sent any samples{why}")
    return RecordResult(writer.samples, last_t, health)
