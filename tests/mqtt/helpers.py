"""Test helpers for the MQTT area: a recording subscriber, private brokers, scripted pipelines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from sensord.model import ActivityState, Event, ImuBlock

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    at: float

    def json(self) -> Any:
        return json.loads(self.payload)


class Collector:
    """Subscribes over MQTT 5 with "retain as published" and QoS 2, so every message keeps the
    QoS and retain flag it was published with, and records them all. With ``persistent`` the
    session (and the messages queued for it) survives disconnects and broker restarts."""

    def __init__(
        self, port: int, topics: list[str], *, host: str = "127.0.0.1",
        client_id: str | None = None, persistent: bool = False,
        username: str | None = None, password: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.topics = topics
        self.client_id = client_id
        self.persistent = persistent
        self.username = username
        self.password = password
        self.tls = tls
        self.messages: list[Received] = []
        self.connections = 0
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(10):
            await self._subscribed.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            properties = None
            if self.persistent:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = 600
            client = aiomqtt.Client(
                self.host, self.port, identifier=self.client_id,
                protocol=aiomqtt.ProtocolVersion.V5, clean_start=not self.persistent,
                properties=properties, username=self.username, password=self.password,
                tls_context=self.tls, timeout=5,
            )
            try:
                async with client:
                    self.connections += 1
                    for topic in self.topics:
                        await client.subscribe(
                            topic, options=SubscribeOptions(qos=2, retainAsPublished=True)
                        )
                    self._subscribed.set()
                    async for message in client.messages:
                        body = message.payload if isinstance(message.payload, bytes) else b""
                        self.messages.append(Received(
                            str(message.topic), body, message.qos, bool(message.retain),
                            time.monotonic(),
                        ))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    def json_on(self, topic: str) -> list[Any]:
        return [m.json() for m in self.on(topic) if m.payload]

    async def wait_for(
        self, predicate: Callable[[Collector], bool], timeout_s: float, what: str = "messages"
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self):
            if time.monotonic() > deadline:
                seen = sorted({m.topic for m in self.messages})
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; "
                                     f"topics seen: {seen}")
            await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class PrivateBroker:
    """A Mosquitto of the test's own on a spare port, configured in ``directory``; stoppable and
    restartable (with persistence, so a persistent subscriber keeps its queued messages)."""

    def __init__(self, directory: Path, extra: str = "", *, anonymous: bool = True) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'true' if anonymous else 'false'}",
            "persistence true",
            f"persistence_location {directory}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            extra,
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # so it can read the test's files after starting
        self.config = directory / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        self.log = directory / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.config)], stdout=log, stderr=log
            )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start listening within 10 s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


class ScriptedPipeline:
    """A pipeline stand-in (our own seam, not a third-party mock) that emits one ``rep`` of
    ``plantar_flexion`` every ``every_s`` seconds of sample clock, with the activity state
    following along; the real pipeline does not produce events yet."""

    def __init__(self, every_s: float = 0.5, hold_s: float = 5.1) -> None:
        self.every_s = every_s
        self.hold_s = hold_s
        self._next_t: float | None = None
        self._count = 0
        self._state = ActivityState()

    def feed(self, block: ImuBlock) -> list[Event]:
        if len(block) == 0:
            return []
        if self._next_t is None:
            self._next_t = float(block.t_s[0]) + self.every_s
        out = []
        last = float(block.t_s[-1])
        while self._next_t <= last:
            self._count += 1
            out.append(Event(
                type="rep", exercise="plantar_flexion", t_start=self._next_t - 0.4,
                t_end=self._next_t, hold_s=self.hold_s, hold_target_s=5.0, short_hold=False,
            ))
            self._next_t += self.every_s
        self._state = ActivityState(
            t_s=last, exercise="plantar_flexion", reps=self._count % 10, target=10,
            hold_s=round(last % 1.0, 2), still=False,
        )
        return out

    def finish(self) -> list[Event]:
        if self._count == 0:
            return []
        return [Event(type="set", exercise="plantar_flexion", t_start=0.0,
                      t_end=self._state.t_s, reps=self._count, target=10)]

    @property
    def state(self) -> ActivityState:
        return self._state


def synthetic_block(duration_s: float, rate_hz: float = 50.0) -> ImuBlock:
    """A still foot (gravity on +z), ``duration_s`` long."""
    n = int(duration_s * rate_hz)
    t = np.arange(n) / rate_hz
    acc = np.tile([0.0, 0.0, 9.81], (n, 1))
    gyro = np.zeros((n, 3))
    return ImuBlock.from_arrays(t, acc, gyro)


def schema(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return value
