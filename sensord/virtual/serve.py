"""`sensord wearable` as a process: virtual wearables on one radio, served over TCP.

The wearables share a ``LocalLink``; ``HciServer`` lets other processes onto that link through
their own emulated controllers. Runs until ``stop`` is set (SIGINT/SIGTERM in the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from bumble import hci
from bumble.link import LocalLink

from sensord.errors import InputError
from sensord.profiles.base import Profile
from sensord.virtual.hci_server import HciServer, parse_listen
from sensord.virtual.motion import MotionSource
from sensord.virtual.wearable import VirtualWearable

logger = logging.getLogger(__name__)

MAX_NAME_BYTES: Final = 29


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``sensord wearable`` was asked for. ``drop_every_s`` drops each wearable's link
    periodically (a fault drill); probabilities are per notification."""

    profile: Profile
    names: tuple[str, ...]
    motion: MotionSource
    listen: str
    speed: float = 1.0
    mtu: int = 247
    battery_pct: int = 87
    loss_probability: float = 0.0
    corrupt_probability: float = 0.0
    rate_scale: float = 1.0
    drop_every_s: float | None = None

    def check(self) -> None:
        if not self.names:
            raise InputError("give at least one --name")
        if len(set(self.names)) != len(self.names):
            raise InputError("each --name must be different")
        for name in self.names:
            if not name or len(name.encode("utf-8")) > MAX_NAME_BYTES:
                raise InputError(
                    f"name {name!r} must be 1 to {MAX_NAME_BYTES} bytes (it is advertised)"
                )
        if self.speed <= 0:
            raise InputError(f"--speed must be positive, got {self.speed:g}")
        if not 23 <= self.mtu <= 517:
            raise InputError(f"--mtu must be 23..517, got {self.mtu}")
        for flag, value in (("--loss", self.loss_probability),
                            ("--corrupt", self.corrupt_probability)):
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{flag} is a probability (0..1), got {value:g}")
        if self.rate_scale <= 0:
            raise InputError(f"--rate-scale must be positive, got {self.rate_scale:g}")
        if self.drop_every_s is not None and self.drop_every_s <= 0:
            raise InputError(f"--drop-every must be positive, got {self.drop_every_s:g}")
        parse_listen(self.listen)


def default_name(profile: Profile) -> str:
    """A name the profile's name prefixes recognise (``sensord-virtual``, ``WT901-virtual``)."""
    prefix = profile.name_prefixes[0] if profile.name_prefixes else profile.id
    return f"{prefix}-virtual"[:MAX_NAME_BYTES]


async def serve(
    options: ServeOptions,
    stop: asyncio.Event,
    on_ready: Callable[[HciServer, Sequence[VirtualWearable]], None],
    on_identify: Callable[[VirtualWearable], None] | None = None,
) -> None:
    """Runs the wearables and the HCI server until ``stop`` is set; ``on_identify`` hears of
    each identify a central asks a wearable for."""
    options.check()
    host, port = parse_listen(options.listen)
    link = LocalLink()  # type: ignore[no-untyped-call]  # bumble leaves it unannotated
    async with contextlib.AsyncExitStack() as stack:
        wearables: list[VirtualWearable] = []
        for name in options.names:
            wearable = VirtualWearable(
                link, options.profile, name=name, motion=options.motion, speed=options.speed,
                mtu=options.mtu, battery_pct=options.battery_pct,
            )
            wearable.faults.loss_probability = options.loss_probability
            wearable.faults.corrupt_probability = options.corrupt_probability
            wearable.faults.rate_scale = options.rate_scale
            wearable.on_identify = on_identify
            wearables.append(await stack.enter_async_context(wearable))
        server = HciServer(link, host, port)
        await server.start()
        stack.push_async_callback(server.close)
        on_ready(server, wearables)
        async with asyncio.TaskGroup() as group:
            if options.drop_every_s is not None:
                group.create_task(_drill(wearables, options.drop_every_s, stop), name="drill")
            await stop.wait()


async def _drill(wearables: Sequence[VirtualWearable], every_s: float, stop: asyncio.Event) -> None:
    """Drops every connected wearable's link each ``every_s`` seconds until ``stop``."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every_s):
                await stop.wait()
        if stop.is_set():
            return
        for wearable in wearables:
            if await wearable.drop_link(hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR):
                logger.info("virtual wearable %s: link dropped (drill)", wearable.name)
