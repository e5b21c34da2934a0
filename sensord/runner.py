"""``sensord run``: the daemon as a service, wired from the config.

Per configured wearable a ``LinkSource`` (the BLE link as the daemon's ``BlockSource``, and as a
``Service`` whose task keeps the link going) feeds a worker (pipeline, workout tracker, store);
the MQTT sink publishes from the store; a ``Supervisor`` speaks systemd's notify protocol. All of
it runs in the daemon's one task group.

Signals: SIGTERM and SIGINT stop gracefully (streams stop, sessions close, the outbox drains,
``offline`` goes out, the sink unsubscribes), SIGHUP reloads the config and applies all of it
while running (``Runner.apply_reload``), keeping the sessions of the wearables it leaves alone.
sd_notify: ``READY=1`` once the config is valid and the broker and every adapter are reachable
(not waiting for a wearable, which may be off), a ``STATUS=`` line, ``WATCHDOG=1`` only while
``WatchdogPolicy`` finds the daemon healthy, ``RELOADING=1`` and ``READY=1`` around a reload,
``STOPPING=1`` on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from sensord.ble.adapter import Adapter, AdapterPool
from sensord.ble.link import LinkConfig, WearableLink
from sensord.config import Config, ConfigChanges, database_path, diff_configs, load_config
from sensord.daemon import Daemon, RunSummary, Service, mqtt_sink, open_history, open_store
from sensord.errors import ConfigError, InputError, SensordError
from sensord.model import ImuBlock, LinkState, WearableStatus
from sensord.notify import (
    HealthFacts,
    Notifier,
    WatchdogPolicy,
    WearableHealth,
    watchdog_interval_s,
)
from sensord.profiles import get_profile
from sensord.sinks.base import CommandResult
from sensord.sinks.broker import BrokerSettings, broker_settings
from sensord.sinks.mqtt import MqttSink
from sensord.sinks.topics import wearable_ids
from sensord.store import Store

log = logging.getLogger(__name__)

#: How long the outbox may take to drain on SIGTERM (the whole stop must fit in 5 s).
STOP_DRAIN_S: Final = 2.5
#: How often the health is checked and STATUS= refreshed when no watchdog asks for more.
HEALTH_EVERY_S: Final = 2.0
#: How long a reload waits for a removed wearable's last events and ``offline`` to go out.
REMOVE_SETTLE_S: Final = 5.0


class LinkSource:
    """One wearable's BLE link as a ``BlockSource`` (blocks, status) and a ``Service`` (run,
    stop).

    ``time_scale``: a virtual wearable run ``--speed X`` times faster than real time sends its
    samples X times as fast. The link times samples on the host clock, which at X times the
    rate would stretch every millisecond of scheduling jitter into X; so for such a stream a
    sample's time is its number in the stream (received and known lost samples counted) over
    the nominal rate: the wearable's own clock. The rate is reported per second of that clock.
    """

    def __init__(self, link: WearableLink, *, time_scale: float = 1.0) -> None:
        self.link = link
        self.name = f"link:{link.config.name}"
        self.time_scale = time_scale
        self._origin_s: float | None = None
        self._counted = 0
        self._stopped = False

    async def run(self) -> None:
        while True:
            link = self.link
            await link.run()
            if self._stopped or link is self.link:
                return  # else ``replace`` swapped the link: run the new one

    def stop(self) -> None:
        self._stopped = True
        self.link.stop()

    def replace(self, link: WearableLink) -> None:
        """A reload changed how the wearable is reached (address, adapter, profile, BLE
        timing): the old link stops (stop writes, unsubscribe, disconnect) and the new one
        carries on the same stream, so the worker, its analysis and its open session go on as
        they do through a reconnect."""
        old, self.link = self.link, link
        old.stop()

    async def identify(self, duration_s: float) -> str:
        """The wearable shows itself (``sensord.daemon.Identifiable``)."""
        return await self.link.identify(duration_s)

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        """The link's blocks; those that queued up while the worker was busy come as one (the
        pipeline processes each block at once, so a busy moment costs one pass, not several).
        A reload that swaps the link (``replace``) carries on with the new link's blocks."""
        while True:
            link = self.link
            queue = aiter(link)
            async for first in queue:
                more = queue.drain()
                block = ImuBlock.concat([first, *more]) if more else first
                yield self._scaled(block) if self.time_scale != 1.0 else block
            if self._stopped or link is self.link:
                return

    def _scaled(self, block: ImuBlock) -> ImuBlock:
        if len(block) == 0:
            return block
        health = self.link.health()
        rate_hz = health.nominal_rate_hz
        if not math.isfinite(rate_hz) or rate_hz <= 0:  # NaN before the first connection
            rate_hz = self.link.config.rate_hz
        if self._origin_s is None:
            self._origin_s = float(block.t_s[0])
        # Samples before this block: all received so far but this block, plus those lost.
        before = max(health.samples - len(block) + health.lost_samples, self._counted)
        self._counted = before + len(block)
        t_s = self._origin_s + (before + np.arange(len(block), dtype=np.float64)) / rate_hz
        return ImuBlock(t_s, block.acc_m_s2, block.gyro_rad_s)

    def status(self) -> WearableStatus:
        health = self.link.health()
        streaming = health.state is LinkState.STREAMING
        return WearableStatus(
            link=health.state,
            battery_pct=health.battery_pct,
            rssi_dbm=health.rssi_dbm,
            rate_hz=health.rate_hz / self.time_scale if streaming else 0.0,
            loss_pct=health.loss_pct,
        )

    def health(self, in_session: bool, last_sample_s: float | None) -> WearableHealth:
        """What the watchdog policy needs, on the monotonic clock."""
        snapshot = self.link.health()
        now = time.monotonic()
        since = now - snapshot.state_age_s
        progress = since if last_sample_s is None else max(since, last_sample_s)
        if snapshot.state in (LinkState.SCANNING, LinkState.BACKOFF, LinkState.CONNECTING):
            # Scanning and backing off are the link task's normal life while a wearable is off.
            progress = max(progress, now - min(snapshot.state_age_s, 60.0))
        return WearableHealth(
            name=self.link.config.name, link=snapshot.state, in_session=in_session,
            last_sample_s=last_sample_s, last_progress_s=progress, state_since_s=since,
        )


