"""The daemon's core: the one task group that wires sources, pipelines, the store and the sink.

Per wearable, a worker takes blocks from a source (a recording now, the BLE link later), feeds the
pipeline, writes the resulting events to the store (which numbers them: ``device``, ``seq``,
``ts``) and tells the sink; the sink publishes from the store, so an event is safe on disk before
any network is involved. Around the workers run the sink's connection, a status ticker and the
midnight reset of the daily totals.

With ``track_sessions`` each worker also follows the workout (``sensord.session``): session
starts and summaries are stored and published as events (in time order with the pipeline's),
summaries go to the history, and the live snapshot rides on the activity topic. ``sensord run``
turns it on; ``sensord replay`` leaves it off, so a replay publishes exactly what ``analyze``
prints.

Seams: ``BlockSource`` (the BLE link implements it, ``sensord.runner.LinkSource``), ``Service``
(background tasks such as the links, run in the same task group and stopped first on the way
out), ``CommandHandler`` (``Daemon`` itself: start, stop, reset, and identify for sources that
are ``Identifiable``), ``Daemon.stop`` (signals) and ``add_wearable`` / ``retire_wearable``
(a config reload, while the others run on).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from sensord.config import Config, WearableConfig, database_path
from sensord.errors import LinkError, SensordError
from sensord.history import History
from sensord.model import ActivityState, Event, ImuBlock, LinkState, WearableStatus
from sensord.pipeline import Pipeline, PipelineConfig
from sensord.session import SessionEvent, SessionSnapshot, SessionSummary, WorkoutTracker
from sensord.sinks.base import CommandHandler, CommandResult, Sink
from sensord.sinks.broker import broker_settings
from sensord.sinks.mqtt import MqttSink
from sensord.sinks.topics import wearable_ids
from sensord.store import Store

log = logging.getLogger(__name__)

#: The live activity is rebuilt at most this often between events (s) by default; the daemon
#: uses the sink's own limit, ``1 / mqtt.activity_max_hz`` (rebuilding it for every block, 20
#: times a second, only to have the sink drop most of them was a quarter of the worker's time).
ACTIVITY_EVERY_S: Final = 0.25
#: The daemon's pipelines process their input every 0.05 s of samples (``PipelineConfig.hop_s``;
#: a block that spans more goes through at once): every second notification of a wearable
#: sending 5 samples each 50 ms. Measured with bench/bench_daemon.py: a rep reaches a subscriber
#: p95 204-236 ms after its end when every block is processed (hop 0) but the daemon takes
#: 5.6-6.1 % of a core (each pass has a fixed cost); 0.05 s gives 253-269 ms at 4.3-4.5 %; the
#: analysis default (0.3 s) adds up to 0.3 s to every rep.
LIVE_HOP_S: Final = 0.05
#: How long ``identify`` shows the wearable unless the command says ``duration_s`` (s).
IDENTIFY_S: Final = 5.0
IDENTIFY_LIMITS_S: Final = (1.0, 60.0)


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


@runtime_checkable
class Identifiable(Protocol):
    """A source with a wearable that can show itself (the BLE link): ``identify`` says what the
    wearable does, or raises ``LinkError`` saying why it cannot."""

    async def identify(self, duration_s: float) -> str: ...


class Service(Protocol):
    """A background task the daemon runs beside its workers (a wearable's BLE link).

    ``run`` works until ``stop``; on the way out the daemon stops services first (so streams
    end and workers finish their sessions), then drains the outbox.
    """

    name: str

    async def run(self) -> None: ...

    def stop(self) -> None: ...


def default_pipeline(wearable: WearableConfig, config: Config) -> PipelineLike:
    """The real analysis pipeline for a wearable's placement and side, live."""
    return Pipeline(PipelineConfig(
        placement=wearable.placement, side=wearable.side, routine=config.routine,
        hop_s=LIVE_HOP_S,
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
    """One wearable: source -> pipeline (-> workout tracker) -> store, telling the sink what
    changed. ``time_scale`` > 1 when the source runs faster than real time (a virtual wearable
    at ``--speed``): only the idle clock needs it, sample times are already the motion's."""

    def __init__(
        self, wearable: WearableConfig, source: BlockSource, pipeline: PipelineLike,
        store: Store, sink: Sink, *, tracker: WorkoutTracker | None = None,
        history: History | None = None, time_scale: float = 1.0,
        wall_clock: Callable[[], float] = time.time,
        fresh_pipeline: Callable[[], PipelineLike] | None = None,
        activity_every_s: float = ACTIVITY_EVERY_S,
    ) -> None:
        self.name = wearable.name
        self.source = source
        self.pipeline = pipeline
        self.store = store
        self.sink = sink
        self.tracker = tracker
        self.history = history
        self.time_scale = time_scale
        self.fresh_pipeline = fresh_pipeline
        self.activity_every_s = activity_every_s
        self.pipeline_failures = 0
        self.meter = RateMeter(wearable.rate_hz)
        self.samples = 0
        self.events = 0
        self.ended = False
        #: Monotonic seconds of the newest sample's arrival (None before the first).
        self.last_sample_mono_s: float | None = None
        self.summaries: list[SessionSummary] = []
        self._last_t_s: float | None = None
        self._wall = wall_clock
        self._online = False
        self._activity_at_s = -1e18

    async def run(self) -> None:
        self.sink.set_daily(self.store.daily_totals(self.name))
        # Retained: corrects an "online" left behind by a process that was killed.
        self.sink.set_availability(self.name, False)
        try:
            async for block in self.source.blocks():
                if len(block) == 0:
                    continue
                self.samples += len(block)
                self.meter.add(block)
                self.last_sample_mono_s = time.monotonic()
                self._last_t_s = float(block.t_s[-1])
                if not self._online:  # going offline is noticed by ``tick``
                    self._set_online(self.source.status().link == LinkState.STREAMING)
                events = self._track(self._feed(block), self._last_t_s)
                self._record(events)
                self._publish_activity(force=bool(events))
                self.sink.add_raw(self.name, block)
        finally:
            # Also on cancellation: what the pipeline holds back and the open session are
            # stored before the daemon drains the outbox (synchronous: no await here).
            self.close()

    def _feed(self, block: ImuBlock) -> list[Event]:
        """The pipeline's events for a block. With a ``fresh_pipeline`` factory (the daemon), a
        pipeline that fails is replaced by a fresh one and the stream and session go on: a
        fault in one wearable's analysis must not end its link, nor the other wearables."""
        if self.fresh_pipeline is None:
            return self.pipeline.feed(block)
        try:
            return self.pipeline.feed(block)
        except Exception:  # the fault-isolation boundary of one wearable's analysis
            self.pipeline_failures += 1
            log.exception("wearable %s: the analysis failed on a block of %d samples; starting "
                          "it afresh", self.name, len(block))
            self.pipeline = self.fresh_pipeline()
            return []

    def close(self) -> None:
        """Flushes the pipeline, ends the open session and says the wearable is gone (once)."""
        if self.ended:
            return
        self.ended = True
        events = self._track(self.pipeline.finish(), None)
        if self.tracker is not None:
            events.extend(self.tracker.finish())
        self._record(events)
        self._publish_activity()
        self.sink.set_status(self.name, self.status())
        self._set_online(False)

    @property
    def in_session(self) -> bool:
        return self.tracker is not None and self.tracker.active

    def status(self) -> WearableStatus:
        """The source's status with the measured rate and loss filled in where it has none."""
        own = self.source.status()
        return dataclasses.replace(
            own,
            rate_hz=own.rate_hz if own.rate_hz is not None else self.meter.rate_hz(),
            loss_pct=own.loss_pct if own.loss_pct is not None else self.meter.loss_pct(),
        )

    def snapshot(self) -> dict[str, Any] | None:
        """The tracker's live snapshot at the newest sample time (None without tracking)."""
        if self.tracker is None:
            return None
        t_s = self.sample_clock_now()
        if t_s is None:
            return SessionSnapshot(active=False).to_dict()
        return self.tracker.snapshot(t_s, self.pipeline.state).to_dict()

    def sample_clock_now(self) -> float | None:
        """The wearable's sample clock now: the newest sample time plus the (scaled) real time
        since it arrived, so an idle session still ends while the wearable is away."""
        if self._last_t_s is None or self.last_sample_mono_s is None:
            return None
        return self._last_t_s + (time.monotonic() - self.last_sample_mono_s) * self.time_scale

    def tick(self) -> None:
        """Periodic: availability, and the idle end of a session while no samples arrive."""
        if self.ended:
            return
        self._set_online(self.source.status().link == LinkState.STREAMING)
        if self.tracker is not None and self.tracker.active:
            now_t = self.sample_clock_now()
            if now_t is not None:
                self._record(list(self.tracker.advance(now_t)))
                self._publish_activity()

    def refresh_availability(self) -> None:
        if not self.ended:
            self._set_online(self.source.status().link == LinkState.STREAMING)

    def command(self, command: str) -> CommandResult:
        """``start``, ``stop`` or ``reset`` of the workout session."""
        tracker = self.tracker
        if tracker is None:
            return CommandResult(False, f"{command}: session tracking is off")
        t_s = self.sample_clock_now()
        if t_s is None:
            return CommandResult(False, f"{command}: no samples from {self.name} yet")
        if command == "start":
            if tracker.active:
                return CommandResult(True, f"session {tracker.session_id} already running")
            self._record(list(tracker.start(t_s, self._wall())))
            self._publish_activity()
            return CommandResult(True, f"session {tracker.session_id} started")
        if command == "stop":
            if not tracker.active:
                return CommandResult(True, "no session running")
            session_id = tracker.session_id
            self._record(list(tracker.stop(t_s, self._wall())))
            self._publish_activity()
            return CommandResult(True, f"session {session_id} ended")
        if command == "reset":
            session_id = tracker.session_id
            tracker.cancel()
            self._publish_activity()
            return CommandResult(True, f"session {session_id} discarded" if session_id
                                 else "no session running")
        return CommandResult(False, f"{command}: not supported for {self.name}")

    def _track(
        self, events: list[Event], t_end_s: float | None
    ) -> list[Event | SessionEvent]:
        """The pipeline's events with the session events they caused, each session event
        before the event that caused it; then the idle end at ``t_end_s``, if any."""
        tracker = self.tracker
        if tracker is None:
            return list(events)
        out: list[Event | SessionEvent] = []
        wall_s = self._wall()
        for event in events:
            out.extend(tracker.feed([event], wall_s))
            out.append(event)
        if t_end_s is not None:
            out.extend(tracker.advance(t_end_s))
        return out

    def _publish_activity(self, *, force: bool = True) -> None:
        """The live state to the sink: after every change that matters (``force``), else at
        most every ``activity_every_s`` (blocks come 20 times a second; the topic goes out at
        most ``mqtt.activity_max_hz``, so building it for every block is wasted work)."""
        now = time.monotonic()
        if not force and now - self._activity_at_s < self.activity_every_s:
            return
        self._activity_at_s = now
        snapshot = self.snapshot()
        if snapshot is None:
            self.sink.set_activity(self.name, self.pipeline.state)
        else:
            self.sink.set_activity(self.name, self.pipeline.state, snapshot)

    def _set_online(self, online: bool) -> None:
        if online != self._online:
            self._online = online
            self.sink.set_availability(self.name, online)

    def _record(self, events: Sequence[Event | SessionEvent]) -> None:
        if not events:
            return
        rows: list[Event | Mapping[str, Any]] = [
            e if isinstance(e, Event) else e.to_dict() for e in events
        ]
        stored = self.store.append(self.name, rows)
        self.events += len(stored)
        for event in events:
            if isinstance(event, SessionSummary):
                self.summaries.append(event)
                log.info("session %s of %s ended (%s): %d reps, %.0f %% of the routine",
                         event.session_id, self.name, event.end_reason, event.reps,
                         100 * event.progress)
                if self.history is not None:
                    self.history.record(event)
            elif not isinstance(event, Event):
                log.info("session %s of %s started (%s)", event.session_id, self.name,
                         event.reason)
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
    sessions: dict[str, list[SessionSummary]] = dataclasses.field(default_factory=dict)


class Daemon:
    """Runs workers for the given sources until they all end or ``stop`` is called, then drains
    the outbox (up to ``drain_timeout_s``) and lets the sink say goodbye.

    ``track_sessions`` adds a workout tracker per wearable (summaries go to ``history`` when
    given). ``isolate_faults``: a pipeline that fails is replaced by a fresh one (logged), so one
    wearable's fault never stops its link or the others. The daemon is also the
    ``CommandHandler`` for start, stop, reset and identify.
    """

    def __init__(
        self, config: Config, store: Store, sink: Sink, *,
        pipeline_factory: PipelineFactory = default_pipeline,
        status_interval_s: float | None = None, track_sessions: bool = False,
        history: History | None = None, time_scale: float = 1.0,
        stop_grace_s: float = 1.5, isolate_faults: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.sink = sink
        self.pipeline_factory = pipeline_factory
        self._status_interval_given = status_interval_s
        self.status_interval_s = status_interval_s or config.mqtt.status_interval_s
        self.track_sessions = track_sessions
        self.history = history
        self.time_scale = time_scale
        self.stop_grace_s = stop_grace_s
        self.isolate_faults = isolate_faults
        self.workers: dict[str, WearableWorker] = {}
        self._stop = asyncio.Event()
        self._live = _LiveSet()

    def stop(self) -> None:
        """Ends the run gracefully (sources stop, the outbox drains, the sink disconnects)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def reconfigure(self, config: Config) -> None:
        """A reloaded config: new routine and session rules apply to the running trackers
        (open sessions keep going), the status interval to the status round and the activity
        limit to the workers. Wearables come and go through ``add_wearable`` and
        ``retire_wearable``."""
        self.config = config
        self.status_interval_s = self._status_interval_given or config.mqtt.status_interval_s
        for worker in self.workers.values():
            worker.activity_every_s = _activity_every_s(config)
            if worker.tracker is not None:
                worker.tracker.reconfigure(config.routine, config.session)

    def add_wearable(self, name: str, source: BlockSource, service: Service | None = None
                     ) -> WearableWorker:
        """Starts a wearable while the daemon runs (a reload added it): its ``service`` (the
        link) and its worker join the task group. Call it with ``name`` configured."""
        if self._live.group is None:
            raise SensordError("the daemon is not running: cannot add a wearable now")
        if service is not None:
            self._live.start_service(service)
        worker = self._worker(name, source)
        self.workers[name] = worker
        self._live.start_worker(worker)
        return worker

    async def retire_wearable(self, name: str, service: Service | None = None) -> None:
        """Stops one wearable while the others go on (a reload removed or changed it): its
        ``service`` stops (the link unsubscribes and disconnects), so its stream ends and its
        worker stores what the pipeline held back and ends the open session (summary stored
        and published, then ``offline``). Waits up to ``stop_grace_s``, then cancels."""
        worker = self.workers.pop(name, None)
        with self._live.holding():
            tasks = [t for t in (self._live.worker_task(worker),
                                 self._live.service_task(service)) if t is not None]
            if service is not None:
                service.stop()
            if tasks:
                await asyncio.wait(tasks, timeout=self.stop_grace_s)
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks)
            if worker is not None:
                worker.close()

    async def handle(self, device: str, command: str, args: Mapping[str, Any]) -> CommandResult:
        """MQTT commands: start, stop, reset the workout session of ``device``; identify
        (``args``: an optional ``duration_s``) makes the wearable show itself."""
        worker = self.workers.get(device)
        if worker is None or worker.ended:
            return CommandResult(False, f"{command}: {device} is not running")
        if command == "identify":
            return await _identify(device, worker.source, args)
        return worker.command(command)

    def _worker(self, name: str, source: BlockSource) -> WearableWorker:
        configured = {w.name: w for w in self.config.wearables}
        wearable = configured.get(name) or WearableConfig(name=name)
        tracker = None
        if self.track_sessions:
            tracker = WorkoutTracker(self.config.routine, self.config.session, device=name,
                                     side=wearable.side)
        def fresh() -> PipelineLike:
            return self.pipeline_factory(wearable, self.config)

        return WearableWorker(
            wearable, source, fresh(), self.store, self.sink, tracker=tracker,
            history=self.history, time_scale=self.time_scale,
            fresh_pipeline=fresh if self.isolate_faults else None,
            activity_every_s=_activity_every_s(self.config),
        )

    async def run(
        self, sources: Mapping[str, BlockSource], *, drain_timeout_s: float = 10.0,
        connect_wait_s: float = 0.0, services: Sequence[Service] = (),
    ) -> RunSummary:
        """Runs to the end of every source (or ``stop``). ``connect_wait_s`` holds the sources
        back until the sink is connected (at most that long), so a replay is seen live; the
        daemon does not wait: the outbox keeps what it counts while the broker is away.
        ``services`` run in the same task group (the BLE links) and are stopped first."""
        self.store.prune()  # a backlog older than store.max_age_days is dropped (and counted)
        self.workers = {name: self._worker(name, source) for name, source in sources.items()}
        workers = list(self.workers.values())
        try:
            drained = await self._run(workers, services, drain_timeout_s, connect_wait_s)
        except BaseExceptionGroup as failed:
            ours, _ = failed.split(SensordError)
            if ours is not None:
                raise _first_leaf(ours) from failed
            raise
        return _summary(self._live.ever, drained, self.store.pending_count())

    async def _run(
        self, workers: Sequence[WearableWorker], services: Sequence[Service],
        drain_timeout_s: float, connect_wait_s: float,
    ) -> bool:
        live = self._live
        async with asyncio.TaskGroup() as group:
            live.group = group
            sink_task = group.create_task(self.sink.run(), name="sink")
            for service in services:
                live.start_service(service)
            if connect_wait_s > 0 and not await self.sink.wait_connected(connect_wait_s):
                log.warning("no broker after %.0f s: starting anyway, events wait in the outbox",
                            connect_wait_s)
            helpers = [
                group.create_task(self._status_loop(), name="status"),
                group.create_task(self._midnight_loop(), name="midnight"),
            ]
            for worker in workers:
                live.start_worker(worker)
            stop_wait = group.create_task(self._stop.wait(), name="stop-request")
            while (live.workers or live.held) and not self._stop.is_set():
                changed = group.create_task(live.changed.wait(), name="wearables-changed")
                await asyncio.wait([*live.workers, stop_wait, changed],
                                   return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                live.changed.clear()
                live.workers = {t for t in live.workers if not t.done()}
            live.group = None  # no wearable joins on the way out
            running = list(live.workers)
            service_tasks = list(live.services.values())
            # Streams end first (the links unsubscribe), so the workers finish their sessions.
            for service in live.services:
                service.stop()
            pending = [*running, *service_tasks]
            if pending:
                await asyncio.wait(pending, timeout=self.stop_grace_s)
            for task in [*running, *service_tasks, *helpers, stop_wait]:
                task.cancel()
            await asyncio.wait([*running, *service_tasks, *helpers, stop_wait])
            for worker in self.workers.values():
                worker.close()
            drained = await self.sink.drain(drain_timeout_s)
            self.sink.stop()
            await sink_task
        return drained

    async def _status_loop(self) -> None:
        next_status = 0.0
        while True:
            now = time.monotonic()
            for worker in list(self.workers.values()):
                worker.tick()
                if not worker.ended and now >= next_status:
                    self.sink.set_status(worker.name, worker.status())
            if now >= next_status:
                next_status = now + self.status_interval_s
            await asyncio.sleep(min(1.0, self.status_interval_s))

    async def _midnight_loop(self) -> None:
        while True:
            await asyncio.sleep(seconds_to_local_midnight(datetime.now().astimezone()) + 1.0)
            log.info("local midnight: daily totals start again")
            for worker in list(self.workers.values()):
                self.sink.set_daily(self.store.daily_totals(worker.name))


class _LiveSet:
    """The tasks of a running daemon, so wearables can join and leave its task group.

    ``workers``: the worker tasks still running (the run ends when none is left, unless a
    change is ``held`` open: a wearable restarting alone must not end the run). ``ever``:
    every worker that ran, for the summary.
    """

    def __init__(self) -> None:
        self.group: asyncio.TaskGroup | None = None
        self.workers: set[asyncio.Task[None]] = set()
        self.services: dict[Service, asyncio.Task[None]] = {}
        self.ever: list[WearableWorker] = []
        self.held = 0
        self.changed = asyncio.Event()
        self._by_worker: dict[int, asyncio.Task[None]] = {}

    def start_service(self, service: Service) -> None:
        assert self.group is not None
        self.services[service] = self.group.create_task(
            _isolated(service.name, service.run), name=service.name)

    def start_worker(self, worker: WearableWorker) -> None:
        assert self.group is not None
        task = self.group.create_task(_isolated(f"wearable {worker.name}", worker.run),
                                      name=f"wearable:{worker.name}")
        self.workers.add(task)
        self.ever.append(worker)
        self._by_worker[id(worker)] = task
        self.changed.set()

    def worker_task(self, worker: WearableWorker | None) -> asyncio.Task[None] | None:
        return None if worker is None else self._by_worker.pop(id(worker), None)

    def service_task(self, service: Service | None) -> asyncio.Task[None] | None:
        return None if service is None else self.services.pop(service, None)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Keeps the run going while a wearable is swapped, even if it was the last."""
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1
            self.changed.set()


def _activity_every_s(config: Config) -> float:
    """How often a worker rebuilds the live activity between events: as often as the sink
    publishes it."""
    return 1.0 / config.mqtt.activity_max_hz


def _summary(workers: Sequence[WearableWorker], drained: bool, pending: int) -> RunSummary:
    """The run's figures per wearable name (a wearable restarted by a reload counts once)."""
    samples: dict[str, int] = {}
    events: dict[str, int] = {}
    sessions: dict[str, list[SessionSummary]] = {}
    for worker in workers:
        samples[worker.name] = samples.get(worker.name, 0) + worker.samples
        events[worker.name] = events.get(worker.name, 0) + worker.events
        sessions.setdefault(worker.name, []).extend(worker.summaries)
    return RunSummary(samples=samples, events=events, drained=drained, pending=pending,
                      sessions=sessions)


async def _identify(device: str, source: BlockSource, args: Mapping[str, Any]) -> CommandResult:
    """Asks ``device``'s wearable to show itself; the answer says how, or why not."""
    if not isinstance(source, Identifiable):
        return CommandResult(False, f"identify: {device} is a recording, not a wearable")
    duration_s = args.get("duration_s", IDENTIFY_S)
    low, high = IDENTIFY_LIMITS_S
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float) or not (
            low <= duration_s <= high):
        return CommandResult(False, f"identify: duration_s must be a number of seconds from "
                                    f"{low:g} to {high:g}")
    try:
        return CommandResult(True, await source.identify(float(duration_s)))
    except LinkError as exc:
        return CommandResult(False, f"identify: {exc}")


async def _isolated(what: str, run: Callable[[], Any]) -> None:
    """Runs one wearable's task so that a bug in it cannot stop the others: an unexpected error
    is logged with its traceback and ends only this task. Our own errors (config, store) and
    cancellation go through."""
    try:
        await run()
    except (SensordError, asyncio.CancelledError):
        raise
    except Exception:  # the fault-isolation boundary between wearables
        log.exception("%s failed; the other wearables carry on", what)


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


def open_history(store: Store) -> History | None:
    """The workout history in the outbox's database file (None for an in-memory store)."""
    if store.path == ":memory:":
        return None
    return History(Path(store.path))


__all__ = [
    "BlockSource", "Daemon", "Identifiable", "PipelineFactory", "PipelineLike", "RateMeter",
    "RecordingSource", "RunSummary", "Service", "WearableWorker", "default_pipeline", "mqtt_sink",
    "open_history", "open_store", "seconds_to_local_midnight",
]
