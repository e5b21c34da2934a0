"""The embedded demo broker: messages per second and latency through it, on loopback.

One aiomqtt publisher, one aiomqtt subscriber, the broker in the same process (as in
``sensord demo``). Prints throughput and publish-to-receive latency p50/p99 for QoS 0 and 1,
and the same through the Mosquitto on 127.0.0.1:1883 for comparison when one is running.

Run: python bench/broker_throughput.py [MESSAGES]
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import struct
import sys
import time
from pathlib import Path

import aiomqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from sensord.broker import Broker

PAYLOAD_PAD = b"x" * 180  # about the size of a rep event's JSON


async def run(port: int, qos: int, count: int) -> tuple[float, float, float]:
    topic = f"bench/{qos}/{time.monotonic_ns()}"
    latencies_ms: list[float] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"sub-{topic}") as sub, \
            aiomqtt.Client("127.0.0.1", port, identifier=f"pub-{topic}",
                           max_queued_outgoing_messages=count) as pub:
        await sub.subscribe(topic, qos=qos)
        started = time.perf_counter()

        async def receive() -> None:
            async for message in sub.messages:
                assert isinstance(message.payload, bytes)
                (sent,) = struct.unpack("!d", message.payload[:8])
                latencies_ms.append((time.perf_counter() - sent) * 1000)
                if len(latencies_ms) == count:
                    return

        receiver = asyncio.create_task(receive())
        for _ in range(count):
            await pub.publish(topic, struct.pack("!d", time.perf_counter()) + PAYLOAD_PAD,
                              qos=qos)
        async with asyncio.timeout(120):
            await receiver
        elapsed_s = time.perf_counter() - started
    latencies_ms.sort()
    p99 = latencies_ms[int(0.99 * (len(latencies_ms) - 1))]
    return count / elapsed_s, statistics.median(latencies_ms), p99


def mosquitto_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        return False
    return True


async def main(count: int) -> None:
    async with Broker(port=0) as broker:
        for qos in (0, 1):
            rate, p50, p99 = await run(broker.port, qos, count)
            print(f"embedded broker  QoS {qos}: {rate:8.0f} msg/s  "
                  f"latency p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({count} messages)")
    if mosquitto_running():
        for qos in (0, 1):
            rate, p50, p99 = await run(1883, qos, count)
            print(f"mosquitto        QoS {qos}: {rate:8.0f} msg/s  "
                  f"latency p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({count} messages)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