class _Commands:
    """The sink needs a command handler before the daemon exists; this forwards to it."""

    def __init__(self) -> None:
        self.daemon: Daemon | None = None

    async def handle(self, device: str, command: str, args: Mapping[str, Any]) -> CommandResult:
        if self.daemon is None:
            return CommandResult(False, f"{command}: the daemon is starting")
        return await self.daemon.handle(device, command, args)


class Supervisor:
    """Readiness, STATUS= and the watchdog (a ``Service`` in the daemon's task group)."""

    name = "notify"

    def __init__(
        self, runner: Runner, notifier: Notifier, policy: WatchdogPolicy,
        interval_s: float | None,
    ) -> None:
        self.runner = runner
        self.notifier = notifier
        self.policy = policy
        self.interval_s = interval_s
        self.ready = False
        self.healthy = True
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        every = min(HEALTH_EVERY_S, self.interval_s) if self.interval_s else HEALTH_EVERY_S
        while not self._stop.is_set():
            self.check()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await self._stop.wait()

    def check(self) -> None:
        """One round: READY=1 when first ready, then STATUS= and (if healthy) WATCHDOG=1."""
        runner = self.runner
        if not self.ready and runner.reachable():
            self.ready = True
            log.info("ready: broker and adapters reachable")
            self.notifier.ready(runner.status_line())
        decision = self.policy.decide(runner.health_facts())
        if decision.ping != self.healthy:
            self.healthy = decision.ping
            log.log(logging.INFO if decision.ping else logging.WARNING, "%s", decision.reason)
        if self.ready:
            line = runner.status_line()
            if not decision.ping:
                line = f"{line}; {decision.reason}"
            self.notifier.status(line)
            if decision.ping and self.interval_s is not None:
                self.notifier.watchdog()


class Reloader:
    """Applies SIGHUP reloads one at a time (a ``Service`` in the daemon's task group): the
    signal handler only asks, and a reload that stops links waits for them here."""

    name = "reload"

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._asked = asyncio.Event()
        self._stop = False

    def request(self) -> None:
        self._asked.set()

    def stop(self) -> None:
        self._stop = True
        self._asked.set()

    async def run(self) -> None:
        while True:
            await self._asked.wait()
            if self._stop:
                return
            self._asked.clear()  # a SIGHUP during this reload asks for one more after it
            await self.runner.apply_reload()


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """A reloaded config that passed every check, and what applying it changes."""

    config: Config
    changes: ConfigChanges
    wearable_ids: dict[str, str]
    broker: BrokerSettings


