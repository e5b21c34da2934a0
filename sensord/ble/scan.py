"""Finding wearables: a timed scan that lists what it saw, and a scan that stops at one device.

A wearable is matched by advertised name, by address, or by service UUID; the profile it speaks
is recognised from its advertised services and name (``sensord.profiles.recognise``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Final

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from sensord.ble.adapter import Adapter
from sensord.errors import LinkError
from sensord.profiles import normalise_uuid, recognise

logger = logging.getLogger(__name__)

#: A Bluetooth address (Linux) or a CoreBluetooth device UUID (macOS).
_ADDRESS_RE: Final = re.compile(
    r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$"
)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One advertiser seen by a scan. ``profile`` is the recognised profile's id, if any."""

    name: str | None
    address: str
    rssi_dbm: int
    profile: str | None
    service_uuids: tuple[str, ...] = ()
    device: BLEDevice | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Target:
    """What to look for; unset fields match anything. Name matching is exact."""

    name: str | None = None
    address: str | None = None
    service_uuid: str | None = None

    @classmethod
    def parse(cls, device: str) -> Target:
        """``--device NAME|ADDRESS``: an address if it looks like one, else a name."""
        if _ADDRESS_RE.match(device):
            return cls(address=device.upper())
        return cls(name=device)

    def matches(self, result: ScanResult) -> bool:
        if self.address is not None and result.address.upper() != self.address.upper():
            return False
        if self.name is not None and result.name != self.name:
            return False
        return self.service_uuid is None or (
            normalise_uuid(self.service_uuid) in result.service_uuids
        )

    def __str__(self) -> str:
        return self.name or self.address or self.service_uuid or "any wearable"


def _result(device: BLEDevice, data: AdvertisementData) -> ScanResult:
    name = data.local_name or device.name
    uuids = tuple(normalise_uuid(u) for u in data.service_uuids)
    profile = recognise(name, uuids)
    return ScanResult(
        name=name, address=device.address, rssi_dbm=data.rssi,
        profile=None if profile is None else profile.id, service_uuids=uuids, device=device,
    )


async def scan(adapter: Adapter, timeout_s: float) -> list[ScanResult]:
    """Everything advertising during ``timeout_s`` seconds, strongest signal first."""
    await adapter.ensure()
    seen: dict[str, ScanResult] = {}

    def on_advertisement(device: BLEDevice, data: AdvertisementData) -> None:
        seen[device.address] = _result(device, data)

    try:
        async with BleakScanner(on_advertisement, **adapter.scanner_kwargs()):
            await asyncio.sleep(timeout_s)
    except BleakError as exc:
        raise LinkError(f"scan on {adapter.name} failed: {exc}") from exc
    return sorted(seen.values(), key=lambda r: (-r.rssi_dbm, r.name or "", r.address))


async def find(adapter: Adapter, target: Target, timeout_s: float) -> ScanResult | None:
    """The first advertiser matching ``target`` within ``timeout_s`` seconds, or None.

    Raises ``BleakError`` from the scanner (the caller classifies it for backoff).
    """
    found: asyncio.Future[ScanResult] = asyncio.get_running_loop().create_future()

    def on_advertisement(device: BLEDevice, data: AdvertisementData) -> None:
        result = _result(device, data)
        if not found.done() and target.matches(result):
            found.set_result(result)

    service_uuids = None if target.service_uuid is None else [normalise_uuid(target.service_uuid)]
    async with BleakScanner(on_advertisement, service_uuids, **adapter.scanner_kwargs()):
        try:
            async with asyncio.timeout(timeout_s):
                return await found
        except TimeoutError:
            return None
