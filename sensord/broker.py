"""A small MQTT 3.1.1 broker in pure asyncio, so ``sensord demo`` runs on a machine without one.

It implements what the daemon, the status view and Home Assistant-style clients use: CONNECT /
CONNACK (clean sessions only: nothing is kept across connections), PUBLISH at QoS 0 and 1 with
PUBACK (QoS 2 from a publisher is acknowledged with the PUBREC/PUBREL/PUBCOMP handshake and
delivered at QoS 1 at most), SUBSCRIBE / UNSUBSCRIBE with ``+`` and ``#`` wildcards, retained
messages, the last will, PINGREQ and keepalive. No authentication: it listens on loopback.
Malformed input closes that connection (sensord.mqttwire raises ProtocolError), never the broker.
The project's tests use a real Mosquitto; this broker exists only so the demo runs anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
from dataclasses import dataclass, field

from sensord.errors import SensordError
from sensord.mqttwire import (
    ACCEPTED,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    REFUSED_IDENTIFIER,
    REFUSED_PROTOCOL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    Message,
    ProtocolError,
    build_ack,
    build_connack,
    build_publish,
    packet,
    parse_connect,
    parse_packet_id,
    parse_publish,
    parse_subscribe,
    parse_unsubscribe,
    read_packet,
    topic_matches,
    valid_filter,
)

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Client:
    client_id: str
    writer: asyncio.StreamWriter
    will: Message | None
    keepalive_s: int = 0
    subscriptions: dict[str, int] = field(default_factory=dict)
    packet_ids: itertools.cycle[int] = field(default_factory=lambda: itertools.cycle(
        range(1, 0x10000)))
    inflight: set[int] = field(default_factory=set)
    qos2_received: set[int] = field(default_factory=set)
    closed: bool = False

    def send(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)


class Broker:
    """An MQTT 3.1.1 broker on ``host:port`` (port 0 picks a free one; see ``port``).

    ``async with Broker() as broker:`` starts it and stops it (closing every connection).
    ``max_write_buffer_bytes`` bounds what a slow subscriber may have queued before it is
    disconnected, so one stuck client cannot grow the broker's memory without limit.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 1883, *, max_packet_bytes: int = 16 << 20,
        connect_timeout_s: float = 10.0, max_write_buffer_bytes: int = 8 << 20,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.max_packet_bytes = max_packet_bytes
        self.connect_timeout_s = connect_timeout_s
        self.max_write_buffer_bytes = max_write_buffer_bytes
        self._server: asyncio.Server | None = None
        self._clients: dict[str, _Client] = {}
        self._retained: dict[str, Message] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._anonymous = itertools.count(1)
        self.messages_routed = 0

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the broker is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def client_ids(self) -> list[str]:
        return sorted(self._clients)

    async def start(self) -> int:
        """Starts listening; returns the port."""
        try:
            self._server = await asyncio.start_server(
                self._accept, self.host, self._requested_port)
        except OSError as exc:
            raise SensordError(
                f"cannot listen on {self.host}:{self._requested_port} ({exc.strerror})"
            ) from exc
        log.info("MQTT broker listening on %s", self.url)
        return self.port

    async def stop(self) -> None:
        """Stops listening and closes every connection (their wills are not sent)."""
        if self._server is not None:
            self._server.close()
        for client in list(self._clients.values()):
            client.will = None
            client.closed = True
            client.writer.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(
            self._serve(reader, writer), name="mqtt-broker-connection")
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client: _Client | None = None
        clean = False
        try:
            client = await self._handshake(reader, writer)
            if client is not None:
                clean = await self._session(client, reader)
        except ProtocolError as exc:
            log.info("closing MQTT connection from %s: %s", peer, exc)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            log.debug("MQTT connection from %s ended: %r", peer, exc)
        finally:
            if client is not None:
                self._drop(client, clean)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Client | None:
        async with asyncio.timeout(self.connect_timeout_s):
            kind, _flags, body = await read_packet(reader, self.max_packet_bytes)
        if kind != CONNECT:
            raise ProtocolError(f"first packet is type {kind}, not CONNECT")
        connect = parse_connect(body)
        if (connect.protocol, connect.level) not in (("MQTT", 4), ("MQIsdp", 3)):
            writer.write(build_connack(False, REFUSED_PROTOCOL))
            return None
        client_id = connect.client_id
        if not client_id:
            if not connect.clean_session:
                writer.write(build_connack(False, REFUSED_IDENTIFIER))
                return None
            client_id = f"sensord-auto-{next(self._anonymous)}"
        previous = self._clients.get(client_id)
        if previous is not None:
            log.info("MQTT client %s connected again: closing its old connection", client_id)
            self._drop(previous, clean=False)
            previous.writer.close()
        client = _Client(client_id, writer, connect.will, connect.keepalive_s)
        self._clients[client_id] = client
        writer.write(build_connack(False, ACCEPTED))
        log.debug("MQTT client %s connected", client_id)
        return client

    async def _session(self, client: _Client, reader: asyncio.StreamReader) -> bool:
        """Serves one connection; True when it ended with DISCONNECT."""
        keepalive_s = client.keepalive_s
        limit_s = keepalive_s * 1.5 if keepalive_s else None
        while not client.closed:
            try:
                async with asyncio.timeout(limit_s):
                    kind, flags, body = await read_packet(reader, self.max_packet_bytes)
            except TimeoutError:
                log.info("MQTT client %s missed its keepalive (%d s)", client.client_id,
                         keepalive_s)
                return False
            if kind == DISCONNECT:
                return True
            self._handle(client, kind, flags, body)
        return False

    def _handle(self, client: _Client, kind: int, flags: int, body: bytes) -> None:
        if kind == PUBLISH:
            publish = parse_publish(flags, body)
            if publish.message.qos == 2:
                assert publish.packet_id is not None
                if publish.packet_id not in client.qos2_received:
                    client.qos2_received.add(publish.packet_id)
                    self.route(publish.message)
                client.send(build_ack(PUBREC, publish.packet_id))
                return
            self.route(publish.message)
            if publish.packet_id is not None:
                client.send(build_ack(PUBACK, publish.packet_id))
        elif kind == PUBREL:
            packet_id = parse_packet_id(body)
            client.qos2_received.discard(packet_id)
            client.send(build_ack(PUBCOMP, packet_id))
        elif kind == PUBACK:
            client.inflight.discard(parse_packet_id(body))
        elif kind in (PUBREC, PUBCOMP):
            parse_packet_id(body)  # we never send QoS 2: nothing to track
        elif kind == SUBSCRIBE:
            if flags != 0x02:
                raise ProtocolError("SUBSCRIBE with wrong fixed-header flags")
            self._subscribe(client, body)
        elif kind == UNSUBSCRIBE:
            if flags != 0x02:
                raise ProtocolError("UNSUBSCRIBE with wrong fixed-header flags")
            packet_id, filters = parse_unsubscribe(body)
            for topic_filter in filters:
                client.subscriptions.pop(topic_filter, None)
            client.send(build_ack(UNSUBACK, packet_id))
        elif kind == PINGREQ:
            client.send(packet(PINGRESP, b""))
        else:
            raise ProtocolError(f"unexpected packet type {kind}")

    def _subscribe(self, client: _Client, body: bytes) -> None:
        packet_id, requests = parse_subscribe(body)
        codes: list[int] = []
        granted: list[tuple[str, int]] = []
        for topic_filter, requested in requests:
            if requested > 2:
                raise ProtocolError("SUBSCRIBE with QoS 3")
            if not valid_filter(topic_filter):
                codes.append(0x80)
                continue
            qos = min(requested, 1)
            client.subscriptions[topic_filter] = qos
            codes.append(qos)
            granted.append((topic_filter, qos))
        client.send(packet(SUBACK, struct.pack("!H", packet_id) + bytes(codes)))
        for topic_filter, qos in granted:
            for message in list(self._retained.values()):
                if topic_matches(topic_filter, message.topic):
                    self._deliver(client, message, min(qos, message.qos), retain=True)

    def route(self, message: Message) -> None:
        """Stores a retained message and delivers to every matching subscriber."""
        self.messages_routed += 1
        if message.retain:
            if message.payload:
                self._retained[message.topic] = Message(
                    message.topic, message.payload, min(message.qos, 1), True)
            else:
                self._retained.pop(message.topic, None)
        for client in list(self._clients.values()):
            best = -1
            for topic_filter, qos in client.subscriptions.items():
                if qos > best and topic_matches(topic_filter, message.topic):
                    best = qos
            if best >= 0:
                self._deliver(client, message, min(best, message.qos), retain=False)

    def _deliver(self, client: _Client, message: Message, qos: int, *, retain: bool) -> None:
        packet_id = None
        if qos:
            packet_id = next(client.packet_ids)
            client.inflight.add(packet_id)
        client.send(build_publish(
            Message(message.topic, message.payload, qos, retain), packet_id))
        transport = client.writer.transport
        if transport.get_write_buffer_size() > self.max_write_buffer_bytes:
            log.warning("MQTT client %s is not reading: disconnecting it", client.client_id)
            client.closed = True
            transport.abort()

    def _drop(self, client: _Client, clean: bool) -> None:
        if self._clients.get(client.client_id) is client:
            del self._clients[client.client_id]
        client.closed = True
        will, client.will = client.will, None
        if will is not None and not clean:
            log.debug("publishing the will of MQTT client %s", client.client_id)
            self.route(will)


__all__ = ["Broker"]
