"""The virtual wearable: a bumble peripheral that streams motion through a device profile.

It advertises a name and the profile's service, serves the profile's GATT table plus Battery and
Device Information, lets the profile's emulator react to the central's writes, and, while the
central has started the stream, samples a ``MotionSource`` at the emulator's rate and sends the
emulator's packets as notifications: the same bytes the real device sends, paced in real time
or ``speed`` times faster.

A virtual link is not a radio (no loss, no interval, no out-of-range), so the wearable models
what a radio does to a stream itself, as fault hooks: drop the link, vanish (stop sending, let
the supervision timeout end the link, stop advertising) and come back, lose packets, corrupt or
truncate packets, run its sample clock fast or slow.

Every sample it sends is logged (``sent``) with the motion time it was taken at, so tests can
check what a central received against the motion, sample by sample. When a central makes it
show itself (identify), it logs it, counts it in ``stats.identified`` and calls
``on_identify``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Self

import numpy as np
from bumble import core, hci
from bumble.device import Connection, Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from sensord.errors import DecodeError
from sensord.model import FloatArray
from sensord.profiles.base import Emulator, Notification, Profile
from sensord.virtual.address import random_static_address
from sensord.virtual.advertising import build_advertising
from sensord.virtual.controller import VirtualController
from sensord.virtual.gatt_table import DeviceInfo, GattTable, build_gatt_table, reject_write
from sensord.virtual.motion import MotionSource

logger = logging.getLogger(__name__)

DEFAULT_MTU: Final = 247
_COMMAND_TIMEOUT_S: Final = 5.0


@dataclass(slots=True)
class Faults:
    """Radio and device faults, changeable while streaming.

    Probabilities are per notification. ``rate_scale`` is how fast the device's sample clock
    runs against the rate it was asked for (1.01 = 1 % fast, 0.5 = it silently halved its rate).
    """

    loss_probability: float = 0.0
    corrupt_probability: float = 0.0
    truncate_probability: float = 0.0
    rate_scale: float = 1.0
    lose_next: int = 0
    corrupt_next: int = 0
    truncate_next: int = 0


@dataclass(slots=True)
class WearableStats:
    """Counters of what the wearable did (for tests and the live view of ``sensord wearable``)."""

    connections: int = 0
    notifications: int = 0
    samples: int = 0
    lost: int = 0
    corrupted: int = 0
    truncated: int = 0
    rejected_writes: int = 0
    overflowed: int = 0
    identified: int = 0


@dataclass(slots=True)
class SentLog:
    """Every sample batch the wearable produced while streaming: its motion times and whether it
    reached the air intact. ``stream`` numbers the stream starts (one per start command)."""

    motion_t_s: list[FloatArray] = field(default_factory=list)
    delivered: list[bool] = field(default_factory=list)
    stream: list[int] = field(default_factory=list)

    def times(self, *, delivered_only: bool = True, stream: int | None = None) -> FloatArray:
        """Motion times (s) of the logged samples, in sending order."""
        parts = [
            t for t, ok, s in zip(self.motion_t_s, self.delivered, self.stream, strict=True)
            if (ok or not delivered_only) and (stream is None or s == stream)
        ]
        return np.concatenate(parts) if parts else np.empty(0)


class VirtualWearable:
    """One virtual wearable on a ``LocalLink``. Use as ``async with`` (or ``start``/``close``)
    inside the running loop. ``speed`` > 1 streams faster than real time (the motion clock and
    the sample clock both run ``speed`` times faster). ``fifo_s`` is how far (real seconds) the
    device may fall behind its sample clock before its FIFO overflows and the oldest samples
    are lost (logged in ``sent`` as not delivered, counted in ``stats.overflowed``)."""

    def __init__(
        self,
        link: LocalLink,
        profile: Profile,
        *,
        name: str,
        motion: MotionSource | None = None,
        speed: float = 1.0,
        mtu: int = DEFAULT_MTU,
        battery_pct: int = 87,
        device_info: DeviceInfo | None = None,
        rssi_dbm: int = -55,
        advertising_interval_ms: float = 25.0,
        notify_interval_s: float = 0.05,
        supervision_timeout_s: float = 2.0,
        fifo_s: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.link = link
        self.profile = profile
        self.name = name
        self.motion = motion or MotionSource.ankle_pumps()
        self.speed = speed
        self.mtu = mtu
        self.battery_pct = battery_pct
        self.device_info = device_info or DeviceInfo()
        self.rssi_dbm = rssi_dbm
        self.advertising_interval_ms = advertising_interval_ms
        self.notify_interval_s = notify_interval_s
        self.supervision_timeout_s = supervision_timeout_s
        self.fifo_s = fifo_s
        self.faults = Faults()
        self.stats = WearableStats()
        self.sent = SentLog()
        self.emulator: Emulator = profile.emulator()
        #: Called after each identify (``sensord wearable`` prints a line).
        self.on_identify: Callable[[VirtualWearable], None] | None = None
        self._random = random.Random(seed)  # noqa: S311 - fault injection, not security
        self._device: Device | None = None
        self._controller: VirtualController | None = None
        self._table: GattTable | None = None
        self._connection: Connection | None = None
        self._away = False
        self._closed = False
        self._wake = asyncio.Event()
        self._advertising_lock = asyncio.Lock()  # bumble's advertising calls must not interleave
        self._tasks: set[asyncio.Task[None]] = set()
        self._power_on_s = 0.0
        self._streams = 0
        self._restart = False
        self._subscribed: set[str] = set()
        self._data_uuids = {u.lower() for u in profile.notify_uuids}
        # Some devices advertise another service than the one carrying the data (Thingy:52).
        advertised = (*profile.scan_uuids, profile.service_uuid)[0]
        self._advertising, self._scan_response = build_advertising(name, advertised)

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Powers on, builds the GATT table, starts advertising and the sampling task."""
        controller = VirtualController(f"wearable-{self.name}", self.link, rssi_dbm=self.rssi_dbm)
        self._controller = controller
        device = Device(
            name=self.name, address=random_static_address(),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        device.gatt_server.max_mtu = self.mtu
        table = build_gatt_table(
            self.profile.gatt(), self._on_read, self._on_write, lambda: self.battery_pct,
            self.device_info,
        )
        device.add_services(table.services)
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        device.on("characteristic_subscription", self._on_subscription)
        self._device = device
        self._table = table
        async with asyncio.timeout(_COMMAND_TIMEOUT_S):
            await device.power_on()
        self._power_on_s = asyncio.get_running_loop().time()
        await self._advertise()
        self._spawn(self._stream(), "stream")

    async def close(self) -> None:
        """Stops everything; a connected central sees the link end."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        # HCI commands in flight (advertising, disconnects) must finish: bumble's host cannot
        # take a reply to a command whose waiter was cancelled. Timers and the sampler can go.
        busy = [t for t in self._tasks if t.get_name().endswith(("-advertise", "-respond"))]
        if busy:
            await asyncio.wait(busy, timeout=_COMMAND_TIMEOUT_S)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._controller is not None:
            self._controller.detach(hci.HCI_ErrorCode.REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"wearable-{self.name}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "virtual wearable %s: task %s failed", self.name, task.get_name(),
                exc_info=task.exception(),
            )

    # --- what a central sees ---------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The advertised address, ``AA:BB:CC:DD:EE:FF``."""
        if self._device is None:
            raise RuntimeError("the wearable is not started")
        return str(self._device.random_address.to_string(False))

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def streaming(self) -> bool:
        """Sending samples: connected, in range, the central subscribed to the data and the
        device started (devices without a start command stream whenever subscribed)."""
        return (
            self._connection is not None
            and not self._away
            and bool(self._subscribed & self._data_uuids)
            and self.emulator.streaming
        )

    @property
    def streams(self) -> int:
        """How many streams have started (the ``stream`` numbers of ``sent``, from 1)."""
        return self._streams

    def motion_now_s(self) -> float:
        """The motion clock: seconds of motion since power-on (runs ``speed`` times real)."""
        return (asyncio.get_running_loop().time() - self._power_on_s) * self.speed

    async def _advertise(self) -> None:
        device = self._device
        async with self._advertising_lock:
            if device is None or self._away or self._closed or self._connection is not None:
                return
            async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                await device.start_advertising(
                    advertising_data=self._advertising,
                    scan_response_data=self._scan_response,
                    advertising_interval_min=self.advertising_interval_ms,
                    advertising_interval_max=self.advertising_interval_ms,
                )

    async def _stop_advertising(self) -> None:
        device = self._device
        async with self._advertising_lock:
            if device is None:
                return
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error, TimeoutError):
                async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                    await device.stop_advertising()

    def _on_connection(self, connection: Connection) -> None:
        if self._away or self._closed:
            self._spawn(self._disconnect(connection, hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR),
                        "refuse")
            return
        self._connection = connection
        self.stats.connections += 1
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        logger.debug("virtual wearable %s: connected", self.name)

    def _on_subscription(
        self, bearer: Any, characteristic: Any, notify: bool, indicate: bool
    ) -> None:
        del bearer
        uuid = characteristic.uuid.to_hex_str("-").lower()
        was = self.streaming
        if notify or indicate:
            self._subscribed.add(uuid)
        else:
            self._subscribed.discard(uuid)
        if self.streaming and not was:
            self._restart = True
        self._wake.set()

    def _on_disconnection(self, reason: int) -> None:
        logger.debug("virtual wearable %s: disconnected (0x%02X)", self.name, reason)
        self._connection = None
        self._subscribed.clear()
        self.emulator.on_disconnect()
        self._wake.set()
        if not self._closed:
            self._spawn(self._advertise(), "advertise")

    async def _disconnect(self, connection: Connection, reason: int) -> None:
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error, TimeoutError):
            async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                await connection.disconnect(reason)

    # --- GATT callbacks ------------------------------------------------------------------------

    def _on_read(self, uuid: str) -> bytes:
        value = self.emulator.read(uuid)
        if value is not None:
            return value
        for service in self.profile.gatt():
            for spec in service.characteristics:
                if spec.uuid.lower() == uuid:
                    return spec.initial_value
        return b""

    def _on_write(self, uuid: str, data: bytes) -> None:
        was_streaming = self.emulator.streaming
        identifies = self.emulator.identifies
        try:
            responses = self.emulator.on_write(uuid, data)
        except DecodeError as exc:
            self.stats.rejected_writes += 1
            raise reject_write(str(exc)) from exc
        if self.emulator.identifies != identifies:
            self.stats.identified += 1
            logger.info("virtual wearable %s: identify (%s)", self.name,
                        self.emulator.identify_note)
            if self.on_identify is not None:
                self.on_identify(self)
        if self.emulator.streaming and not was_streaming:
            self._restart = True  # a start command: the device numbers samples afresh
        if responses:
            self._spawn(self._send(responses), "respond")
        self._wake.set()

    async def _send(self, notifications: list[Notification]) -> None:
        connection, device, table = self._connection, self._device, self._table
        if connection is None or device is None or table is None:
            return
        for notification in notifications:
            characteristic = table.characteristics.get(notification.char_uuid.lower())
            if characteristic is None:
                raise RuntimeError(
                    f"profile {self.profile.id} notified {notification.char_uuid}, "
                    "which is not in its GATT table"
                )
            await device.notify_subscriber(connection, characteristic, notification.data)

    # --- streaming -----------------------------------------------------------------------------

    def samples_per_notification(self) -> int:
        """Samples per packet: what fits the MTU, and no more than ``notify_interval_s`` worth
        (firmware sends at least that often so latency stays low at low rates), except for
        devices that always fill their packets."""
        mtu = self._connection.att_mtu if self._connection is not None else 23
        fits = self.emulator.samples_per_notification(mtu)
        if self.emulator.fixed_batch:
            return fits
        wanted = max(1, round(self.emulator.rate_hz * self.notify_interval_s))
        return max(1, min(fits, wanted))

    async def _stream(self) -> None:
        """Samples and sends while streaming; otherwise sleeps until something changes."""
        loop = asyncio.get_running_loop()
        next_real_s: float | None = None
        next_motion_s = 0.0
        while True:
            if not self.streaming:
                next_real_s = None
                self._wake.clear()
                await self._wake.wait()
                continue
            if next_real_s is None or self._restart:
                self._restart = False
                self._streams += 1
                next_real_s = loop.time()
                next_motion_s = self.motion_now_s()
            rate_hz = self.emulator.rate_hz * self.faults.rate_scale
            n = self.samples_per_notification()
            due_s = next_real_s + (n - 1) / (rate_hz * self.speed)
            delay_s = due_s - loop.time()
            if delay_s > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay_s):
                        await self._wake.wait()
                continue  # re-check state; the due time is unchanged
            behind_s = -delay_s
            if behind_s > self.fifo_s:
                # The device's FIFO overflowed while the link could not keep up: the oldest
                # samples are gone, as on real firmware.
                skipped = int(behind_s * rate_hz * self.speed)
                lost_times = next_motion_s + np.arange(skipped) / rate_hz
                self.sent.motion_t_s.append(lost_times)
                self.sent.delivered.append(False)
                self.sent.stream.append(self._streams)
                self.stats.overflowed += skipped
                next_real_s += skipped / (rate_hz * self.speed)
                next_motion_s += skipped / rate_hz
                logger.warning(
                    "virtual wearable %s: %d samples lost to FIFO overflow (%.2f s behind)",
                    self.name, skipped, behind_s,
                )
            times = next_motion_s + np.arange(n) / rate_hz
            next_real_s += n / (rate_hz * self.speed)
            next_motion_s += n / rate_hz
            acc, gyro = self.motion.sample(times)
            notifications = self.emulator.encode(acc, gyro)
            delivered = await self._transmit(notifications)
            self.sent.motion_t_s.append(times)
            self.sent.delivered.append(delivered)
            self.sent.stream.append(self._streams)
            self.stats.samples += n
            # Sending never waits in bumble: yield, or a wearable that fell behind its schedule
            # would starve the loop while it catches up.
            await asyncio.sleep(0)

    async def _transmit(self, notifications: list[Notification]) -> bool:
        """Sends packets through the fault model; True if all went out intact."""
        intact = True
        outgoing: list[Notification] = []
        faults = self.faults
        for notification in notifications:
            data = notification.data
            if faults.lose_next > 0 or self._chance(faults.loss_probability):
                faults.lose_next = max(0, faults.lose_next - 1)
                self.stats.lost += 1
                intact = False
                continue
            if faults.truncate_next > 0 or self._chance(faults.truncate_probability):
                faults.truncate_next = max(0, faults.truncate_next - 1)
                data = data[: self._random.randrange(0, max(1, len(data) - 1))]
                self.stats.truncated += 1
                intact = False
            elif faults.corrupt_next > 0 or self._chance(faults.corrupt_probability):
                faults.corrupt_next = max(0, faults.corrupt_next - 1)
                data = self._corrupt(data)
                self.stats.corrupted += 1
                intact = False
            outgoing.append(Notification(notification.char_uuid, data))
        await self._send(outgoing)
        self.stats.notifications += len(outgoing)
        return intact

    def _chance(self, probability: float) -> bool:
        return probability > 0 and self._random.random() < probability

    def _corrupt(self, data: bytes) -> bytes:
        """Garbles the packet's framing (the first bytes), which every decoder checks."""
        if not data:
            return b"\xff"
        garbled = bytearray(data)
        for index in range(min(2, len(garbled))):
            garbled[index] ^= 0xFF
        return bytes(garbled) + b"\x00"

    # --- fault hooks ---------------------------------------------------------------------------

    async def drop_link(self, reason: int = hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR) -> bool:
        """Ends the current connection at once (the central sees ``reason``); the wearable
        advertises again right away, as firmware does. False if nothing was connected."""
        connection = self._connection
        if connection is None:
            return False
        await self._disconnect(connection, reason)
        return True

    async def vanish(self, away_s: float | None = None) -> None:
        """Goes out of range: stops sending and advertising at once; the link ends after the
        supervision timeout (reason 0x08, as a central sees it); back after ``away_s`` seconds
        from now (``None``: until ``come_back``)."""
        self._away = True
        self._wake.set()
        await self._stop_advertising()
        connection = self._connection
        if connection is not None:
            self._spawn(self._supervision_timeout(connection), "supervision-timeout")
        if away_s is not None:
            self._spawn(self._return_after(away_s), "return")

    async def _supervision_timeout(self, connection: Connection) -> None:
        await asyncio.sleep(self.supervision_timeout_s)
        await self._disconnect(connection, hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)

    async def _return_after(self, away_s: float) -> None:
        await asyncio.sleep(away_s)
        await self.come_back()

    async def come_back(self) -> None:
        """Back in range: advertising again."""
        self._away = False
        await self._advertise()

    async def set_battery(self, percent: int) -> None:
        """Changes the battery level and notifies a subscribed central."""
        self.battery_pct = percent
        if self._connection is not None and self._device is not None and self._table:
            await self._device.notify_subscriber(self._connection, self._table.battery_level)
