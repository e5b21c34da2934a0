"""The daemon's core: the one task group that wires sources, pipelines, the store and the sink.

Per wearable, a worker takes blocks from a source (a recording now, the BLE link later), feeds the
pipeline, writes the resulting events to the store (which numbers them: ``device``, ``seq``,
``ts``) and tells the sink; the sink publishes from the store, so an event is safe on disk before
any network is involved. Around the workers run the sink's connection, a status ticker and the
midnight reset of the daily totals.

Seams for what comes later: ``BlockSource`` (the BLE link implements it), ``CommandHandler``
(session tracking implements start/stop/reset, the link identify) and ``Daemon.stop`` (signals).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Protocol

from sensord.config import Config, WearableConfig, database_path
from sensord.errors import SensordError
from sensord.model import ActivityState, Event, ImuBlock, LinkState, WearableStatus
from sensord.pipeline import Pipeline, PipelineConfig
from sensord.sinks.base import CommandHandler, Sink
from sensord.sinks.broker import broker_settings
from sensord.sinks.mqtt import MqttSink
from sensord.sinks.topics import wearable_ids
from sensord.store import Store

log = logging.getLogger(__name__)


class BlockSource(Protocol):
    """Where one wearable's samples come from. ``blocks`` ends when the source does."""

    def blocks(self) -> AsyncIterator[ImuBlock]: ...

    def status(self) -> WearableStatus:
        """The link's own view (battery, RSSI...); ``None`` fields are filled in by the worker."""
        ...


class PipelineLike(Protocol):
    """What a worker needs of ``sensord.pipeline.Pipeline``."""

    def feed(self, block: ImuBlock) -> list[Event]: ...

    def finish(self) -> list[Event]: ...

    @property
    def state(self) -> ActivityState: ...


PipelineFactory = Callable[[WearableConfig, Config], PipelineLike]


def default_pipeline(wearable: WearableConfig, config: Config) -> PipelineLike:
    """The real analysis pipeline for a wearable's placement and side."""
    return Pipeline(PipelineConfig(
        placement=wearable.placement, side=wearable.side, routine=config.routine,
    ))


class RecordingSource:
    """A recording played back as if it came live: blocks of ``block_s`` seconds of samples,
    paced by the sample clock at ``speed`` times real time (``speed`` 0: as fast as possible)."""

    def __init__(self, block: ImuBlock, *, speed: float = 1.0, block_s: float = 0.1) -> None:
        if speed < 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be 0 or more, got {speed}")
        self.block = block
        self.speed = speed
        self.block_s = block_s if speed > 0 else max(block_s, 1.0)
        self._link = LinkState.IDLE

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        t_s = self.block.t_s
        if len(t_s) == 0:
            self._link = LinkState.STOPPED
            return
        start_t = float(t_s[0])
        # Cut where the sample clock crosses a multiple of block_s (gaps make shorter blocks).
        cuts = (t_s - start_t) // self.block_s
        boundaries = [0, *(int(i) for i in (cuts[1:] != cuts[:-1]).nonzero()[0] + 1), len(t_s)]
        started = time.monotonic()
        self._link = LinkState.STREAMING
        try:
            for begin, end in itertools.pairwise(boundaries):
                piece = self.block.slice(begin, end)
                if self.speed > 0:
                    due = started + (float(piece.t_s[-1]) - start_t) / self.speed
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                else:
                    await asyncio.sleep(0)  # let the sink publish between blocks
                yield piece
        finally:
            self._link = LinkState.STOPPED

    def status(self) -> WearableStatus:
        return WearableStatus(link=self._link)


