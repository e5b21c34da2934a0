"""The embedded demo broker, exercised by real aiomqtt clients and raw MQTT sockets."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

import aiomqtt
import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.broker import Broker
from sensord.mqttwire import (
    CONNACK,
    PINGREQ,
    PINGRESP,
    SUBACK,
    Message,
    ProtocolError,
    build_connect,
    build_publish,
    build_subscribe,
    decode_length,
    encode_length,
    packet,
    parse_connack,
    parse_connect,
    parse_publish,
    parse_subscribe,
    parse_unsubscribe,
    read_packet,
    topic_matches,
    valid_filter,
)

WAIT_S = 5.0


@pytest_asyncio.fixture
async def broker() -> AsyncIterator[Broker]:
    async with Broker(port=0) as running:
        yield running


def client(broker: Broker, name: str, **kwargs: object) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, identifier=name, **kwargs)  # type: ignore[arg-type]


async def next_messages(mqtt: aiomqtt.Client, count: int) -> list[aiomqtt.Message]:
    out: list[aiomqtt.Message] = []
    async with asyncio.timeout(WAIT_S):
        async for message in mqtt.messages:
            out.append(message)
            if len(out) == count:
                return out
    return out


async def nothing_arrives(mqtt: aiomqtt.Client, within_s: float = 0.3) -> bool:
    try:
        async with asyncio.timeout(within_s):
            async for _message in mqtt.messages:
                return False
    except TimeoutError:
        return True
    return True


class RawClient:
    """A bare MQTT connection, for what a library will not do (vanish, skip pings, misbehave)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, broker: Broker, connect: bytes | None = None) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        raw = cls(reader, writer)
        if connect is not None:
            writer.write(connect)
            kind, _flags, body = await raw.read()
            assert kind == CONNACK
            assert parse_connack(body) == (False, 0)
        return raw

    async def read(self) -> tuple[int, int, bytes]:
        async with asyncio.timeout(WAIT_S):
            return await read_packet(self.reader, 1 << 20)

    async def closed_by_peer(self) -> bool:
        async with asyncio.timeout(WAIT_S):
            closed = await self.reader.read(1) == b""
        self.writer.close()
        return closed

    def vanish(self) -> None:
        """Drops the TCP connection without DISCONNECT, as a crashed process would."""
        self.writer.transport.abort()
        self.writer.close()


@pytest.mark.asyncio
async def test_publish_subscribe_with_wildcards_and_qos(broker: Broker) -> None:
    async with client(broker, "sub") as sub, client(broker, "pub") as pub:
        await sub.subscribe("sensord/+/event", qos=1)
        await sub.subscribe("sensord/left/#", qos=0)
        await pub.publish("sensord/left/event", b"rep", qos=1)
        await pub.publish("sensord/right/event", b"set", qos=0)
        await pub.publish("sensord/left/status/battery", b"80", qos=1)
        await pub.publish("other/left/event", b"no", qos=1)
        got = await next_messages(sub, 3)
        assert [(str(m.topic), m.payload, m.qos) for m in got] == [
            ("sensord/left/event", b"rep", 1),  # both filters match: delivered once, best QoS
            ("sensord/right/event", b"set", 0),
            ("sensord/left/status/battery", b"80", 0),
        ]
        assert await nothing_arrives(sub)


@pytest.mark.asyncio
async def test_retained_messages_reach_later_subscribers(broker: Broker) -> None:
    async with client(broker, "pub") as pub:
        await pub.publish("sensord/bridge/availability", b"online", qos=1, retain=True)
        await pub.publish("sensord/gone", b"x", retain=True)
        await pub.publish("sensord/gone", b"", retain=True)  # clears it
    async with client(broker, "late") as late:
        await late.subscribe("sensord/#", qos=1)
        (message,) = await next_messages(late, 1)
        assert (str(message.topic), message.payload, message.retain) == (
            "sensord/bridge/availability", b"online", True)
        assert await nothing_arrives(late)
        async with client(broker, "pub2") as pub:
            await pub.publish("sensord/bridge/availability", b"offline", qos=1, retain=True)
        (live,) = await next_messages(late, 1)
        assert (live.payload, live.retain) == (b"offline", False)  # live delivery: retain 0