class Runner:
    """``sensord run`` (and the daemon inside ``sensord demo``): builds the links, the sink and
    the daemon from ``config`` and runs them until ``stop``.

    ``adapters`` names adapters that already exist (the demo's in-process virtual radio);
    others come from the config through an ``AdapterPool``. ``reload`` re-reads the config
    (SIGHUP); None: reloading is not possible (the demo).
    """

    def __init__(
        self, config: Config, *, broker_url: str | None = None, time_scale: float = 1.0,
        adapters: Mapping[str, Adapter] | None = None, notifier: Notifier | None = None,
        reload: Callable[[], Config] | None = None,
        on_reload: Callable[[Config], None] | None = None,
    ) -> None:
        if not config.wearables:
            raise ConfigError(
                "no wearables configured: add a [[wearable]] table (see config/sensord.toml), "
                "or try `sensord demo`", key="wearable", path=config.source,
            )
        if time_scale <= 0:
            raise SensordError(f"--speed must be positive, got {time_scale:g}")
        self.config = config
        self.broker_url = broker_url
        self.time_scale = time_scale
        self.notifier = notifier if notifier is not None else Notifier()
        self._reload = reload
        self._on_reload = on_reload
        self._pool = AdapterPool()
        self._given = dict(adapters or {})
        self.daemon: Daemon | None = None
        self.sink: MqttSink | None = None
        self.sources: dict[str, LinkSource] = {}
        self.supervisor: Supervisor | None = None
        self.reloader: Reloader | None = None
        self._store: Store | None = None
        self._adapter_of: dict[str, str] = {}  # wearable -> the adapter name its link uses
        self._opened: set[str] = set()
        self._stop_requested = False

    # --- control ------------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM: stop streaming, flush, say offline, unsubscribe, return."""
        if self._stop_requested:
            return
        self._stop_requested = True
        log.info("stopping")
        self.notifier.stopping("stopping: flushing the outbox")
        if self.daemon is not None:
            self.daemon.stop()

    def reload(self) -> None:
        """SIGHUP: asks for the config to be read again and applied (``apply_reload``)."""
        if self._reload is None or self.reloader is None:
            log.warning("reload asked for, but this run has no config file to reload")
            return
        self.reloader.request()

    async def apply_reload(self) -> None:
        """Reads the config again and applies all of it, keeping running sessions: routine,
        session rules, logging and watchdog limits at once; wearables added start, removed
        ones stop (session closed and published, ``offline``, discovery removed), changed
        ones restart alone; ``[mqtt]`` moves the sink to the new broker with the outbox;
        ``[ble]`` restarts the links it concerns. A config that fails any check is logged in
        one line naming the key and the running one is kept. ``store.path`` is not switched
        while running (see ``_plan``)."""
        if self._reload is None or self.daemon is None or self.daemon.stopping:
            return
        announce = self.supervisor is not None and self.supervisor.ready
        if announce:
            self.notifier.reloading()
        try:
            plan = self._plan(self._reload())
        except SensordError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)  # noqa: TRY400 - one line, no traceback
        else:
            try:
                await self._apply(plan)
            except Exception:
                # Every input was checked in ``_plan``; what fails here is unforeseen. The
                # daemon keeps running on what was applied, and later reloads still work.
                log.exception("config reload failed part way; restart sensord to apply the "
                              "whole config")
        if announce:
            self.notifier.ready(self.status_line())

    def _plan(self, fresh: Config) -> ReloadPlan:
        """Checks everything a reload could trip on before anything changes.

        ``store.path`` stays: the open database holds the outbox (events not yet delivered),
        each wearable's ``seq`` counter and the workout history, so switching files under
        running sessions would strand undelivered events or repeat ``seq`` numbers. The new
        path is logged and taken at the next start; ``max_rows`` and ``max_age_days`` apply.
        """
        old = self.config
        if not fresh.wearables:
            raise ConfigError("no wearables left in the new config (the running ones are kept)",
                              key="wearable", path=fresh.source)
        ids = wearable_ids([w.name for w in fresh.wearables])
        broker = broker_settings(fresh.mqtt, url=self.broker_url)
        MqttSink.check_settings(fresh.mqtt, broker)
        for index, wearable in enumerate(fresh.wearables):
            self._adapter(wearable.adapter or fresh.ble.adapter)
            if wearable.profile != "auto":
                try:
                    get_profile(wearable.profile)
                except InputError as exc:
                    raise ConfigError(str(exc), key=f"wearable[{index}].profile",
                                      path=fresh.source) from None
        changes = diff_configs(old, fresh)
        if changes.store_path:
            log.warning(
                "store.path changed to %s: the running daemon keeps %s (it holds the outbox, "
                "the seq counters and the history); the new path is used from the next start",
                database_path(fresh.store), database_path(old.store))
            fresh = dataclasses.replace(
                fresh, store=dataclasses.replace(fresh.store, path=old.store.path))
            changes = diff_configs(old, fresh)
        return ReloadPlan(fresh, changes, ids, broker)

    async def _apply(self, plan: ReloadPlan) -> None:
        daemon, sink = self.daemon, self.sink
        assert daemon is not None
        assert sink is not None
        fresh, changes = plan.config, plan.changes
        self.config = fresh
        daemon.reconfigure(fresh)
        if self.supervisor is not None:
            self.supervisor.policy = WatchdogPolicy(fresh.service)
        if self._on_reload is not None:
            self._on_reload(fresh)
        if self._store is not None:
            self._store.max_rows = fresh.store.max_rows
            self._store.max_age_s = fresh.store.max_age_days * 86400.0
        moving = sink.reconfigure(fresh.mqtt, plan.broker)
        log.info("config reloaded%s", _describe_changes(changes, moving, plan.broker))
        if "wearables" in changes.sections:
            # Wearables leaving stay known to the sink until their goodbye is out.
            sink.set_wearables({**sink.wearables, **plan.wearable_ids})
        for name in changes.added:
            self._start_wearable(name)
        for name in changes.relinked:
            self._relink_wearable(name)
        async with asyncio.TaskGroup() as group:
            for name in changes.restarted:
                group.create_task(self._restart_wearable(name), name=f"restart:{name}")
            for name in changes.removed:
                group.create_task(self._remove_wearable(name), name=f"remove:{name}")
        if "wearables" in changes.sections:
            sink.set_wearables(plan.wearable_ids)
        await self._close_unused_adapters()

    def _adapter_name(self, name: str) -> str:
        wearable = next(w for w in self.config.wearables if w.name == name)
        return wearable.adapter or self.config.ble.adapter

    def _link(self, name: str) -> WearableLink:
        """A new link for configured wearable ``name``."""
        wearable = next(w for w in self.config.wearables if w.name == name)
        return WearableLink(LinkConfig.from_config(wearable, self.config.ble),
                            self._adapter(self._adapter_name(name)))

    def _start_wearable(self, name: str) -> None:
        assert self.daemon is not None
        if self.daemon.stopping:
            return  # a SIGTERM came during the reload: nothing starts on the way out
        source = LinkSource(self._link(name), time_scale=self.time_scale)
        self.sources[name] = source
        self._adapter_of[name] = self._adapter_name(name)
        self.daemon.add_wearable(name, source, source)
        log.info("wearable %s added", name)

    def _relink_wearable(self, name: str) -> None:
        """Only the link changed: a new link takes over the stream; the session goes on."""
        assert self.daemon is not None
        self.sources[name].replace(self._link(name))
        self._adapter_of[name] = self._adapter_name(name)
        worker = self.daemon.workers.get(name)
        if worker is not None:
            wearable = next(w for w in self.config.wearables if w.name == name)
            worker.meter.nominal_rate_hz = wearable.rate_hz

    async def _restart_wearable(self, name: str) -> None:
        """Placement or side changed: the wearable's analysis and session start over."""
        assert self.daemon is not None
        await self.daemon.retire_wearable(name, self.sources.pop(name))
        self._start_wearable(name)

    async def _remove_wearable(self, name: str) -> None:
        """Stops the wearable (its session ends and is published, then ``offline``) and waits
        for the broker to take that before its latest values and discovery are dropped."""
        assert self.daemon is not None
        assert self.sink is not None
        await self.daemon.retire_wearable(name, self.sources.pop(name))
        self._adapter_of.pop(name, None)
        if not await self.sink.settle(name, REMOVE_SETTLE_S):
            log.warning("wearable %s removed; its last events wait in the outbox for the broker",
                        name)
        else:
            log.info("wearable %s removed", name)
        self.sink.forget(name)

    async def _close_unused_adapters(self) -> None:
        """Closes the adapters no link uses any more (a bumble transport holds a socket)."""
        used = set(self._adapter_of.values())
        for name in self._opened - used:
            if name not in self._given:
                await self._pool.get(name).close()
        self._opened &= used

    # --- health -------------------------------------------------------------------------------

    def reachable(self) -> bool:
        """The broker is connected and every link's adapter has been scanned on."""
        return (
            self.sink is not None and self.sink.connected
            and all(s.link.adapter_reachable for s in self.sources.values())
        )

    def health_facts(self) -> HealthFacts:
        daemon = self.daemon
        wearables = []
        for name, source in self.sources.items():
            worker = daemon.workers.get(name) if daemon is not None else None
            wearables.append(source.health(
                worker.in_session if worker is not None else False,
                worker.last_sample_mono_s if worker is not None else None,
            ))
        return HealthFacts(
            now_s=time.monotonic(), wearables=tuple(wearables),
            broker_progress_s=self.sink.progress_s if self.sink is not None else None,
        )

    def status_line(self) -> str:
        """One human line for ``systemctl status``."""
        parts = []
        daemon = self.daemon
        for name, source in self.sources.items():
            worker = daemon.workers.get(name) if daemon is not None else None
            text = f"{name} {source.link.state.value}"
            if worker is not None and worker.tracker is not None and worker.tracker.active:
                snap = worker.tracker.snapshot(worker.sample_clock_now() or 0.0)
                doing = snap.exercise or "session"
                text += f" ({doing} {snap.set_reps}/{snap.target})" if snap.target else (
                    f" ({doing})")
            parts.append(text)
        broker = "broker connected" if self.sink is not None and self.sink.connected else (
            "broker unreachable")
        events = sum(w.events for w in daemon.workers.values()) if daemon is not None else 0
        return f"{', '.join(parts)}; {broker}; {events} events"

    # --- running ------------------------------------------------------------------------------

    def _adapter(self, name: str) -> Adapter:
        adapter = self._given.get(name) or self._pool.get(name)
        self._opened.add(name)
        return adapter

    async def run(self) -> RunSummary:
        config = self.config
        store = open_store(config)
        self._store = store
        history = open_history(store)
        try:
            commands = _Commands()
            self.sink = mqtt_sink(config, store, broker_url=self.broker_url, commands=commands,
                                  prune_discovery=True)
            daemon = Daemon(config, store, self.sink, track_sessions=True, history=history,
                            time_scale=self.time_scale, isolate_faults=True)
            commands.daemon = daemon
            self.daemon = daemon
            for wearable in config.wearables:
                self._adapter_of[wearable.name] = self._adapter_name(wearable.name)
                self.sources[wearable.name] = LinkSource(self._link(wearable.name),
                                                         time_scale=self.time_scale)
            self.supervisor = Supervisor(self, self.notifier, WatchdogPolicy(config.service),
                                         watchdog_interval_s())
            services: list[Service] = [*self.sources.values(), self.supervisor]
            if self._reload is not None:
                self.reloader = Reloader(self)
                services.append(self.reloader)
            if self._stop_requested:
                daemon.stop()
            with _signals(self):
                summary = await daemon.run(
                    dict(self.sources), services=services, drain_timeout_s=STOP_DRAIN_S,
                )
        finally:
            await self._pool.close()
            if history is not None:
                history.close()
            store.close()
        if not summary.drained:
            log.warning("%d event(s) not delivered yet; they wait in %s for the next run",
                        summary.pending, store.path)
        self.notifier.stopping("stopped")
        return summary


