"""MQTT path figures on loopback: events/s through outbox -> broker -> subscriber, and the
latency from an event being stored to a subscriber receiving it (p50/p99).

Needs a broker (the one scripts/test starts on 127.0.0.1:1883, or --broker URL). Bounded: a few
thousand events, stops by itself. Run: python bench/bench_mqtt.py (from the project root)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import _path  # noqa: F401  (puts the project root on sys.path)
import aiomqtt

from sensord.config import Config, MqttConfig, StoreConfig
from sensord.daemon import mqtt_sink
from sensord.model import Event
from sensord.store import Store

REP = Event(type="rep", exercise="toe_press", t_start=1.0, t_end=7.0, hold_s=5.1,
            hold_target_s=5.0, short_hold=False)


class Subscriber:
    """Counts event messages and stamps their arrival by seq."""

    def __init__(self, host: str, port: int, topic: str, expected: int) -> None:
        self.host, self.port, self.topic = host, port, topic
        self.expected = expected
        self.arrivals: dict[int, float] = {}
        self.ready = asyncio.Event()
        self.complete = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client(self.host, self.port, max_queued_incoming_messages=0) as client:
            await client.subscribe(self.topic, qos=1)
            self.ready.set()
            async for message in client.messages:
                body = message.payload
                if isinstance(body, bytes):
                    # the seq without a full JSON parse: cheap enough not to be the bottleneck
                    start = body.index(b'"seq":') + 6
                    end = body.index(b",", start)
                    self.arrivals[int(body[start:end])] = time.perf_counter()
                    if len(self.arrivals) >= self.expected:
                        self.complete.set()


def config_for(url: str, store: Path) -> Config:
    tag = uuid.uuid4().hex[:8]
    return Config(mqtt=MqttConfig(url=url, base_topic=f"bench/{tag}", discovery="off"),
                  store=StoreConfig(path=str(store)))


async def throughput(
    url: str, events: int, directory: Path
) -> tuple[float, float, float]:
    """Fills the outbox while the broker is unknown, then times the drain to a subscriber."""
    config = config_for(url, directory / "throughput.db")
    parts = urlsplit(url)
    store = Store.open(directory / "throughput.db", max_rows=events * 2)
    started = time.perf_counter()
    for _ in range(events // 10):
        store.append("left", [REP] * 10)  # ten per transaction, like a block of reps
    append_rate = events / (time.perf_counter() - started)
    subscriber = Subscriber(parts.hostname or "127.0.0.1", parts.port or 1883,
                            f"{config.mqtt.base_topic}/left/event", events)
    listener = asyncio.create_task(subscriber.run())
    await asyncio.wait_for(subscriber.ready.wait(), 10)
    sink = mqtt_sink(config, store, wearables=["left"])
    started = time.perf_counter()
    run = asyncio.create_task(sink.run())
    if not await sink.drain(300):  # (polls every 50 ms: fine for a figure in seconds)
        raise SystemExit(f"no broker at {url}")
    acked = time.perf_counter() - started
    try:
        await asyncio.wait_for(subscriber.complete.wait(), 30)
    except TimeoutError:
        # Mosquitto drops QoS 1 messages for a subscriber with more than max_queued_messages
        # (1000) waiting: a slow subscriber, not a lost event (every one was acknowledged).
        print(f"(the subscriber received {len(subscriber.arrivals)} of {events}: the broker's "
              "queue for it overflowed)")
    received = max(subscriber.arrivals.values(), default=started) - started
    sink.stop()
    await asyncio.wait_for(run, 10)
    listener.cancel()
    store.close()
    return append_rate, events / acked, len(subscriber.arrivals) / received


async def latency(url: str, events: int, directory: Path, gap_s: float) -> list[float]:
    """Stores one event at a time while connected; stored -> received, in milliseconds."""
    config = config_for(url, directory / "latency.db")
    parts = urlsplit(url)
    store = Store.open(directory / "latency.db")
    subscriber = Subscriber(parts.hostname or "127.0.0.1", parts.port or 1883,
                            f"{config.mqtt.base_topic}/left/event", events)
    listener = asyncio.create_task(subscriber.run())
    await asyncio.wait_for(subscriber.ready.wait(), 10)
    sink = mqtt_sink(config, store, wearables=["left"])
    run = asyncio.create_task(sink.run())
    if not await sink.wait_connected(10):
        raise SystemExit(f"no broker at {url}")
    stored: dict[int, float] = {}
    for _ in range(events):
        (row,) = store.append("left", [REP])
        stored[row.seq] = time.perf_counter()
        sink.events_stored()
        await asyncio.sleep(gap_s)
    await asyncio.wait_for(subscriber.complete.wait(), 30)
    sink.stop()
    await asyncio.wait_for(run, 10)
    listener.cancel()
    store.close()
    return [(subscriber.arrivals[seq] - t) * 1e3 for seq, t in stored.items()]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--latency-events", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        append_rate, acked_rate, received_rate = await throughput(
            args.broker, args.events, directory)
        print(f"outbox append (SQLite, synchronous=FULL, 10 per transaction): "
              f"{append_rate:,.0f} events/s")
        print(f"outbox -> broker, PUBACK and marked delivered ({args.events} events backlog): "
              f"{acked_rate:,.0f} events/s")
        print(f"outbox -> broker -> subscriber (QoS 1): {received_rate:,.0f} events/s")
        millis = await latency(args.broker, args.latency_events, directory, gap_s=0.01)
        print(f"stored -> received latency over {len(millis)} events, one every 10 ms: "
              f"p50 {percentile(millis, 50):.2f} ms, p99 {percentile(millis, 99):.2f} ms, "
              f"max {max(millis):.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
