"""The virtual wearable's GATT table: the profile's services plus Battery and Device Information.

Built from the profile's pure ``ServiceSpec`` description, so the table a central discovers is
exactly what the profile says the real device has. Reads and writes of the profile's
characteristics go to callbacks (the wearable hands them to the profile's emulator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bumble import att
from bumble.gatt import Characteristic, CharacteristicValue, Service

from sensord.profiles.base import CharacteristicSpec, CharProperty, ServiceSpec

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFORMATION_UUID: Final = "0000180a-0000-1000-8000-00805f9b34fb"
#: Device Information characteristics (Bluetooth assigned numbers) by our field name.
DEVICE_INFO_UUIDS: Final = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial": "00002a25-0000-1000-8000-00805f9b34fb",
    "hardware": "00002a27-0000-1000-8000-00805f9b34fb",
    "firmware": "00002a26-0000-1000-8000-00805f9b34fb",
    "software": "00002a28-0000-1000-8000-00805f9b34fb",
}

_PROPERTIES: Final[dict[CharProperty, Characteristic.Properties]] = {
    "read": Characteristic.Properties.READ,
    "write": Characteristic.Properties.WRITE,
    "write-without-response": Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "notify": Characteristic.Properties.NOTIFY,
    "indicate": Characteristic.Properties.INDICATE,
}

ReadHandler = Callable[[str], bytes]
WriteHandler = Callable[[str, bytes], None]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the Device Information Service reports (strings, as UTF-8 on the wire)."""

    manufacturer: str = "sensord"
    model: str = "virtual wearable"
    serial: str = "VW-0001"
    hardware: str = "bumble"
    firmware: str = "1.0.0"
    software: str = "sensord"


def _characteristic(
    spec: CharacteristicSpec, on_read: ReadHandler, on_write: WriteHandler
) -> Characteristic[bytes]:
    properties = Characteristic.Properties(0)
    for name in spec.properties:
        properties |= _PROPERTIES[name]
    permissions = Characteristic.Permissions(0)
    if "read" in spec.properties:
        permissions |= Characteristic.Permissions.READABLE
    if {"write", "write-without-response"} & set(spec.properties):
        permissions |= Characteristic.Permissions.WRITEABLE
    uuid = spec.uuid.lower()

    def read(connection: Any) -> bytes:
        del connection
        return on_read(uuid)

    def write(connection: Any, value: bytes) -> None:
        del connection
        on_write(uuid, bytes(value))

    return Characteristic(
        spec.uuid, properties, permissions, CharacteristicValue(read=read, write=write)
    )


def reject_write(message: str) -> att.ATT_Error:
    """The ATT error a device answers a write it refuses with (Value Not Allowed)."""
    return att.ATT_Error(error_code=att.ErrorCode.VALUE_NOT_ALLOWED, message=message)


@dataclass(slots=True)
class GattTable:
    """The services to add to a bumble device, and the characteristics by UUID for notifying."""

    services: list[Service]
    characteristics: dict[str, Characteristic[bytes]]
    battery_level: Characteristic[bytes]


def build_gatt_table(
    specs: tuple[ServiceSpec, ...],
    on_read: ReadHandler,
    on_write: WriteHandler,
    battery: Callable[[], int],
    info: DeviceInfo,
) -> GattTable:
    """The profile's services (reads and writes to the handlers), Battery and Device Info."""
    services: list[Service] = []
    by_uuid: dict[str, Characteristic[bytes]] = {}
    for spec in specs:
        chars = [_characteristic(c, on_read, on_write) for c in spec.characteristics]
        by_uuid.update({c.uuid.lower(): ch for c, ch in zip(spec.characteristics, chars,
                                                            strict=True)})
        services.append(Service(spec.uuid, chars))

    def read_battery(connection: Any) -> bytes:
        del connection
        return bytes((max(0, min(100, battery())),))

    battery_level: Characteristic[bytes] = Characteristic(
        BATTERY_LEVEL_UUID,
        Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
        Characteristic.Permissions.READABLE,
        CharacteristicValue(read=read_battery),
    )
    services.append(Service(BATTERY_SERVICE_UUID, [battery_level]))
    info_chars: list[Characteristic[bytes]] = [
        Characteristic(
            uuid, Characteristic.Properties.READ, Characteristic.Permissions.READABLE,
            getattr(info, field_name).encode("utf-8"),
        )
        for field_name, uuid in DEVICE_INFO_UUIDS.items()
    ]
    services.append(Service(DEVICE_INFORMATION_UUID, info_chars))
    return GattTable(services, by_uuid, battery_level)
