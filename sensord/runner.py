"""``sensord run``: the daemon as a service, wired from the config.

Per configured wearable a ``LinkSource`` (the BLE link as the daemon's ``BlockSource``, and as a
``Service`` whose task keeps the link going) feeds a worker (pipeline, workout tracker, store);
the MQTT sink publishes from the store; a ``Supervisor`` speaks systemd's notify protocol. All of
it runs in the daemon's one task group.

Signals: SIGTERM and SIGINT stop gracefully (streams stop, sessions close, the outbox drains,
``offline`` goes out, the sink unsubscribes), SIGHUP reloads the config keeping running
sessions. sd_notify: ``READY=1`` once the config is valid and the broker and every adapter are
reachable (not waiting for a wearable, which may be off), a ``STATUS=`` line, ``WATCHDOG=1``
only while ``WatchdogPolicy`` finds the daemon healthy, ``STOPPING=1`` on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np

from sensord.ble.adapter import Adapter, AdapterPool
from sensord.ble.link import LinkConfig, WearableLink
from sensord.config import Config, load_config
from sensord.daemon import Daemon, RunSummary, mqtt_sink, open_history, open_store
from sensord.errors import ConfigError, SensordError
from sensord.model import ImuBlock, LinkState, WearableStatus
from sensord.notify import (
    HealthFacts,
    Notifier,
    WatchdogPolicy,
    WearableHealth,
    watchdog_interval_s,
)
from sensord.sinks.base import CommandResult
from sensord.sinks.mqtt import MqttSink

log = logging.getLogger(__name__)

#: How long the outbox may take to drain on SIGTERM (the whole stop must fit in 5 s).
STOP_DRAIN_S: Final = 2.5
#: How often the health is checked and STATUS= refreshed when no watchdog asks for more.
HEALTH_EVERY_S: Final = 2.0


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

    async def run(self) -> None:
        await self.link.run()

    def stop(self) -> None:
        self.link.stop()

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        async for block in self.link:
            yield self._scaled(block) if self.time_scale != 1.0 else block

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
        """SIGHUP: read the config again; routine, session rules, logging and the watchdog's
        limits apply at once (open sessions keep going); other changes need a restart."""
        if self._reload is None or self.daemon is None:
            log.warning("reload asked for, but this run has no config file to reload")
            return
        self.notifier.reloading()
        try:
            fresh = self._reload()
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)  # noqa: TRY400 - one line, no traceback
            self.notifier.ready(self.status_line())
            return
        old = self.config
        changed = [
            name for name in ("mqtt", "ble", "store", "wearables")
            if getattr(fresh, name) != getattr(old, name)
        ]
        if changed:
            log.warning("config reloaded; changes to %s take effect after a restart",
                        ", ".join(changed))
        else:
            log.info("config reloaded")
        self.config = fresh
        self.daemon.reconfigure(fresh)
        if self.supervisor is not None:
            self.supervisor.policy = WatchdogPolicy(fresh.service)
        if self._on_reload is not None:
            self._on_reload(fresh)
        self.notifier.ready(self.status_line())

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
        return self._given.get(name) or self._pool.get(name)

    async def run(self) -> RunSummary:
        config = self.config
        store = open_store(config)
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
                adapter = self._adapter(wearable.adapter or config.ble.adapter)
                link = WearableLink(LinkConfig.from_config(wearable, config.ble), adapter)
                self.sources[wearable.name] = LinkSource(link, time_scale=self.time_scale)
            self.supervisor = Supervisor(self, self.notifier, WatchdogPolicy(config.service),
                                         watchdog_interval_s())
            if self._stop_requested:
                daemon.stop()
            with _signals(self):
                summary = await daemon.run(
                    self.sources, services=[*self.sources.values(), self.supervisor],
                    drain_timeout_s=STOP_DRAIN_S,
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


def config_loader(path: Path | None) -> Callable[[], Config]:
    """What SIGHUP re-reads: the same file ``sensord run`` started with."""
    chosen = path

    def load() -> Config:
        return load_config(chosen)

    return load


__all__ = ["LinkSource", "Runner", "Supervisor", "config_loader"]
