"""The MQTT 3.1.1 wire format: packets to bytes and back. Pure: no sockets except ``read_packet``.

Used by the embedded broker (sensord.broker) and by ``sensord diagnose``'s CONNECT probe, so
neither needs an MQTT client library. Malformed input raises ``ProtocolError``, never anything
else. Reference: the OASIS MQTT 3.1.1 specification, sections 2 (fixed header) and 3 (packets).
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Final

from sensord.errors import SensordError

CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
PUBREC: Final = 5
PUBREL: Final = 6
PUBCOMP: Final = 7
SUBSCRIBE: Final = 8
SUBACK: Final = 9
UNSUBSCRIBE: Final = 10
UNSUBACK: Final = 11
PINGREQ: Final = 12
PINGRESP: Final = 13
DISCONNECT: Final = 14

#: CONNACK return codes (3.1.1 section 3.2.2.3).
ACCEPTED: Final = 0
REFUSED_PROTOCOL: Final = 1
REFUSED_IDENTIFIER: Final = 2
CONNACK_MEANINGS: Final = {
    0: "accepted", 1: "unacceptable protocol version", 2: "client identifier rejected",
    3: "server unavailable", 4: "bad user name or password", 5: "not authorized",
}
_MAX_REMAINING: Final = 268_435_455  # four length bytes


class ProtocolError(SensordError):
    """A peer broke the MQTT 3.1.1 protocol; its connection is closed."""


def encode_length(value: int) -> bytes:
    """The fixed header's Remaining Length: 7 bits a byte, high bit = more follows."""
    if not 0 <= value <= _MAX_REMAINING:
        raise ValueError(f"remaining length {value} out of range")
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_length(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decodes a Remaining Length at ``offset``; returns (value, offset after it)."""
    value = 0
    for index in range(4):
        if offset + index >= len(data):
            raise ProtocolError("truncated remaining length")
        byte = data[offset + index]
        value += (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, offset + index + 1
    raise ProtocolError("remaining length longer than four bytes")


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("string longer than 65535 bytes")
    return struct.pack("!H", len(raw)) + raw


def _binary(raw: bytes) -> bytes:
    return struct.pack("!H", len(raw)) + raw


def packet(kind: int, body: bytes, flags: int = 0) -> bytes:
    """A whole packet: fixed header plus body."""
    return bytes([(kind << 4) | flags]) + encode_length(len(body)) + body


class _Reader:
    """Reads MQTT fields out of a packet body, raising ProtocolError when it runs short."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.offset = 0

    def remaining(self) -> int:
        return len(self.body) - self.offset

    def take(self, count: int) -> bytes:
        if count > self.remaining():
            raise ProtocolError("packet shorter than its fields")
        chunk = self.body[self.offset:self.offset + count]
        self.offset += count
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def binary(self) -> bytes:
        return self.take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not UTF-8") from exc
        if "\0" in text:
            raise ProtocolError("string contains U+0000")
        return text


@dataclass(frozen=True, slots=True)
class Message:
    """An application message: where it goes, what it carries, how it is kept."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Connect:
    """A parsed CONNECT packet. ``keepalive_s`` 0 means no keepalive."""

    client_id: str
    clean_session: bool
    keepalive_s: int
    protocol: str
    level: int
    will: Message | None = None
    username: str | None = None
    password: bytes | None = None


@dataclass(frozen=True, slots=True)
class Publish:
    """A parsed PUBLISH packet (``packet_id`` only for QoS 1 and 2)."""

    message: Message
    packet_id: int | None
    dup: bool = False


def parse_connect(body: bytes) -> Connect:
    """Parses a CONNECT body. An unknown protocol level is returned for the caller to refuse."""
    reader = _Reader(body)
    protocol = reader.string()
    level = reader.u8()
    if protocol not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"unknown protocol name {protocol!r}")
    flags = reader.u8()
    if flags & 0x01:
        raise ProtocolError("reserved CONNECT flag set")
    keepalive_s = reader.u16()
    client_id = reader.string()
    will = None
    will_qos = (flags >> 3) & 0x03
    if flags & 0x04:
        if will_qos > 2:
            raise ProtocolError("will QoS 3")
        topic = reader.string()
        _check_topic(topic)
        will = Message(topic, reader.binary(), will_qos, bool(flags & 0x20))
    elif will_qos or flags & 0x20:
        raise ProtocolError("will QoS or retain without a will")
    username = reader.string() if flags & 0x80 else None
    password = reader.binary() if flags & 0x40 else None
    if password is not None and username is None:
        raise ProtocolError("password without a user name")
    if reader.remaining():
        raise ProtocolError("bytes after the CONNECT payload")
    return Connect(client_id, bool(flags & 0x02), keepalive_s, protocol, level, will,
                   username, password)


def build_connect(
    client_id: str, *, keepalive_s: int = 60, clean_session: bool = True,
    username: str | None = None, password: bytes | None = None, will: Message | None = None,
) -> bytes:
    """A CONNECT packet (MQTT 3.1.1)."""
    flags = 0x02 if clean_session else 0
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _binary(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
    if password is not None:
        flags |= 0x40
        payload += _binary(password)
    body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + payload
    return packet(CONNECT, body)


def parse_connack(body: bytes) -> tuple[bool, int]:
    """(session present, return code) of a CONNACK body."""
    if len(body) != 2:
        raise ProtocolError("CONNACK body is not 2 bytes")
    return bool(body[0] & 0x01), body[1]


def build_connack(session_present: bool, code: int) -> bytes:
    return packet(CONNACK, bytes([1 if session_present else 0, code]))


def parse_publish(flags: int, body: bytes) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    reader = _Reader(body)
    topic = reader.string()
    _check_topic(topic)
    packet_id = reader.u16() if qos else None
    if packet_id == 0:
        raise ProtocolError("packet identifier 0")
    payload = reader.take(reader.remaining())
    return Publish(Message(topic, payload, qos, bool(flags & 0x01)), packet_id, bool(flags & 0x08))


def build_publish(message: Message, packet_id: int | None = None, dup: bool = False) -> bytes:
    flags = (message.qos << 1) | (0x01 if message.retain else 0) | (0x08 if dup else 0)
    body = _string(message.topic)
    if message.qos:
        if packet_id is None:
            raise ValueError("QoS 1 and 2 need a packet identifier")
        body += struct.pack("!H", packet_id)
    return packet(PUBLISH, body + message.payload, flags)


def parse_subscribe(body: bytes) -> tuple[int, list[tuple[str, int]]]:
    reader = _Reader(body)
    packet_id = reader.u16()
    requests: list[tuple[str, int]] = []
    while reader.remaining():
        topic_filter = reader.string()
        options = reader.u8()
        if options & 0xFC:
            raise ProtocolError("reserved SUBSCRIBE option bits set")
        requests.append((topic_filter, options & 0x03))
    if not requests:
        raise ProtocolError("SUBSCRIBE without a topic filter")
    return packet_id, requests


def build_subscribe(packet_id: int, requests: list[tuple[str, int]]) -> bytes:
    body = struct.pack("!H", packet_id) + b"".join(
        _string(topic_filter) + bytes([qos]) for topic_filter, qos in requests)
    return packet(SUBSCRIBE, body, 0x02)


def parse_unsubscribe(body: bytes) -> tuple[int, list[str]]:
    reader = _Reader(body)
    packet_id = reader.u16()
    filters: list[str] = []
    while reader.remaining():
        filters.append(reader.string())
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without a topic filter")
    return packet_id, filters


def parse_packet_id(body: bytes) -> int:
    if len(body) != 2:
        raise ProtocolError("acknowledgement body is not 2 bytes")
    value: int = struct.unpack("!H", body)[0]
    return value


def build_ack(kind: int, packet_id: int, flags: int = 0) -> bytes:
    return packet(kind, struct.pack("!H", packet_id), flags)


def _check_topic(topic: str) -> None:
    if not topic:
        raise ProtocolError("empty topic name")
    if "+" in topic or "#" in topic:
        raise ProtocolError(f"wildcard in topic name {topic!r}")


def valid_filter(topic_filter: str) -> bool:
    """A topic filter's wildcards stand alone in their level, and ``#`` only last."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching; filters starting with a wildcard do not match ``$`` topics."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level not in ("+", topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


async def read_packet(reader: asyncio.StreamReader, max_bytes: int) -> tuple[int, int, bytes]:
    """Reads one packet: (type, flags, body). Raises IncompleteReadError at end of stream."""
    first = (await reader.readexactly(1))[0]
    header = bytearray()
    while True:
        header += await reader.readexactly(1)
        if not header[-1] & 0x80 or len(header) == 4:
            break
    length, _ = decode_length(bytes(header))
    if length > max_bytes:
        raise ProtocolError(f"packet of {length} bytes is over the limit of {max_bytes}")
    body = await reader.readexactly(length) if length else b""
    return first >> 4, first & 0x0F, body


__all__ = [
    "ACCEPTED", "CONNACK_MEANINGS", "Connect", "Message", "ProtocolError", "Publish",
    "build_ack", "build_connack", "build_connect", "build_publish", "build_subscribe",
    "decode_length", "encode_length", "packet", "parse_connack", "parse_connect",
    "parse_packet_id", "parse_publish", "parse_subscribe", "parse_unsubscribe", "read_packet",
    "topic_matches", "valid_filter",
]
