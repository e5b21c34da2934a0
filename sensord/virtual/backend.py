"""A bleak backend over bumble: bleak's public API on a Bluetooth stack written in Python.

``BumbleScanner`` and ``BumbleClient`` implement bleak 3.1's ``BaseBleakScanner`` and
``BaseBleakClient``. Pass the class as ``backend=`` and the adapter as ``bumble=``::

    BleakScanner(backend=BumbleScanner, bumble=central)
    BleakClient(device, backend=BumbleClient, bumble=central)

so the code above the bleak calls is the same for BlueZ and for bumble. The behaviour follows
BlueZ where the two could differ, because that is what production runs on:

* ``disconnected_callback`` fires on every disconnect, the client's own ``disconnect()``
  included (BlueZ does; the base class docstring says otherwise);
* a connect that does not complete within ``timeout`` raises ``TimeoutError`` and leaves the
  controller free for the next attempt (see ``controller.VirtualController``);
* ``services`` is filled during ``connect``; notifications arrive on the loop thread as
  ``bytearray``.

bumble cancels a GATT request's future when the link drops, which would surface as a
``CancelledError`` that nobody asked for; every GATT call here turns that into ``BleakError``
unless the calling task really is being cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak.uuids import normalize_uuid_str
from bumble import att, core, gatt_client, hci
from bumble.device import Advertisement, Connection, Peer

from sensord.virtual.advertising import parse_advertising_data
from sensord.virtual.central import BumbleCentral

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The ATT MTU the client asks for (what BlueZ asks for on most adapters).
DEFAULT_MTU: Final = 247
_ATT_DEFAULT_MTU: Final = 23
_DISCONNECT_TIMEOUT_S: Final = 5.0
_PROPERTY_NAMES: Final[tuple[tuple[int, CharacteristicPropertyName], ...]] = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


@dataclass(frozen=True, slots=True)
class BumbleDeviceDetails:
    """``BLEDevice.details`` for the bumble backend: the address with its public/random type."""

    address: hci.Address


def _uuid(value: core.UUID) -> str:
    return normalize_uuid_str(value.to_hex_str("-"))


class BumbleScanner(BaseBleakScanner):
    """bleak scanner on a ``BumbleCentral``. The adapter always scans actively (it is shared
    by every scanner), so ``scanning_mode`` is accepted and ignored."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        bumble: BumbleCentral,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        del scanning_mode, kwargs  # bluez= and cb= options of other backends
        self._central = bumble

    async def start(self) -> None:
        self.seen_devices = {}
        await self._central.add_scan_listener(self._on_advertisement)

    async def stop(self) -> None:
        await self._central.remove_scan_listener(self._on_advertisement)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        # bumble merges a scan response into `data` (not into `data_bytes`).
        parsed = parse_advertising_data(bytes(advertisement.data))
        address = advertisement.address.to_string(False)
        previous = self.seen_devices.get(address)
        name = parsed.local_name
        uuids = list(parsed.service_uuids)
        if previous is not None:
            # An advertisement without its scan response lacks what the response carried:
            # keep what we knew, as BlueZ keeps device properties between reports.
            old = previous[1]
            if name is None:
                name = old.local_name
            uuids.extend(u for u in old.service_uuids if u not in uuids)
        if not self.is_allowed_uuid(uuids):
            return
        data = AdvertisementData(
            local_name=name,
            manufacturer_data=parsed.manufacturer_data,
            service_data=parsed.service_data,
            service_uuids=uuids,
            tx_power=parsed.tx_power_dbm,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        device = self.create_or_update_device(
            address, address, name, BumbleDeviceDetails(advertisement.address), data
        )
        self.call_detection_callbacks(device, data)


class BumbleClient(BaseBleakClient):
    """bleak client on a ``BumbleCentral``; ``mtu`` is the ATT MTU to request."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        bumble: BumbleCentral,
        mtu: int = DEFAULT_MTU,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        del services, kwargs  # every service is discovered; bluez=/winrt= are not ours
        self._central = bumble
        self._requested_mtu = mtu
        self._mtu = _ATT_DEFAULT_MTU
        self._peer_address: hci.Address | None = None
        self._name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name
            details = address_or_ble_device.details
            if isinstance(details, BumbleDeviceDetails):
                self._peer_address = details.address
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    # --- properties --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # --- connection --------------------------------------------------------------------------

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        del kwargs
        if pair:
            logger.debug("bumble backend: pairing before connect is not supported; ignored")
        if self._connection is not None:
            return
        self._central.check()
        try:
            async with asyncio.timeout(self._timeout):
                await self._connect()
        except TimeoutError:
            raise TimeoutError(
                f"no connection to {self.address} within {self._timeout:g} s"
            ) from None

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        address = self._peer_address
        if address is None:
            address = await self._central.find_address(self.address, self._timeout)
            if address is None:
                raise BleakDeviceNotFoundError(
                    self.address, f"device {self.address} was not found by the bumble adapter"
                )
        async with self._central.connect_lock:
            connection = await self._create_connection(address, deadline - loop.time())
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            peer = Peer(connection)
            self._peer = peer
            self._mtu = await self._gatt("MTU exchange", peer.request_mtu(self._requested_mtu))
            await self._gatt("service discovery", self._discover(peer))
            self.services = self._collect_services(peer)
        except BaseException:
            await self.disconnect()
            raise

    async def _create_connection(self, address: hci.Address, timeout_s: float) -> Connection:
        device = self._central.device
        try:
            connection: Connection = await device.connect(
                address, transport=core.PhysicalTransport.LE, timeout=max(timeout_s, 0.01)
            )
        except core.TimeoutError as exc:
            raise TimeoutError(f"no connection to {address.to_string(False)}") from exc
        except (core.ConnectionError, core.InvalidStateError, hci.HCI_Error) as exc:
            raise BleakError(f"connection to {address.to_string(False)} failed: {exc}") from exc
        except asyncio.CancelledError:
            await self._release_pending(address)
            raise
        return connection

    async def _release_pending(self, address: hci.Address) -> None:
        """Our caller gave up mid-connect: cancel the controller's attempt, drop a late link."""
        device = self._central.device
        try:
            async with asyncio.timeout(_DISCONNECT_TIMEOUT_S):
                await device.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
                for connection in list(device.connections.values()):
                    if connection.peer_address == address:
                        await connection.disconnect()
        except (TimeoutError, core.BaseBumbleError, hci.HCI_Error) as exc:
            logger.debug("releasing a cancelled connect to %s failed: %s", address, exc)

    @staticmethod
    async def _discover(peer: Peer) -> None:
        """Services, their characteristics and descriptors (what BlueZ resolves on connect)."""
        for service in await peer.discover_services():
            for characteristic in await peer.discover_characteristics(service=service):
                await peer.gatt_client.discover_descriptors(characteristic)

    def _on_disconnection(self, reason: int) -> None:
        """bumble's event for every disconnect: clear state, then tell bleak's user, later."""
        if self._connection is None:
            return
        logger.debug("bumble backend: %s disconnected (reason 0x%02X)", self.address, reason)
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        callback = self._disconnected_callback
        if callback is not None:
            asyncio.get_running_loop().call_soon(callback)

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            async with asyncio.timeout(_DISCONNECT_TIMEOUT_S):
                await connection.disconnect()
        except TimeoutError:
            logger.warning("bumble backend: disconnect from %s timed out", self.address)
        except (core.BaseBumbleError, hci.HCI_Error) as exc:
            logger.debug("bumble backend: disconnect from %s: %s", self.address, exc)
        # The disconnection event normally did this already; a dead transport never sends it.
        self._on_disconnection(hci.HCI_ErrorCode.CONNECTION_TERMINATED_BY_LOCAL_HOST_ERROR)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("the bumble backend does not pair")

    async def unpair(self) -> None:
        raise BleakError("the bumble backend does not pair")

    # --- GATT ----------------------------------------------------------------------------------

    def _collect_services(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            bleak_service = BleakGATTService(service, service.handle, _uuid(service.uuid))
            collection.add_service(bleak_service)
            for char in service.characteristics:
                properties = [n for bit, n in _PROPERTY_NAMES if char.properties & bit]
                bleak_char = BleakGATTCharacteristic(
                    char, char.handle, _uuid(char.uuid), properties,
                    lambda: self._mtu - 3, bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in char.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, _uuid(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"not connected to {self.address}")
        return self._peer

    async def _gatt(self, what: str, step: Awaitable[T]) -> T:
        """Runs one GATT procedure, translating bumble's failures into ``BleakError``."""
        task = asyncio.current_task()
        try:
            return await step
        except asyncio.CancelledError:
            if task is not None and task.cancelling():
                raise
            raise BleakError(f"{what} on {self.address}: the link went down") from None
        except att.ATT_Error as exc:
            raise BleakError(f"{what} on {self.address}: ATT error {exc.error_name}") from exc
        except (core.BaseBumbleError, TimeoutError) as exc:
            raise BleakError(f"{what} on {self.address} failed: {exc}") from exc

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        del use_cached, kwargs
        peer = self._require_peer()
        value = await self._gatt(
            f"read {characteristic.uuid}", peer.read_value(characteristic.obj)
        )
        return bytearray(value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        del use_cached, kwargs
        peer = self._require_peer()
        value = await self._gatt(f"read {descriptor.uuid}", peer.read_value(descriptor.obj))
        return bytearray(value)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._require_peer()
        await self._gatt(
            f"write {characteristic.uuid}",
            peer.write_value(characteristic.obj, bytes(data), with_response=response),
        )

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer = self._require_peer()
        await self._gatt(
            f"write {descriptor.uuid}",
            peer.write_value(descriptor.obj, bytes(data), with_response=True),
        )

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        del kwargs
        self._require_peer()
        proxy: gatt_client.CharacteristicProxy[bytes] = characteristic.obj

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        await self._gatt(f"subscribe {characteristic.uuid}", proxy.subscribe(subscriber))
        self._subscribers[characteristic.handle] = subscriber

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._require_peer()
        proxy: gatt_client.CharacteristicProxy[bytes] = characteristic.obj
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._gatt(
            f"unsubscribe {characteristic.uuid}", proxy.unsubscribe(subscriber, force=True)
        )
