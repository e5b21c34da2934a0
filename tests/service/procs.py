"""Helpers for the daemon's process tests: `sensord wearable` and `sensord run` as real
processes over the bumble TCP transport, a config written per test, the store read back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.ble.support import wearable_adapter

ROOT = Path(__file__).resolve().parents[2]
SENSORD = [sys.executable, "-m", "sensord"]
START_S = 30.0


def env(**extra: str) -> dict[str, str]:
    """The environment for a child: this tree's code, no stray SENSORD_* or systemd variables."""
    out = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("SENSORD_", "NOTIFY_SOCKET", "WATCHDOG_", "JOURNAL_STREAM"))
    }
    out["PYTHONPATH"] = str(ROOT)
    out.update(extra)
    return out


@dataclass
class Wearable:
    """A running `sensord wearable` process and the adapter that reaches it."""

    process: subprocess.Popen[str]
    adapter: str
    name: str

    def pause(self) -> None:
        """The wearable vanishes: the process stops (no radio, no samples)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def wearable(name: str, *, side: str, motion: str = "routine", speed: float = 10.0,
             extra: Sequence[str] = ()) -> Iterator[Wearable]:
    """`sensord wearable --name NAME --motion MOTION --side SIDE --speed X` on a free port."""
    process = subprocess.Popen(
        [*SENSORD, "wearable", "--listen", "tcp-server:127.0.0.1:0", "--name", name,
         "--motion", motion, "--side", side, "--speed", str(speed), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env(),
    )
    try:
        adapter = wearable_adapter(process, START_S)
        if adapter is None:
            process.kill()
            _, err = process.communicate(timeout=5)
            raise AssertionError(f"sensord wearable did not start: {err[-2000:]}")
        yield Wearable(process, adapter, name)
    finally:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=5)


def write_config(
    path: Path, *, broker_url: str, base: str, prefix: str, wearables: Sequence[Wearable],
    store: Path, sides: Sequence[str], extra: str = "", stale_after_s: float = 2.0,
) -> Path:
    """A config for `sensord run`: one [[wearable]] per virtual wearable (each on its own
    adapter), fast MQTT and BLE timings for tests."""
    lines = [
        "[mqtt]", f'url = "{broker_url}"', f'base_topic = "{base}"',
        f'discovery_prefix = "{prefix}"', "status_interval_s = 1.0", "reconnect_min_s = 0.2",
        "reconnect_max_s = 1.0", "",
        "[ble]", "scan_timeout_s = 3.0", f"stale_after_s = {stale_after_s}", "",
        "[store]", f'path = "{store}"', "",
        "[logging]", 'level = "info"', "",
    ]
    for worn, side in zip(wearables, sides, strict=True):
        lines += [
            "[[wearable]]", f'name = "{worn.name}"', f'side = "{side}"',
            f'adapter = "{worn.adapter}"', "",
        ]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def unique_space() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"test/{tag}/sensord", f"ha{tag}"


@contextmanager
def daemon(config: Path, *, speed: float, extra_env: dict[str, str] | None = None,
           log: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """`sensord run --config C --speed X`; stopped with SIGTERM (then killed) on exit."""
    log = log or config.with_suffix(".log")
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*SENSORD, "run", "--config", str(config), "--speed", str(speed)],
            stdout=sink, stderr=sink, text=True, cwd=ROOT, env=env(**(extra_env or {})),
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@contextmanager
def left_foot(config: Path, motion: Path, *, broker_url: str, base: str, prefix: str,
              store: Path, speed: float, extra: str = "", stale_after_s: float = 2.0,
              extra_env: dict[str, str] | None = None,
              ) -> Iterator[tuple[Wearable, subprocess.Popen[str]]]:
    """One virtual left foot performing ``motion`` and `sensord run` connected to it: the
    set-up of the fault tests. Yields the wearable and the daemon; ``config`` is written."""
    with wearable("left", side="left", motion=str(motion), speed=speed) as worn:
        write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                     wearables=(worn,), store=store, sides=("left",), extra=extra,
                     stale_after_s=stale_after_s)
        with daemon(config, speed=speed, extra_env=extra_env) as process:
            yield worn, process


@contextmanager
def two_feet(config: Path, left_motion: Path, right_motion: Path, *, broker_url: str,
             base: str, prefix: str, store: Path, speed: float,
             sides: tuple[str, str] = ("left", "right"),
             extra_env: dict[str, str] | None = None,
             ) -> Iterator[tuple[Wearable, Wearable, subprocess.Popen[str]]]:
    """A virtual left and right foot performing their motions and `sensord run` connected to
    both (configured with ``sides``). Yields the two wearables and the daemon."""
    with (
        wearable("left", side="left", motion=str(left_motion), speed=speed) as left,
        wearable("right", side="right", motion=str(right_motion), speed=speed) as right,
    ):
        write_config(config, broker_url=broker_url, base=base, prefix=prefix,
                     wearables=(left, right), store=store, sides=sides)
        with daemon(config, speed=speed, extra_env=extra_env) as process:
            yield left, right, process


def stored_events(store: Path) -> list[dict[str, Any]]:
    """Every event row of the outbox, in order, with its delivery state."""
    with sqlite3.connect(store) as db:
        rows = db.execute(
            "SELECT payload, delivered_s IS NOT NULL FROM outbox_events ORDER BY id"
        ).fetchall()
    return [{**json.loads(payload), "_delivered": bool(done)} for payload, done in rows]


def received_events(messages: Any, base: str, ident: str) -> list[dict[str, Any]]:
    """Events seen on the broker for one wearable, de-duplicated on seq, in seq order."""
    seen: dict[int, dict[str, Any]] = {}
    for event in messages.json_on(f"{base}/{ident}/event"):
        seen.setdefault(int(event["seq"]), event)
    return [seen[k] for k in sorted(seen)]


class NotifySocket:
    """A datagram socket where systemd would listen; records what arrives, stamped on arrival
    (a reader on the test's event loop)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.received: list[tuple[float, str]] = []
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            self.received.append((time.monotonic(), data.decode()))

    def fields(self, since: float = 0.0, until: float = float("inf")) -> list[str]:
        return [line for at, text in self.received if since <= at <= until
                for line in text.splitlines()]

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()
