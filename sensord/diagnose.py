"""``sensord diagnose``: the facts a bug report needs, with MAC addresses anonymised.

Versions (sensord, Python, bleak, bumble, aiomqtt, numpy, BlueZ, the kernel), the Bluetooth
adapters (BlueZ over D-Bus, the kernel's list, and any bumble transports in the config), the
broker (a real MQTT CONNECT, so a wrong password or TLS problem shows up as such), and a summary
of the config. Every probe has a timeout and reports its failure as a line instead of raising:
a diagnosis is most needed when things are broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import os
import platform
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from sensord import __version__
from sensord.config import Config, MqttConfig, mqtt_password
from sensord.errors import ConfigError
from sensord.mqttwire import (
    CONNACK,
    CONNACK_MEANINGS,
    DISCONNECT,
    ProtocolError,
    build_connect,
    packet,
    parse_connack,
)

log = logging.getLogger(__name__)

# No word boundaries: over-masking a hex string is harmless, a missed address is not.
_MAC_RE: Final = re.compile(r"(?:[0-9A-Fa-f]{2}[:-]){5}([0-9A-Fa-f]{2})")
_PROBE_TIMEOUT_S: Final = 5.0
_PACKAGES: Final = ("bleak", "bumble", "aiomqtt", "numpy", "typer", "rich")
_BLUEZ_TOOLS: Final = (
    ("bluetoothctl", "--version"), ("/usr/libexec/bluetooth/bluetoothd", "--version"),
    ("/usr/lib/bluetooth/bluetoothd", "--version"),
)


def anonymise(text: str) -> str:
    """Masks every MAC address but its last byte: ``XX:XX:XX:XX:XX:F5`` (enough to tell two
    wearables apart in one report, not enough to find them)."""
    return _MAC_RE.sub(lambda m: "XX:XX:XX:XX:XX:" + m.group(1).upper(), text)


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: a topic, whether it is healthy (None: informational), details."""

    topic: str
    ok: bool | None
    detail: str

    def line(self) -> str:
        mark = {True: "ok", False: "PROBLEM", None: "-"}[self.ok]
        return f"{self.topic:<10} {mark:<8} {self.detail}"


