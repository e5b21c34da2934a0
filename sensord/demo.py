"""``sensord demo``: everything sensord does, on a machine with nothing configured.

One process: a virtual wearable (bumble, on an in-process radio) performs the simulated
routine on the right foot; the daemon (``sensord.runner.Runner``, the same code as
``sensord run``) connects to it through the bumble adapter, with a state directory of its own;
a broker (the one on localhost:1883 if it answers, else sensord's embedded one on a free port);
the live status view reads that broker; at the end the session summary is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rich.console import Console

from sensord.ble.adapter import BumbleAdapter
from sensord.broker import Broker
from sensord.config import (
    BleConfig,
    Config,
    MqttConfig,
    SessionConfig,
    StoreConfig,
    WearableConfig,
)
from sensord.daemon import RunSummary
from sensord.notify import Notifier
from sensord.runner import Runner
from sensord.session import SessionSummary
from sensord.sinks.broker import broker_settings
from sensord.status import StatusModel, live, summary_table

log = logging.getLogger(__name__)

LOCAL_BROKER: Final = ("127.0.0.1", 1883)
WEARABLE_NAME: Final = "sensord-demo"
DEVICE: Final = "right"
ADAPTER: Final = "bumble:demo"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """``speed``: times faster than real time; ``seconds``: stop after this many real seconds
    (default: the whole routine); ``live``: show the live view (else a line now and then)."""

    speed: float = 1.0
    seconds: float | None = None
    state_dir: Path | None = None
    live: bool = True
    seed: int = 0
    #: Where a running broker is looked for first.
    local_broker: tuple[str, int] = LOCAL_BROKER


@dataclass(frozen=True, slots=True)
class DemoResult:
    broker: str
    state_dir: Path
    summaries: list[SessionSummary]
    events: int


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.asynccontextmanager
async def _broker(console: Console, local: tuple[str, int]) -> AsyncIterator[str]:
    host, port = local
    if _answers(local):
        console.print(f"broker: the one on {host}:{port}")
        yield f"mqtt://{host}:{port}"
        return
    async with Broker(port=0) as broker:
        console.print(f"broker: none on {host}:{port}, so sensord's embedded broker on "
                      f"{broker.url}")
        yield broker.url


def demo_config(broker_url: str, state_dir: Path, address: str | None = None) -> Config:
    """The daemon's config for the demo: one virtual wearable on the right instep, topics under
    their own base (``sensord-demo-<pid>``) and no Home Assistant discovery, so a real broker
    and dashboard are left alone."""
    return Config(
        mqtt=MqttConfig(url=broker_url, base_topic=f"sensord-demo-{os.getpid()}",
                        discovery="off", status_interval_s=1.0, reconnect_min_s=0.2,
                        reconnect_max_s=2.0),
        ble=BleConfig(adapter=ADAPTER, scan_timeout_s=5.0, stale_after_s=3.0),
        store=StoreConfig(path=str(state_dir / "sensord.db")),
        session=SessionConfig(idle_end_s=300.0),
        wearables=(WearableConfig(name=DEVICE, address=address, profile="sensord",
                                  placement="instep", side="right", adapter=ADAPTER),),
    )


async def run_demo(options: DemoOptions, console: Console | None = None) -> DemoResult:
    """Runs the demo to the end of the routine (or ``options.seconds``); returns what the
    daemon recorded."""
    from bumble.link import LocalLink  # noqa: PLC0415 - bumble is heavy

    from sensord.profiles import get_profile  # noqa: PLC0415
    from sensord.virtual.central import BumbleCentral  # noqa: PLC0415
    from sensord.virtual.motion import routine_motion  # noqa: PLC0415
    from sensord.virtual.wearable import VirtualWearable  # noqa: PLC0415

    console = console or Console()
    with contextlib.ExitStack() as cleanup:
        state_dir = options.state_dir
        if state_dir is None:
            state_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(
                prefix="sensord-demo-")))
        console.print("simulating the routine (right foot) ...")
        motion = routine_motion(side="right", seed=options.seed)
        routine_s = motion.period_s
        seconds = options.seconds if options.seconds is not None else (
            routine_s / options.speed + 2.0)
        console.print(f"the routine lasts {routine_s / 60:.1f} min; at --speed "
                      f"{options.speed:g} the demo takes {seconds:.0f} s (Ctrl-C ends it early)")
        async with _broker(console, options.local_broker) as url:
            link = LocalLink()  # type: ignore[no-untyped-call]  # bumble leaves it unannotated
            wearable = VirtualWearable(link, get_profile("sensord"), name=WEARABLE_NAME,
                                       motion=motion, speed=options.speed)
            central = await BumbleCentral.on_link(link)
            adapter = BumbleAdapter.from_central(central, "demo")
            async with wearable:
                config = demo_config(url, state_dir, wearable.address)
                runner = Runner(config, time_scale=options.speed, adapters={ADAPTER: adapter},
                                notifier=Notifier({}))
                try:
                    summary = await _run(runner, config, options, seconds, console)
                finally:
                    await central.close()
    summaries = [s for items in summary.sessions.values() for s in items]
    for item in summaries:
        console.print(summary_table(item))
    if not summaries:
        console.print("no session was recorded (too short a run to recognise an exercise?)")
    return DemoResult(url, state_dir, summaries, sum(summary.events.values()))


async def _run(
    runner: Runner, config: Config, options: DemoOptions, seconds: float, console: Console,
) -> RunSummary:
    settings = broker_settings(config.mqtt)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        daemon = group.create_task(runner.run(), name="daemon")
        started = time.monotonic()

        async def view() -> None:
            if options.live:
                await live(settings, config.mqtt.base_topic, wait_s=10.0,
                           duration_s=max(0.0, seconds - (time.monotonic() - started)),
                           stop=stop)
            else:
                await _lines(runner, seconds, stop, console)

        viewer = group.create_task(view(), name="view")
        try:
            await asyncio.wait([viewer, daemon], timeout=seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            runner.stop()
        await viewer
        return await daemon


async def _lines(runner: Runner, seconds: float, stop: asyncio.Event, console: Console) -> None:
    """Without a terminal: the daemon's status line every few seconds."""
    ends = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < ends:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(3.0, max(0.0, ends - time.monotonic()))):
                await stop.wait()
        console.print(runner.status_line())


__all__ = ["DemoOptions", "DemoResult", "StatusModel", "demo_config", "run_demo"]