@pytest.mark.asyncio
async def test_unsubscribe_stops_delivery(broker: Broker) -> None:
    async with client(broker, "sub") as sub, client(broker, "pub") as pub:
        await sub.subscribe("t/#")
        await pub.publish("t/a", b"1")
        assert len(await next_messages(sub, 1)) == 1
        await sub.unsubscribe("t/#")
        await pub.publish("t/a", b"2")
        assert await nothing_arrives(sub)


@pytest.mark.asyncio
async def test_will_is_published_when_a_client_vanishes(broker: Broker) -> None:
    will = Message("sensord/bridge/availability", b"offline", qos=1, retain=True)
    async with client(broker, "watcher") as watcher:
        await watcher.subscribe("sensord/bridge/availability", qos=1)
        raw = await RawClient.connect(broker, build_connect("daemon", will=will))
        raw.vanish()
        (message,) = await next_messages(watcher, 1)
        assert message.payload == b"offline"
    async with client(broker, "late") as late:  # and it was retained
        await late.subscribe("sensord/bridge/availability")
        assert (await next_messages(late, 1))[0].retain


@pytest.mark.asyncio
async def test_no_will_after_a_clean_disconnect(broker: Broker) -> None:
    async with client(broker, "watcher") as watcher:
        await watcher.subscribe("will/#")
        async with client(broker, "polite", will=aiomqtt.Will("will/polite", b"gone")):
            pass
        assert await nothing_arrives(watcher, 0.5)


@pytest.mark.asyncio
async def test_keepalive_expiry_closes_and_sends_the_will(broker: Broker) -> None:
    async with client(broker, "watcher") as watcher:
        await watcher.subscribe("will/#")
        raw = await RawClient.connect(
            broker, build_connect("sleepy", keepalive_s=1, will=Message("will/sleepy", b"x")))
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await raw.closed_by_peer()
        assert 1.4 <= loop.time() - started < 3.0
        assert (await next_messages(watcher, 1))[0].payload == b"x"


@pytest.mark.asyncio
async def test_pings_keep_a_client_alive(broker: Broker) -> None:
    raw = await RawClient.connect(broker, build_connect("pinger", keepalive_s=1))
    for _ in range(3):
        await asyncio.sleep(0.6)
        raw.writer.write(packet(PINGREQ, b""))
        assert (await raw.read())[0] == PINGRESP
    assert "pinger" in broker.client_ids
    raw.vanish()


@pytest.mark.asyncio
async def test_same_client_id_takes_over(broker: Broker) -> None:
    first = await RawClient.connect(broker, build_connect("twin"))
    second = await RawClient.connect(broker, build_connect("twin"))
    assert await first.closed_by_peer()
    second.writer.write(build_subscribe(1, [("a/#", 1)]))
    kind, _flags, body = await second.read()
    assert (kind, body) == (SUBACK, b"\x00\x01\x01")
    second.vanish()


@pytest.mark.asyncio
async def test_invalid_filters_are_refused_in_suback(broker: Broker) -> None:
    raw = await RawClient.connect(broker, build_connect("subber"))
    raw.writer.write(build_subscribe(7, [("a/#/b", 0), ("ok/+", 2), ("x+/y", 1)]))
    kind, _flags, body = await raw.read()
    assert (kind, body) == (SUBACK, b"\x00\x07\x80\x01\x80")
    raw.vanish()


