"""One wearable's link: find it, connect, subscribe, and yield decoded sample blocks, forever.

``WearableLink.run()`` owns the link's task group and keeps a stream going: scan for the
wearable, connect with a timeout, read its battery and device information, subscribe, send the
profile's start writes, then decode notifications into ``ImuBlock``s on the host clock
(``timeline.SampleClock``) until the link drops. A disconnect wakes the loop at once; failures
wait by error class with jitter (``backoff``); a stream with no data for ``stale_after_s`` is
treated as lost. On the way out (stop, cancellation, a lost link) the profile's stop writes and
the unsubscribes are always sent if the link is still up, then the client disconnects.

Consumers iterate the link (``async for block in link``) over a bounded drop-oldest queue and
read ``health()`` for a frozen snapshot. The notification callback only copies the bytes and
stamps the receive time; decoding happens in the link's task.

``identify()`` makes a connected wearable show itself through its profile's identify writes;
a device that keeps the indication as a setting (the Thingy:52 LED) gets its saved setting
back after the duration, at teardown, or at the next connection if the link dropped first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from sensord.ble import scan
from sensord.ble.adapter import Adapter
from sensord.ble.backoff import Backoff, ErrorClass, WearableNotFoundError, classify
from sensord.ble.health import DeviceInformation, LinkHealth, RateMeter
from sensord.ble.queue import DropOldestQueue
from sensord.ble.timeline import Gap, SampleClock
from sensord.config import BleConfig, WearableConfig
from sensord.errors import DecodeError, LinkError
from sensord.model import ImuBlock, LinkState
from sensord.profiles import get_profile, normalise_uuid
from sensord.profiles.base import Decoder, IdentifyPlan, Profile

logger = logging.getLogger(__name__)

BATTERY_LEVEL_UUID: Final = normalise_uuid("2a19")
DEVICE_INFO_UUIDS: Final = {
    "manufacturer": normalise_uuid("2a29"),
    "model": normalise_uuid("2a24"),
    "serial": normalise_uuid("2a25"),
    "hardware": normalise_uuid("2a27"),
    "firmware": normalise_uuid("2a26"),
    "software": normalise_uuid("2a28"),
}
#: Each GATT step of setup and teardown gets this long (s).
STEP_TIMEOUT_S: Final = 5.0
#: Extra time around bleak's own connect timeout, in case a backend does not honour it (s).
CONNECT_SAFETY_S: Final = 10.0
_GAP_LOG: Final = 100
#: How long ``identify`` makes a wearable show itself unless told otherwise (s).
IDENTIFY_S: Final = 5.0


class LinkLostError(LinkError):
    """The connection dropped, or the stream went silent."""


class IdentifyError(LinkError):
    """The wearable cannot show itself now; the message says why."""


@dataclass(frozen=True, slots=True)
class _IdentifyEnd:
    """An identify to end: the profile that started it and the setting read before it."""

    profile: Profile
    saved: bytes | None


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """What one link needs: the wearable (``name``, or ``address`` to match instead), its
    profile (``auto``: recognised from the advertisement), the rate to ask for, and timing."""

    name: str
    address: str | None = None
    profile: str = "auto"
    rate_hz: float = 100.0
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 20.0
    stale_after_s: float = 5.0
    queue_blocks: int = 256
    raw_queue_packets: int = 4096
    summary_every_s: float = 60.0

    @classmethod
    def from_config(cls, wearable: WearableConfig, ble: BleConfig) -> LinkConfig:
        return cls(
            name=wearable.name, address=wearable.address, profile=wearable.profile,
            rate_hz=wearable.rate_hz, scan_timeout_s=ble.scan_timeout_s,
            connect_timeout_s=ble.connect_timeout_s, stale_after_s=ble.stale_after_s,
            queue_blocks=ble.queue_blocks,
        )

    @property
    def target(self) -> scan.Target:
        if self.address is not None:
            return scan.Target(address=self.address)
        return scan.Target(name=self.name)


@dataclass(frozen=True, slots=True)
class _Packet:
    uuid: str
    data: bytes
    arrival_s: float


_WAKE: Final = _Packet("", b"", 0.0)


class WearableLink:
    """Keeps one wearable streaming (see the module docstring). ``clock`` is the host clock
    sample times are on (monotonic seconds)."""

    def __init__(
        self,
        config: LinkConfig,
        adapter: Adapter,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.adapter = adapter
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._fixed_profile = None if config.profile == "auto" else get_profile(config.profile)
        self._blocks: DropOldestQueue[ImuBlock] = DropOldestQueue(config.queue_blocks)
        self._raw: DropOldestQueue[_Packet] = DropOldestQueue(config.raw_queue_packets)
        self._timeline = SampleClock(config.rate_hz)
        self._rate = RateMeter()
        self._stop = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._gaps: deque[Gap] = deque(maxlen=_GAP_LOG)
        self._state = LinkState.IDLE
        self._state_since_s = clock()
        self._address: str | None = None
        self._profile: Profile | None = self._fixed_profile
        self._nominal_rate_hz = float("nan")
        self._rssi_dbm: int | None = None
        self._battery_pct: int | None = None
        self._device_info = DeviceInformation()
        self._last_error: str | None = None
        self._last_sample_s: float | None = None
        self._decode_errors = 0
        self._connects = 0
        self._connect_attempts = 0
        self._scans = 0
        self._session_samples = 0
        self._device_t0_s: float | None = None
        self._adapter_reachable = False
        self._group: asyncio.TaskGroup | None = None
        self._client: BleakClient | None = None
        self._identify_end: _IdentifyEnd | None = None
        self._identify_timer: asyncio.Task[None] | None = None

    # --- public ------------------------------------------------------------------------------

    def __aiter__(self) -> DropOldestQueue[ImuBlock]:
        """The decoded blocks, in time order; the iteration ends when the link stops."""
        return self._blocks

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def adapter_reachable(self) -> bool:
        """True once a scan ran on the adapter (whether or not it found the wearable), until
        the adapter itself fails: what "the adapter is reachable" means for readiness."""
        return self._adapter_reachable

    def gaps(self) -> tuple[Gap, ...]:
        """The most recent gaps (lost samples and reconnects), oldest first."""
        return tuple(self._gaps)

    def health(self) -> LinkHealth:
        """The stream's health now (a frozen snapshot)."""
        now = self._clock()
        timeline = self._timeline
        received = timeline.samples
        lost = timeline.lost_samples
        return LinkHealth(
            name=self.config.name,
            state=self._state,
            state_age_s=now - self._state_since_s,
            address=self._address,
            profile=None if self._profile is None else self._profile.id,
            nominal_rate_hz=self._nominal_rate_hz,
            rate_hz=self._rate.rate_hz(now),
            device_rate_hz=timeline.rate_hz if received else None,
            samples=received,
            lost_samples=lost,
            loss_pct=100.0 * lost / (received + lost) if received + lost else 0.0,
            gaps=timeline.gaps,
            duplicates=timeline.duplicates,
            decode_errors=self._decode_errors,
            queue_drops=self._blocks.dropped,
            scans=self._scans,
            connects=self._connects,
            connect_attempts=self._connect_attempts,
            reconnects=max(0, self._connects - 1),
            consecutive_failures=self._backoff.failures,
            last_sample_age_s=None if self._last_sample_s is None else now - self._last_sample_s,
            battery_pct=self._battery_pct,
            device_info=self._device_info,
            rssi_dbm=self._rssi_dbm,
            last_error=self._last_error,
        )

    async def run(self) -> None:
        """Streams until ``stop()`` (or cancellation); never returns on a BLE failure."""
        try:
            if self._stop.is_set():
                return
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._supervisor = group.create_task(
                    self._supervise(), name=f"link-{self.config.name}-supervise"
                )
                group.create_task(self._summarise(), name=f"link-{self.config.name}-summary")
        finally:
            self._set_state(LinkState.STOPPED)
            self._blocks.close()

    def stop(self) -> None:
        """Ends the stream: the link unsubscribes, disconnects and ``run`` returns."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._identify_timer is not None:
            self._identify_timer.cancel()  # the teardown puts the setting back

    async def identify(self, duration_s: float = IDENTIFY_S) -> str:
        """Makes the connected wearable show itself for about ``duration_s`` seconds and says
        how ("blinking its LED for 5 s"). ``IdentifyError`` says why not: not connected, a
        profile with no way to, firmware without the characteristic, a failed write."""
        name = self.config.name
        client, profile = self._client, self._profile
        if client is None or profile is None or not client.is_connected:
            raise IdentifyError(f"{name} is not connected ({self._state})")
        plan = profile.identify(duration_s)
        if plan is None:
            raise IdentifyError(
                f"not supported by profile {profile.id}: {profile.identify_unsupported}"
            )
        for uuid in [w.char_uuid for w in plan.writes] + [plan.saved_uuid or ""]:
            if uuid and client.services.get_characteristic(uuid) is None:
                raise IdentifyError(
                    f"{name} has no characteristic {uuid}, which profile {profile.id} "
                    "identifies through (older firmware?)"
                )
        if plan.saved_uuid is not None and self._identify_end is None:
            self._identify_end = _IdentifyEnd(profile, await self._read_saved(client, plan))
        try:
            for write in plan.writes:
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    await client.write_gatt_char(
                        write.char_uuid, write.data, response=write.response
                    )
        except (BleakError, TimeoutError) as exc:
            raise IdentifyError(f"{name} refused the identify write: {exc}") from exc
        if self._identify_end is not None and self._group is not None and (
                self._client is client):  # not while the session tears down (it ends it)
            if self._identify_timer is not None:
                self._identify_timer.cancel()  # a second identify extends the first
            self._identify_timer = self._group.create_task(
                self._end_identify_after(client, plan.duration_s),
                name=f"link-{name}-identify-end",
            )
        logger.info("wearable %s: identify, %s for %g s", name, plan.what, plan.duration_s)
        return f"{plan.what} for {plan.duration_s:g} s"

    async def _read_saved(self, client: BleakClient, plan: IdentifyPlan) -> bytes | None:
        """The setting an identify will replace (None if unreadable: the profile then puts
        back the device's default)."""
        assert plan.saved_uuid is not None
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                return bytes(await client.read_gatt_char(plan.saved_uuid))
        except (BleakError, TimeoutError) as exc:
            logger.debug("wearable %s: reading %s failed: %s", self.config.name,
                         plan.saved_uuid, exc)
            return None

    async def _end_identify_after(self, client: BleakClient, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._identify_timer = None
        await self._end_identify(client)

    async def _end_identify(self, client: BleakClient) -> None:
        """Puts back what the wearable showed before an identify; kept for the next connection
        when the link is down (the device stored the identify setting)."""
        pending = self._identify_end
        if pending is None or not client.is_connected:
            return
        self._identify_end = None
        try:
            for write in pending.profile.identify_end(pending.saved):
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    await client.write_gatt_char(
                        write.char_uuid, write.data, response=write.response
                    )
        except (BleakError, TimeoutError) as exc:
            logger.warning("wearable %s: putting back its setting after identify failed: %s",
                           self.config.name, exc)

    # --- the connection loop -----------------------------------------------------------------

    def _set_state(self, state: LinkState) -> None:
        if state != self._state:
            logger.info("wearable %s: %s -> %s", self.config.name, self._state, state)
            self._state = state
            self._state_since_s = self._clock()

    def _raise_if_stopping(self) -> None:
        """Raises ``CancelledError`` when the link was told to stop but the cancellation was
        lost on the way: bumble waits for GATT responses with 3.11's ``wait_for``, which drops
        a cancellation that arrives together with the response. Without this check the link
        would stream on, and reconnect, after ``stop()`` or a cancel."""
        task = asyncio.current_task()
        if self._stop.is_set() or (task is not None and task.cancelling() > 0):
            raise asyncio.CancelledError

    async def _supervise(self) -> None:
        while True:
            self._raise_if_stopping()
            self._session_samples = 0
            error: BaseException
            try:
                await self.adapter.ensure()
                found = await self._find()
                self._adapter_reachable = True
                await self._session(found)
                error = LinkLostError("the session ended")
            except (BleakError, LinkError, TimeoutError, OSError) as exc:
                error = exc
            if self._session_samples > 0:
                self._backoff.succeeded()
            kind = classify(error)
            if kind is ErrorClass.NOT_FOUND:
                self._adapter_reachable = True
            elif kind is ErrorClass.ADAPTER:
                self._adapter_reachable = False
            delay_s = self._backoff.delay(kind)
            self._last_error = f"{type(error).__name__}: {error}"
            self._set_state(LinkState.BACKOFF)
            log = logger.info if kind in (ErrorClass.NOT_FOUND, ErrorClass.TRANSIENT) else (
                logger.warning)
            log("wearable %s: %s; retrying in %.2f s (%s)", self.config.name, error, delay_s, kind)
            self._raise_if_stopping()
            await asyncio.sleep(delay_s)

    async def _find(self) -> scan.ScanResult:
        self._set_state(LinkState.SCANNING)
        self._scans += 1
        target = self.config.target
        found = await scan.find(self.adapter, target, self.config.scan_timeout_s)
        if found is None:
            raise WearableNotFoundError(
                f"{target} not seen within {self.config.scan_timeout_s:g} s"
            )
        self._rssi_dbm = found.rssi_dbm
        self._address = found.address
        return found

    def _choose_profile(self, found: scan.ScanResult) -> Profile:
        if self._fixed_profile is not None:
            return self._fixed_profile
        if found.profile is None:
            raise LinkError(
                f"{found.name or found.address} advertises no known profile; "
                "set the wearable's profile in the config"
            )
        return get_profile(found.profile)

    async def _session(self, found: scan.ScanResult) -> None:
        """One connection, from connect to loss; always cleans up."""
        profile = self._choose_profile(found)
        self._profile = profile
        rate_hz = profile.nearest_rate(self.config.rate_hz)
        self._nominal_rate_hz = rate_hz
        if abs(self._timeline.nominal_period_s * rate_hz - 1.0) > 1e-9:
            self._timeline = SampleClock(rate_hz)
        self._set_state(LinkState.CONNECTING)
        self._connect_attempts += 1
        lost = asyncio.Event()

        def on_disconnect(_client: BleakClient) -> None:
            lost.set()
            self._raw.put_nowait(_WAKE)

        client = BleakClient(
            found.device or found.address, disconnected_callback=on_disconnect,
            timeout=self.config.connect_timeout_s, **self.adapter.client_kwargs(),
        )
        async with asyncio.timeout(self.config.connect_timeout_s + CONNECT_SAFETY_S):
            await client.connect()
        self._connects += 1
        self._client = client
        subscribed: list[str] = []
        try:
            self._raise_if_stopping()
            await self._read_device(client)
            decoder = profile.decoder(rate_hz)
            self._timeline.new_epoch()
            self._device_t0_s = None
            self._rate.reset()
            self._raw.drain()
            uuids = list(profile.notify_uuids)
            battery = client.services.get_characteristic(BATTERY_LEVEL_UUID)
            if battery is not None and "notify" in battery.properties:
                uuids.append(BATTERY_LEVEL_UUID)
            for uuid in uuids:
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    await client.start_notify(uuid, self._on_notify)
                subscribed.append(uuid)
            self._raise_if_stopping()
            for write in profile.start(rate_hz):
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    await client.write_gatt_char(
                        write.char_uuid, write.data, response=write.response
                    )
            await self._end_identify(client)  # one the last connection could not end
            self._set_state(LinkState.STREAMING)
            self._last_error = None
            await self._pump(decoder, lost, rate_hz)
        finally:
            await self._teardown(client, profile, subscribed)

    def _on_notify(self, characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        """bleak's callback: copy the bytes, stamp the time, nothing else."""
        self._raw.put_nowait(_Packet(characteristic.uuid, bytes(data), self._clock()))

    async def _read_device(self, client: BleakClient) -> None:
        """Battery level and Device Information, where the wearable has them (best effort)."""
        info: dict[str, str] = {}
        for field_name, uuid in DEVICE_INFO_UUIDS.items():
            if client.services.get_characteristic(uuid) is None:
                continue
            try:
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    raw = await client.read_gatt_char(uuid)
            except (BleakError, TimeoutError) as exc:
                logger.debug("wearable %s: reading %s failed: %s", self.config.name, uuid, exc)
                continue
            info[field_name] = bytes(raw).decode("utf-8", errors="replace").rstrip("\x00")
        self._device_info = DeviceInformation(**info)
        if client.services.get_characteristic(BATTERY_LEVEL_UUID) is not None:
            try:
                async with asyncio.timeout(STEP_TIMEOUT_S):
                    level = await client.read_gatt_char(BATTERY_LEVEL_UUID)
            except (BleakError, TimeoutError) as exc:
                logger.debug("wearable %s: battery read failed: %s", self.config.name, exc)
            else:
                self._set_battery(bytes(level))

    def _set_battery(self, data: bytes) -> None:
        if len(data) >= 1 and data[0] <= 100:
            self._battery_pct = data[0]

    async def _pump(self, decoder: Decoder, lost: asyncio.Event, rate_hz: float) -> None:
        """Decodes and queues blocks until the link drops or goes silent."""
        last_data_s = self._clock()
        while True:
            self._raise_if_stopping()
            silent_s = self._clock() - last_data_s
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for swallows a cancellation that
                # coincides with its result, and data arrives all the time here.
                async with asyncio.timeout(self.config.stale_after_s - silent_s):
                    await self._raw.wait()
            except TimeoutError:
                raise LinkLostError(
                    f"no data for {self.config.stale_after_s:g} s"
                ) from None
            blocks = [b for p in self._raw.drain() if (b := self._decode(decoder, p, rate_hz))]
            if blocks:
                block = blocks[0] if len(blocks) == 1 else ImuBlock.concat(blocks)
                self._blocks.put_nowait(block)
                last_data_s = self._clock()
                self._last_sample_s = last_data_s
                self._session_samples += len(block)
            if lost.is_set():
                raise LinkLostError("the wearable disconnected")

    def _decode(self, decoder: Decoder, packet: _Packet, rate_hz: float) -> ImuBlock | None:
        if packet is _WAKE:
            return None
        if packet.uuid == BATTERY_LEVEL_UUID:
            self._set_battery(packet.data)
            return None
        try:
            decoded = decoder.decode(packet.uuid, packet.data)
        except DecodeError as exc:
            self._decode_errors += 1
            logger.debug("wearable %s: bad packet skipped: %s", self.config.name, exc)
            return None
        if decoded is None or len(decoded) == 0:
            return None
        index = decoded.counter
        if index is None and decoded.device_time_s is not None:
            if self._device_t0_s is None:
                self._device_t0_s = decoded.device_time_s
            index = round((decoded.device_time_s - self._device_t0_s) * rate_hz)
        placement = self._timeline.place(packet.arrival_s, len(decoded), index)
        if placement is None:
            return None
        if placement.gap is not None:
            self._gaps.append(placement.gap)
            logger.debug("wearable %s: %s", self.config.name, placement.gap)
        self._rate.add(packet.arrival_s, placement.t_s.shape[0])
        return ImuBlock(
            placement.t_s,
            np.ascontiguousarray(decoded.acc_m_s2[placement.skip:], dtype=np.float64),
            np.ascontiguousarray(decoded.gyro_rad_s[placement.skip:], dtype=np.float64),
        )

    async def _teardown(self, client: BleakClient, profile: Profile, subscribed: list[str]) -> None:
        """Stop writes and unsubscribes while the link is up (a wearable may leak subscription
        slots otherwise), then disconnect. Each step is bounded; failures are only logged."""
        self._client = None  # no identify from here on
        if self._identify_timer is not None:
            self._identify_timer.cancel()
            self._identify_timer = None
        if self._state is LinkState.STREAMING:
            # The stream is over already; a silent wearable can hold the steps below for
            # seconds, and nobody should read the link as streaming meanwhile.
            self._set_state(LinkState.BACKOFF)
        if client.is_connected:
            await self._end_identify(client)
            for write in profile.stop():
                try:
                    async with asyncio.timeout(STEP_TIMEOUT_S):
                        await client.write_gatt_char(
                            write.char_uuid, write.data, response=write.response
                        )
                except (BleakError, TimeoutError) as exc:
                    logger.debug("wearable %s: stop write failed: %s", self.config.name, exc)
            for uuid in subscribed:
                try:
                    async with asyncio.timeout(STEP_TIMEOUT_S):
                        await client.stop_notify(uuid)
                except (BleakError, TimeoutError) as exc:
                    logger.debug("wearable %s: unsubscribe failed: %s", self.config.name, exc)
        with contextlib.suppress(BleakError, TimeoutError):
            async with asyncio.timeout(STEP_TIMEOUT_S):
                await client.disconnect()

    async def _summarise(self) -> None:
        """Logs the counters every ``summary_every_s`` when they changed (not per packet)."""
        last: tuple[int, ...] = ()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.summary_every_s):
                    await self._stop.wait()
            health = self.health()
            counters = (health.samples, health.lost_samples, health.decode_errors,
                        health.queue_drops, health.reconnects)
            if counters != last and health.samples:
                logger.info(
                    "wearable %s: %d samples at %.1f Hz, %d lost (%.2f %%) in %d gaps, "
                    "%d bad packets, %d blocks dropped, %d reconnects",
                    self.config.name, health.samples, health.rate_hz, health.lost_samples,
                    health.loss_pct, health.gaps, health.decode_errors, health.queue_drops,
                    health.reconnects,
                )
                last = counters