@contextlib.contextmanager
def _signals(runner: Runner) -> Any:
    """SIGTERM/SIGINT stop, SIGHUP reloads (handlers on the running loop, removed after)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig, action in ((signal.SIGTERM, runner.stop), (signal.SIGINT, runner.stop),
                        (signal.SIGHUP, runner.reload)):
        try:
            loop.add_signal_handler(sig, action)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _describe_changes(changes: ConfigChanges, moving: bool, broker: BrokerSettings) -> str:
    """The one log line of a reload: what it did beyond the settings that just apply."""
    parts = [f"{what} {', '.join(names)}" for what, names in (
        ("added", changes.added), ("removed", changes.removed),
        ("link restarted", changes.relinked), ("restarted", changes.restarted),
    ) if names]
    if moving:
        parts.append(f"MQTT session moving to {broker.describe()}")
    head = f" ({', '.join(changes.sections)})" if changes.any else ": nothing changed"
    return head + (": " + "; ".join(parts) if parts else "")


def config_loader(path: Path | None) -> Callable[[], Config]:
    """What SIGHUP re-reads: the same file ``sensord run`` started with."""
    chosen = path

    def load() -> Config:
        return load_config(chosen)

    return load


__all__ = ["LinkSource", "ReloadPlan", "Reloader", "Runner", "Supervisor", "config_loader"]
