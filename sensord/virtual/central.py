"""A bumble host acting as the central's Bluetooth adapter, shared by bleak scanners and clients.

One ``BumbleCentral`` is one adapter: every ``BleakScanner`` and ``BleakClient`` built on the
bumble backend for it shares its controller, as they would share ``hci0`` under BlueZ. It
multiplexes scanning (bumble has one scan at a time; bleak may run several scanners), serialises
connection attempts (a controller has one pending LE connection at a time) and notices when its
HCI transport goes away, after which it refuses work with ``AdapterLostError`` so the caller can
open a new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final

from bleak.exc import BleakError
from bumble import core
from bumble.device import Advertisement, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from sensord.virtual.address import random_static_address

if TYPE_CHECKING:
    from bumble.link import LocalLink

logger = logging.getLogger(__name__)

AdvertisementListener = Callable[[Advertisement], None]

#: How long a bumble HCI command may take before the adapter counts as broken (s).
_COMMAND_TIMEOUT_S: Final = 5.0
_SCAN_INTERVAL_MS: Final = 60.0
_SCAN_WINDOW_MS: Final = 60.0


class AdapterLostError(BleakError):
    """The adapter's HCI transport went away (the other process exited, a dongle was pulled)."""


class BumbleCentral:
    """The central side of a virtual or bumble-driven radio: one bumble ``Device`` as adapter.

    Build it with ``on_link`` (in-process, on a ``LocalLink``) or ``open`` (any bumble
    transport, e.g. ``tcp-client:127.0.0.1:9000``), inside the running loop; ``close`` it.
    """

    def __init__(self, device: Device, name: str, stack: AsyncExitStack) -> None:
        self.device = device
        self.name = name
        self._stack = stack
        self._listeners: list[AdvertisementListener] = []
        self._scan_lock = asyncio.Lock()
        #: Held while an LE connection is being established (one at a time per controller).
        self.connect_lock = asyncio.Lock()
        self._lost = False
        self._closed = False
        device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        device.on(Device.EVENT_FLUSH, self._on_flush)

    # --- construction ------------------------------------------------------------------------

    @classmethod
    async def on_link(cls, link: LocalLink, name: str = "sensord-central") -> BumbleCentral:
        """A central with its own emulated controller on ``link`` (same process)."""
        # Only here: a central on a transport (the daemon's case) does without bumble's
        # emulated controller and link layer.
        from sensord.virtual.controller import VirtualController  # noqa: PLC0415

        stack = AsyncExitStack()
        controller = VirtualController(name, link)
        stack.callback(controller.detach)
        host = Host(controller, AsyncPipeSink(controller))
        return await cls._start(name, host, stack)

    @classmethod
    async def open(cls, transport: str, name: str = "sensord-central") -> BumbleCentral:
        """A central on a bumble HCI transport (``tcp-client:HOST:PORT``, ``usb:0``...)."""
        stack = AsyncExitStack()
        try:
            hci_transport = await open_transport(transport)
        except (OSError, core.BaseBumbleError, ValueError) as exc:
            raise BleakError(f"cannot open bumble transport {transport!r}: {exc}") from exc
        stack.push_async_callback(hci_transport.close)
        host = Host(hci_transport.source, hci_transport.sink)
        try:
            return await cls._start(name, host, stack)
        except BaseException:
            await stack.aclose()
            raise

    @classmethod
    async def _start(cls, name: str, host: Host, stack: AsyncExitStack) -> BumbleCentral:
        device = Device(name=name, address=random_static_address(), host=host)
        device.command_timeout = _COMMAND_TIMEOUT_S
        try:
            async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                await device.power_on()
        except (TimeoutError, core.BaseBumbleError) as exc:
            await stack.aclose()
            raise BleakError(f"bumble adapter {name!r} did not power on: {exc}") from exc
        return cls(device, name, stack)

    async def close(self) -> None:
        """Stops scanning, drops every connection and releases the transport."""
        if self._closed:
            return
        self._closed = True
        self._listeners.clear()
        if not self._lost:
            for connection in list(self.device.connections.values()):
                try:
                    async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                        await connection.disconnect()
                except (TimeoutError, core.BaseBumbleError) as exc:
                    logger.debug("closing %s: disconnect failed: %s", self.name, exc)
            if self.device.is_scanning:
                await self._command(self.device.stop_scanning(), "stop scanning")
        await self._stack.aclose()

    # --- state -------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """False once the transport is lost or the adapter closed."""
        return not (self._lost or self._closed)

    def check(self) -> None:
        """Raises ``AdapterLostError`` when the adapter can no longer be used."""
        if self._lost:
            raise AdapterLostError(f"bumble adapter {self.name!r}: HCI transport lost")
        if self._closed:
            raise BleakError(f"bumble adapter {self.name!r} is closed")

    def _on_flush(self) -> None:
        if not self._lost and not self._closed:
            logger.warning("bumble adapter %s: HCI transport lost", self.name)
        self._lost = True

    async def _command(self, step: Awaitable[Any], what: str) -> None:
        try:
            async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                await step
        except TimeoutError as exc:
            raise BleakError(f"bumble adapter {self.name!r}: {what} timed out") from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"bumble adapter {self.name!r}: {what} failed: {exc}") from exc

    # --- scanning ----------------------------------------------------------------------------

    async def add_scan_listener(self, listener: AdvertisementListener) -> None:
        """Starts scanning (if this is the first listener) and delivers advertisements."""
        self.check()
        async with self._scan_lock:
            self._listeners.append(listener)
            if not self.device.is_scanning:
                try:
                    await self._command(
                        self.device.start_scanning(
                            active=True, scan_interval=_SCAN_INTERVAL_MS,
                            scan_window=_SCAN_WINDOW_MS, filter_duplicates=False,
                        ),
                        "start scanning",
                    )
                except BleakError:
                    self._listeners.remove(listener)
                    raise

    async def remove_scan_listener(self, listener: AdvertisementListener) -> None:
        """Stops delivering to ``listener``; stops scanning after the last one."""
        async with self._scan_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
            if not self._listeners and self.device.is_scanning and self.usable:
                await self._command(self.device.stop_scanning(), "stop scanning")

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners):
            listener(advertisement)

    async def find_address(self, address: str, timeout_s: float) -> Address | None:
        """Scans until an advertiser with this address (``AA:BB:...``) shows up, or ``None``."""
        wanted = address.upper()
        found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()

        def listener(advertisement: Advertisement) -> None:
            if advertisement.address.to_string(False) == wanted and not found.done():
                found.set_result(advertisement.address)

        await self.add_scan_listener(listener)
        try:
            async with asyncio.timeout(timeout_s):
                return await found
        except TimeoutError:
            return None
        finally:
            await self.remove_scan_listener(listener)