class RateMeter:
    """Achieved sample rate and loss over the last ``window_s`` seconds of the sample clock.

    Loss is the share of samples a gap-free stream at ``nominal_rate_hz`` would have had in the
    window and that did not arrive (0-100 %).
    """

    def __init__(self, nominal_rate_hz: float | None, window_s: float = 10.0) -> None:
        self.nominal_rate_hz = nominal_rate_hz
        self.window_s = window_s
        self._blocks: deque[tuple[float, float, int]] = deque()  # (t first, t last, samples)

    def add(self, block: ImuBlock) -> None:
        if len(block) == 0:
            return
        self._blocks.append((float(block.t_s[0]), float(block.t_s[-1]), len(block)))
        newest = self._blocks[-1][1]
        while len(self._blocks) > 1 and self._blocks[1][0] < newest - self.window_s:
            self._blocks.popleft()

    def rate_hz(self) -> float | None:
        if not self._blocks:
            return None
        span = self._blocks[-1][1] - self._blocks[0][0]
        count = sum(n for _, _, n in self._blocks)
        return (count - 1) / span if span > 0 and count > 1 else None

    def loss_pct(self) -> float | None:
        rate = self.rate_hz()
        if rate is None or not self.nominal_rate_hz:
            return None
        return max(0.0, 100.0 * (1.0 - rate / self.nominal_rate_hz))


class WearableWorker:
    """One wearable: source -> pipeline -> store, telling the sink what changed."""

    def __init__(
        self, wearable: WearableConfig, source: BlockSource, pipeline: PipelineLike,
        store: Store, sink: Sink,
    ) -> None:
        self.name = wearable.name
        self.source = source
        self.pipeline = pipeline
        self.store = store
        self.sink = sink
        self.meter = RateMeter(wearable.rate_hz)
        self.samples = 0
        self.events = 0
        self.ended = False
        self._online = False

    async def run(self) -> None:
        self.sink.set_daily(self.store.daily_totals(self.name))
        # Retained: corrects an "online" left behind by a process that was killed.
        self.sink.set_availability(self.name, False)
        try:
            async for block in self.source.blocks():
                self.samples += len(block)
                self.meter.add(block)
                self._set_online(self.source.status().link == LinkState.STREAMING)
                self._record(self.pipeline.feed(block))
                self.sink.set_activity(self.name, self.pipeline.state)
                self.sink.add_raw(self.name, block)
            self._record(self.pipeline.finish())
            self.sink.set_activity(self.name, self.pipeline.state)
        finally:
            self.ended = True
            self.sink.set_status(self.name, self.status())
            self._set_online(False)

    def status(self) -> WearableStatus:
        """The source's status with the measured rate and loss filled in where it has none."""
        own = self.source.status()
        return dataclasses.replace(
            own,
            rate_hz=own.rate_hz if own.rate_hz is not None else self.meter.rate_hz(),
            loss_pct=own.loss_pct if own.loss_pct is not None else self.meter.loss_pct(),
        )

    def refresh_availability(self) -> None:
        if not self.ended:
            self._set_online(self.source.status().link == LinkState.STREAMING)

    def _set_online(self, online: bool) -> None:
        if online != self._online:
            self._online = online
            self.sink.set_availability(self.name, online)

    def _record(self, events: list[Event]) -> None:
        if not events:
            return
        stored = self.store.append(self.name, events)
        self.events += len(stored)
        self.sink.events_stored()
        self.sink.set_daily(self.store.daily_totals(self.name))