@pytest.mark.asyncio
async def test_protocol_violations_close_only_that_connection(broker: Broker) -> None:
    not_connect = await RawClient.connect(broker)
    not_connect.writer.write(build_publish(Message("a", b"b")))
    assert await not_connect.closed_by_peer()
    bad_topic = await RawClient.connect(broker, build_connect("bad"))
    bad_topic.writer.write(build_publish(Message("a/#", b"b")))
    assert await bad_topic.closed_by_peer()
    old_level = await RawClient.connect(broker)
    old_level.writer.write(build_connect("old").replace(b"MQTT\x04", b"MQTT\x05"))
    kind, _flags, body = await old_level.read()
    assert (kind, parse_connack(body)) == (CONNACK, (False, 1))
    assert await old_level.closed_by_peer()
    async with client(broker, "fine") as fine:  # the broker still serves others
        await fine.subscribe("a")


@pytest.mark.asyncio
async def test_qos2_publish_is_acknowledged_and_delivered_once(broker: Broker) -> None:
    async with client(broker, "sub") as sub, client(broker, "pub") as pub:
        await sub.subscribe("q2", qos=2)
        await pub.publish("q2", b"exactly", qos=2)
        got = await next_messages(sub, 1)
        assert (got[0].payload, got[0].qos) == (b"exactly", 1)
        assert await nothing_arrives(sub)


@pytest.mark.asyncio
async def test_stop_closes_clients_and_the_port() -> None:
    broker = Broker(port=0)
    port = await broker.start()
    raw = await RawClient.connect(broker, build_connect("c"))
    await broker.stop()
    assert await raw.closed_by_peer()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


# --- the codec -----------------------------------------------------------------------------------


@given(st.integers(0, 268_435_455))
def test_remaining_length_round_trips(value: int) -> None:
    encoded = encode_length(value)
    assert 1 <= len(encoded) <= 4
    assert decode_length(encoded + b"junk") == (value, len(encoded))


@settings(max_examples=500)
@given(st.binary(max_size=64), st.integers(0, 15))
def test_parsers_accept_any_bytes_or_raise_protocol_error(body: bytes, flags: int) -> None:
    for parse in (
        parse_connect, parse_subscribe, parse_unsubscribe, parse_connack,
        lambda b: parse_publish(flags, b), decode_length,
    ):
        with contextlib.suppress(ProtocolError):
            parse(body)


topic_level = st.sampled_from(["a", "b", "sensord", "$SYS", "", "x y"])
topics = st.lists(topic_level, min_size=1, max_size=4).map("/".join)
filters = st.lists(st.sampled_from(["a", "b", "sensord", "$SYS", "", "+"]), min_size=1,
                   max_size=4).flatmap(
    lambda levels: st.sampled_from(["/".join(levels), "/".join([*levels, "#"])])).filter(bool)


def _reference_match(topic_filter: str, topic: str) -> bool:
    if topic.startswith("$") and topic_filter[:1] in "+#":
        return False
    pattern = ""
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        sep = "/" if index else ""
        if level == "#":
            pattern = pattern + "(/.*)?" if index else ".*"
            break
        pattern += sep + ("[^/]*" if level == "+" else re.escape(level))
    return re.fullmatch(pattern, topic) is not None


@settings(max_examples=500)
@given(filters, topics)
def test_topic_matching_agrees_with_a_regex_reference(topic_filter: str, topic: str) -> None:
    assert valid_filter(topic_filter)
    assert topic_matches(topic_filter, topic) == _reference_match(topic_filter, topic)


@given(st.text(max_size=20), st.binary(max_size=40), st.integers(0, 2), st.booleans())
def test_publish_round_trips(topic: str, payload: bytes, qos: int, retain: bool) -> None:
    message = Message(topic or "t", payload, qos, retain)
    data = build_publish(message, 9 if qos else None)
    length, offset = decode_length(data, 1)
    try:
        parsed = parse_publish(data[0] & 0x0F, data[offset:])
    except ProtocolError:
        assert "+" in message.topic or "#" in message.topic or "\0" in message.topic
        return
    assert parsed.message == message
    assert length == len(data) - offset
