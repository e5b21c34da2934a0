"""Advertising data (Core Supplement, Part A): building it for the virtual wearable, parsing it
for the bumble scanner backend.

Pure functions over bytes. The parser never raises: a malformed structure ends the parse and
what was read so far is kept, as a Bluetooth stack does with a noisy advertisement.
"""

from __future__ import annotations

import struct
import uuid as uuid_lib
from dataclasses import dataclass, field
from typing import Final

#: The Bluetooth base UUID: 16- and 32-bit UUIDs are short forms of it.
_BASE_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"

AD_FLAGS: Final = 0x01
AD_INCOMPLETE_16: Final = 0x02
AD_COMPLETE_16: Final = 0x03
AD_INCOMPLETE_32: Final = 0x04
AD_COMPLETE_32: Final = 0x05
AD_INCOMPLETE_128: Final = 0x06
AD_COMPLETE_128: Final = 0x07
AD_SHORT_NAME: Final = 0x08
AD_COMPLETE_NAME: Final = 0x09
AD_TX_POWER: Final = 0x0A
AD_SERVICE_DATA_16: Final = 0x16
AD_SERVICE_DATA_32: Final = 0x20
AD_SERVICE_DATA_128: Final = 0x21
AD_MANUFACTURER: Final = 0xFF

#: Flags for a device that is LE-only and in general discoverable mode.
FLAGS_LE_GENERAL_NO_BREDR: Final = 0x06
#: Bytes in a legacy advertising or scan response payload.
LEGACY_PAYLOAD_BYTES: Final = 31


@dataclass(frozen=True, slots=True)
class ParsedAdvertisement:
    """What an advertisement says, in bleak's conventions (UUIDs lower-case 128-bit strings)."""

    local_name: str | None = None
    name_complete: bool = False
    service_uuids: tuple[str, ...] = ()
    service_data: dict[str, bytes] = field(default_factory=dict)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    tx_power_dbm: int | None = None


def _uuid_from_le(raw: bytes) -> str:
    """A 16-, 32- or 128-bit UUID as advertised (little-endian) -> bleak's 128-bit string."""
    if len(raw) in (2, 4):
        return f"{int.from_bytes(raw, 'little'):08x}{_BASE_SUFFIX}"
    return str(uuid_lib.UUID(bytes=bytes(reversed(raw))))


def uuid_to_le(uuid: str) -> bytes:
    """A 128-bit UUID string -> its 16 little-endian bytes, as advertising data carries it."""
    return bytes(reversed(uuid_lib.UUID(uuid).bytes))


def parse_advertising_data(data: bytes) -> ParsedAdvertisement:
    """Parses advertising (or advertising + scan response) bytes. Never raises."""
    name: str | None = None
    complete = False
    uuids: list[str] = []
    service_data: dict[str, bytes] = {}
    manufacturer: dict[int, bytes] = {}
    tx_power: int | None = None
    pos = 0
    while pos < len(data):
        length = data[pos]
        if length == 0:
            break  # padding: the rest is zeros
        if pos + 1 + length > len(data):
            break  # truncated structure
        kind = data[pos + 1]
        body = data[pos + 2 : pos + 1 + length]
        pos += 1 + length
        if kind in (AD_SHORT_NAME, AD_COMPLETE_NAME):
            if kind == AD_COMPLETE_NAME or not complete:
                name = body.decode("utf-8", errors="replace")
                complete = kind == AD_COMPLETE_NAME
        elif kind in (AD_INCOMPLETE_16, AD_COMPLETE_16, AD_INCOMPLETE_32, AD_COMPLETE_32,
                      AD_INCOMPLETE_128, AD_COMPLETE_128):
            size = {AD_INCOMPLETE_16: 2, AD_COMPLETE_16: 2, AD_INCOMPLETE_32: 4,
                    AD_COMPLETE_32: 4}.get(kind, 16)
            for start in range(0, len(body) - size + 1, size):
                text = _uuid_from_le(body[start : start + size])
                if text not in uuids:
                    uuids.append(text)
        elif kind in (AD_SERVICE_DATA_16, AD_SERVICE_DATA_32, AD_SERVICE_DATA_128):
            size = {AD_SERVICE_DATA_16: 2, AD_SERVICE_DATA_32: 4}.get(kind, 16)
            if len(body) >= size:
                service_data[_uuid_from_le(body[:size])] = bytes(body[size:])
        elif kind == AD_MANUFACTURER:
            if len(body) >= 2:
                manufacturer[int.from_bytes(body[:2], "little")] = bytes(body[2:])
        elif kind == AD_TX_POWER and len(body) == 1:
            tx_power = struct.unpack("<b", body)[0]
    return ParsedAdvertisement(
        local_name=name, name_complete=complete, service_uuids=tuple(uuids),
        service_data=service_data, manufacturer_data=manufacturer, tx_power_dbm=tx_power,
    )


def _structure(kind: int, body: bytes) -> bytes:
    return bytes((len(body) + 1, kind)) + body


def build_advertising(name: str, service_uuid: str) -> tuple[bytes, bytes]:
    """Advertising data and scan response for a connectable wearable, as firmware lays them out.

    The advertisement carries the flags, the 128-bit service UUID (so a scan filtered by service
    finds it) and the name, shortened when it does not fit the 31 bytes; the scan response then
    carries the complete name. Names longer than a scan response can hold are refused.
    """
    encoded = name.encode("utf-8")
    if len(encoded) > LEGACY_PAYLOAD_BYTES - 2:
        raise ValueError(
            f"name {name!r} is {len(encoded)} bytes; at most {LEGACY_PAYLOAD_BYTES - 2} fit"
        )
    head = _structure(AD_FLAGS, bytes((FLAGS_LE_GENERAL_NO_BREDR,))) + _structure(
        AD_COMPLETE_128, uuid_to_le(service_uuid)
    )
    room = LEGACY_PAYLOAD_BYTES - len(head) - 2
    if len(encoded) <= room:
        return head + _structure(AD_COMPLETE_NAME, encoded), b""
    short = encoded[:room].decode("utf-8", errors="ignore").encode("utf-8")
    advertising = head + (_structure(AD_SHORT_NAME, short) if short else b"")
    return advertising, _structure(AD_COMPLETE_NAME, encoded)