def seconds_to_local_midnight(now: datetime) -> float:
    """Seconds from ``now`` (aware) to the next local midnight, DST changes included."""
    local = now.astimezone()
    tomorrow: date = local.date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, clock_time(0)).astimezone()
    return max(0.0, (midnight - local).total_seconds())


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did: samples and events per wearable, and whether everything went out."""

    samples: dict[str, int]
    events: dict[str, int]
    drained: bool
    pending: int


class Daemon:
    """Runs workers for the given sources until they all end or ``stop`` is called, then drains
    the outbox (up to ``drain_timeout_s``) and lets the sink say goodbye."""

    def __init__(
        self, config: Config, store: Store, sink: Sink, *,
        pipeline_factory: PipelineFactory = default_pipeline,
        status_interval_s: float | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.sink = sink
        self.pipeline_factory = pipeline_factory
        self.status_interval_s = status_interval_s or config.mqtt.status_interval_s
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ends the run gracefully (sources stop, the outbox drains, the sink disconnects)."""
        self._stop.set()

    async def run(
        self, sources: Mapping[str, BlockSource], *, drain_timeout_s: float = 10.0,
        connect_wait_s: float = 0.0,
    ) -> RunSummary:
        """Runs to the end of every source (or ``stop``). ``connect_wait_s`` holds the sources
        back until the sink is connected (at most that long), so a replay is seen live; the
        daemon does not wait: the outbox keeps what it counts while the broker is away."""
        self.store.prune()  # a backlog older than store.max_age_days is dropped (and counted)
        configured = {w.name: w for w in self.config.wearables}
        workers = []
        for name, source in sources.items():
            wearable = configured.get(name) or WearableConfig(name=name)
            workers.append(WearableWorker(
                wearable, source, self.pipeline_factory(wearable, self.config), self.store,
                self.sink,
            ))
        try:
            drained = await self._run(workers, drain_timeout_s, connect_wait_s)
        except BaseExceptionGroup as failed:
            ours, _ = failed.split(SensordError)
            if ours is not None:
                raise _first_leaf(ours) from failed
            raise
        return RunSummary(
            samples={w.name: w.samples for w in workers},
            events={w.name: w.events for w in workers},
            drained=drained, pending=self.store.pending_count(),
        )

    async def _run(
        self, workers: Sequence[WearableWorker], drain_timeout_s: float, connect_wait_s: float
    ) -> bool:
        async with asyncio.TaskGroup() as group:
            sink_task = group.create_task(self.sink.run(), name="sink")
            if connect_wait_s > 0 and not await self.sink.wait_connected(connect_wait_s):
                log.warning("no broker after %.0f s: starting anyway, events wait in the outbox",
                            connect_wait_s)
            helpers = [
                group.create_task(self._status_loop(workers), name="status"),
                group.create_task(self._midnight_loop(workers), name="midnight"),
            ]
            running = {group.create_task(w.run(), name=f"wearable:{w.name}") for w in workers}
            stop_wait = group.create_task(self._stop.wait(), name="stop-request")
            while running and not self._stop.is_set():
                done, _ = await asyncio.wait(
                    [*running, stop_wait], return_when=asyncio.FIRST_COMPLETED
                )
                running -= done
            for task in [*running, *helpers, stop_wait]:
                task.cancel()
            await asyncio.wait([*running, *helpers, stop_wait])
            drained = await self.sink.drain(drain_timeout_s)
            self.sink.stop()
            await sink_task
        return drained

    async def _status_loop(self, workers: Sequence[WearableWorker]) -> None:
        while True:
            for worker in workers:
                if not worker.ended:
                    worker.refresh_availability()
                    self.sink.set_status(worker.name, worker.status())
            await asyncio.sleep(self.status_interval_s)

    async def _midnight_loop(self, workers: Sequence[WearableWorker]) -> None:
        while True:
            await asyncio.sleep(seconds_to_local_midnight(datetime.now().astimezone()) + 1.0)
            log.info("local midnight: daily totals start again")
            for worker in workers:
                self.sink.set_daily(self.store.daily_totals(worker.name))


def _first_leaf(group: BaseExceptionGroup[SensordError]) -> SensordError:
    first = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    assert isinstance(first, SensordError)
    return first


def open_store(config: Config, path: str | None = None) -> Store:
    """Opens the outbox named by ``path``, else ``store.path``, else the state directory
    (the same file as the workout history)."""
    target = path or str(database_path(config.store))
    return Store.open(target, max_rows=config.store.max_rows,
                      max_age_days=config.store.max_age_days)


def mqtt_sink(
    config: Config, store: Store, *, broker_url: str | None = None,
    wearables: Sequence[str] | None = None, commands: CommandHandler | None = None,
    prune_discovery: bool = False, fail_on_refusal: bool = False,
) -> MqttSink:
    """The MQTT sink for a config (``broker_url`` is ``--broker``); ConfigError when unusable."""
    names = list(wearables) if wearables is not None else [w.name for w in config.wearables]
    return MqttSink(
        config.mqtt, broker_settings(config.mqtt, url=broker_url), store,
        wearables=wearable_ids(names), commands=commands, prune_discovery=prune_discovery,
        fail_on_refusal=fail_on_refusal,
    )


__all__ = [
    "BlockSource", "Daemon", "PipelineFactory", "PipelineLike", "RateMeter", "RecordingSource",
    "RunSummary", "WearableWorker", "default_pipeline", "mqtt_sink", "open_store",
    "seconds_to_local_midnight",
]