def versions() -> list[Finding]:
    """sensord, Python, the key packages, BlueZ and the kernel."""
    out = [
        Finding("sensord", None, __version__),
        Finding("python", None,
                f"{platform.python_version()} ({platform.python_implementation()})"),
    ]
    for name in _PACKAGES:
        try:
            out.append(Finding(name, None, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append(Finding(name, False, "not installed"))
    out.append(Finding("bluez", None, bluez_version() or "not found (needed for hciN adapters)"))
    out.append(Finding("kernel", None, f"{platform.system()} {platform.release()}"))
    return out


def bluez_version() -> str | None:
    for tool, flag in _BLUEZ_TOOLS:
        path = shutil.which(tool) if "/" not in tool else (tool if Path(tool).exists() else None)
        if path is None:
            continue
        try:
            result = subprocess.run(  # noqa: S603 (fixed argv)
                [path, flag], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (result.stdout or result.stderr).strip()
        match = re.search(r"\d+\.\d+", text)
        if match:
            return match.group(0)
    return None


async def bluez_adapters(timeout_s: float = _PROBE_TIMEOUT_S) -> list[Finding]:
    """Adapters BlueZ knows (address, powered), asked over the system D-Bus."""
    try:
        from dbus_fast import BusType, Message, MessageType  # noqa: PLC0415 (Linux only)
        from dbus_fast.aio import MessageBus  # noqa: PLC0415
    except ImportError:
        return [Finding("adapters", None, "BlueZ: not on this platform (no dbus-fast)")]
    try:
        async with asyncio.timeout(timeout_s):
            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
            try:
                reply = await bus.call(Message(
                    destination="org.bluez", path="/",
                    interface="org.freedesktop.DBus.ObjectManager", member="GetManagedObjects",
                ))
            finally:
                bus.disconnect()
    except (OSError, TimeoutError, ValueError) as exc:
        return [Finding("adapters", False, f"BlueZ: system D-Bus not reachable ({exc})")]
    if reply is None or reply.message_type == MessageType.ERROR:
        reason = reply.error_name if reply is not None else "no reply"
        return [Finding("adapters", False, f"BlueZ: not running ({reason})")]
    found: list[Finding] = []
    for path, interfaces in sorted(reply.body[0].items()):
        props = interfaces.get("org.bluez.Adapter1")
        if props is None:
            continue
        address = props["Address"].value if "Address" in props else "?"
        powered = bool(props["Powered"].value) if "Powered" in props else False
        found.append(Finding(
            "adapters", powered,
            f"{path.rsplit('/', 1)[-1]} {address} ({'powered' if powered else 'powered off'})",
        ))
    return found or [Finding("adapters", False, "BlueZ runs but has no adapter")]


def kernel_adapters(sysfs: Path = Path("/sys/class/bluetooth")) -> Finding:
    names = sorted(p.name for p in sysfs.iterdir() if ":" not in p.name) if sysfs.is_dir() else []
    return Finding("adapters", None, f"kernel: {', '.join(names) if names else 'none'}")


async def bumble_adapters(config: Config) -> list[Finding]:
    """bumble ``tcp-client`` transports named in the config: is anything listening?"""
    adapters = {config.ble.adapter, *(w.adapter for w in config.wearables if w.adapter)}
    out: list[Finding] = []
    for adapter in sorted(a for a in adapters if a.startswith("bumble:")):
        parts = adapter.split(":")
        if len(parts) == 4 and parts[1] == "tcp-client" and parts[3].isdigit():
            reachable = await _tcp_reachable(parts[2], int(parts[3]))
            out.append(Finding("adapters", reachable,
                               f"{adapter}: {'listening' if reachable else 'nothing listening'}"))
        else:
            out.append(Finding("adapters", None, f"{adapter}: not probed"))
    return out


async def _tcp_reachable(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


def _tls_context(mqtt: MqttConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=mqtt.tls_ca_file)
    if mqtt.tls_cert_file:
        context.load_cert_chain(mqtt.tls_cert_file, mqtt.tls_key_file)
    if mqtt.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def probe_broker(
    mqtt: MqttConfig, url: str | None = None, *, env: Mapping[str, str] | None = None,
    timeout_s: float = _PROBE_TIMEOUT_S,
) -> Finding:
    """Connects, logs in with the configured credentials and disconnects: one MQTT round trip."""
    target = urlsplit(url or mqtt.url)
    host = target.hostname or "127.0.0.1"
    secure = target.scheme == "mqtts"
    port = target.port or (8883 if secure else 1883)
    where = f"{target.scheme}://{host}:{port}"
    username = target.username or mqtt.username
    try:
        password = mqtt_password(mqtt, env)
        context = _tls_context(mqtt) if secure else None
    except (ConfigError, OSError, ssl.SSLError) as exc:
        return Finding("broker", False, f"{where}: {exc}")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if secure else None)
            try:
                writer.write(build_connect(
                    f"sensord-diagnose-{os.getpid()}", keepalive_s=10, username=username,
                    password=password.encode() if password is not None else None,
                ))
                first = await reader.readexactly(1)
                if first[0] != CONNACK << 4:
                    raise ProtocolError(f"answered {first!r}, not a CONNACK")
                length = await reader.readexactly(1)
                _present, code = parse_connack(await reader.readexactly(length[0]))
                if code == 0:
                    writer.write(packet(DISCONNECT, b""))
                    await writer.drain()
            finally:
                writer.close()
                # The broker may drop us first; the answer is already in hand.
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()
    except TimeoutError:
        return Finding("broker", False, f"{where}: no answer within {timeout_s:g} s")
    except ssl.SSLError as exc:
        return Finding("broker", False, f"{where}: TLS failed ({exc.reason or exc})")
    except asyncio.IncompleteReadError:
        return Finding("broker", False, f"{where}: connection closed before CONNACK")
    except OSError as exc:
        return Finding("broker", False, f"{where}: unreachable ({_os_reason(exc)})")
    except ProtocolError as exc:
        return Finding("broker", False, f"{where}: not an MQTT broker? ({exc})")
    elapsed_ms = (time.perf_counter() - started) * 1000
    login = f" as {username}" if username else " anonymously"
    meaning = CONNACK_MEANINGS.get(code, f"return code {code}")
    if code != 0:
        return Finding("broker", False, f"{where}: refused{login}: {meaning}")
    return Finding("broker", True, f"{where}: MQTT 3.1.1 connect accepted{login} "
                                   f"({elapsed_ms:.0f} ms)")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or str(exc)


async def collect(config: Config, broker_url: str | None = None) -> list[Finding]:
    """Every finding, in report order."""
    findings = versions()
    findings += await bluez_adapters()
    findings.append(kernel_adapters())
    findings += await bumble_adapters(config)
    findings.append(await probe_broker(config.mqtt, broker_url))
    return findings


__all__ = [
    "Finding", "anonymise", "bluez_adapters", "bluez_version", "bumble_adapters", "collect",
    "kernel_adapters", "probe_broker", "versions",
]
