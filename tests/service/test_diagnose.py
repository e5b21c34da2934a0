"""``sensord diagnose``: real broker probes (Mosquitto, the demo broker, a password-protected
Mosquitto on a spare port), anonymised output, and the repeated-error log filter."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from sensord.broker import Broker
from sensord.config import MqttConfig, parse_config
from sensord.diagnose import anonymise, bumble_adapters, kernel_adapters, probe_broker, versions
from sensord.logfilter import RepeatFilter

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def protected_broker(tmp_path: Path) -> Iterator[str]:
    """A second Mosquitto on a spare port that wants user ``u`` with password ``right``."""
    if not (shutil.which("mosquitto") and shutil.which("mosquitto_passwd")):
        pytest.skip("mosquitto is not installed")
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "u", "right"],
                   check=True, timeout=30, capture_output=True)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    as_root = "user root\n" if os.geteuid() == 0 else ""  # else it drops to a user that
    conf.write_text(f"{as_root}listener {port} 127.0.0.1\nallow_anonymous false\n"  # cannot
                    f"password_file {passwords}\n")  # read the test's private directory
    process = subprocess.Popen(["mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the password-protected mosquitto did not start")
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest_asyncio.fixture
async def demo_broker() -> AsyncIterator[Broker]:
    async with Broker(port=0) as broker:
        yield broker


@pytest.mark.asyncio
async def test_probe_accepts_the_real_mosquitto(broker_url: str) -> None:
    finding = await probe_broker(MqttConfig(url=broker_url), env={})
    assert finding.ok is True
    assert "MQTT 3.1.1 connect accepted anonymously" in finding.detail


@pytest.mark.asyncio
async def test_probe_accepts_the_demo_broker(demo_broker: Broker) -> None:
    finding = await probe_broker(MqttConfig(url=demo_broker.url), env={})
    assert finding.ok is True
    await asyncio.sleep(0.05)
    assert demo_broker.client_ids == []  # it said DISCONNECT and left


@pytest.mark.asyncio
async def test_probe_reports_wrong_and_right_credentials(
    protected_broker: str, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("wrong\n")
    mqtt = MqttConfig(url=protected_broker, username="u", password_file=str(secret))
    refused = await probe_broker(mqtt, env={})
    assert refused.ok is False
    assert "refused as u: not authorized" in refused.detail
    assert "wrong" not in refused.detail
    accepted = await probe_broker(mqtt, env={"SENSORD_MQTT_PASSWORD": "right"})
    assert accepted.ok is True
    assert "accepted as u" in accepted.detail


@pytest.mark.asyncio
async def test_probe_reports_nothing_listening() -> None:
    finding = await probe_broker(MqttConfig(url=f"mqtt://127.0.0.1:{free_port()}"), env={})
    assert finding.ok is False
    assert "unreachable (connection refused)" in finding.detail


@pytest.mark.asyncio
async def test_probe_reports_a_server_that_is_not_mqtt() -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        writer.write(b"SSH-2.0-OpenSSH\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        finding = await probe_broker(MqttConfig(url=f"mqtt://127.0.0.1:{port}"), env={})
    assert finding.ok is False
    assert "not an MQTT broker? (answered b'S', not a CONNACK)" in finding.detail


@pytest.mark.asyncio
async def test_probe_times_out_on_a_silent_server() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # reads our CONNECT, answers nothing, waits for us to hang up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        finding = await probe_broker(
            MqttConfig(url=f"mqtt://127.0.0.1:{port}"), env={}, timeout_s=0.3)
        server.close()
    assert finding.ok is False
    assert "no answer within 0.3 s" in finding.detail


@pytest.mark.asyncio
async def test_bumble_transports_are_probed(demo_broker: Broker) -> None:
    config = parse_config(
        f'[ble]\nadapter = "bumble:tcp-client:127.0.0.1:{demo_broker.port}"\n'
        f'[[wearable]]\nname = "x"\nadapter = "bumble:tcp-client:127.0.0.1:{free_port()}"\n'
        '[[wearable]]\nname = "y"\nadapter = "bumble:usb:0"\n',
        env={},
    )
    states = {(f.ok, f.detail.rsplit(": ", 1)[1]) for f in await bumble_adapters(config)}
    assert states == {(False, "nothing listening"), (None, "not probed"), (True, "listening")}


def test_versions_and_kernel_adapters(tmp_path: Path) -> None:
    found = {f.topic: f for f in versions()}
    assert found["sensord"].detail == "0.1.0"
    assert re.fullmatch(r"3\.\d+\.\d+ \(\w+\)", found["python"].detail)
    assert found["bleak"].ok is None
    (tmp_path / "hci0").mkdir()
    (tmp_path / "hci0:12").mkdir()  # connection entries are not adapters
    assert kernel_adapters(tmp_path).detail == "kernel: hci0"
    assert kernel_adapters(tmp_path / "absent").detail == "kernel: none"


@given(st.lists(st.integers(0, 255), min_size=6, max_size=6), st.sampled_from([":", "-"]),
       st.text(alphabet=" ,;=()[]", max_size=3))
def test_anonymise_masks_every_mac(octets: list[int], sep: str, around: str) -> None:
    mac = sep.join(f"{o:02x}" for o in octets)
    text = f"device{around}{mac}{around}{mac.upper()}"
    masked = anonymise(text)
    assert mac not in masked
    assert mac.upper() not in masked
    assert masked.count(f"XX:XX:XX:XX:XX:{octets[-1]:02X}") == 2


def test_diagnose_command_anonymises_and_probes(tmp_path: Path, broker_url: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[mqtt]\nurl = "{broker_url}"\n[[wearable]]\nname = "left"\n'
                      'address = "F0:F1:F2:F3:F4:F5"\n')
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "diagnose", "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "F0:F1:F2" not in out
    assert "wearable left: XX:XX:XX:XX:XX:F5" in out
    assert re.search(r"^broker +ok +mqtt://127\.0\.0\.1:1883: MQTT 3\.1\.1 connect accepted",
                     out, re.MULTILINE)
    assert re.search(r"^sensord +- +0\.1\.0$", out, re.MULTILINE)
    assert re.search(r"^\d+ problems? found$", out, re.MULTILINE)


def test_diagnose_goes_on_with_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[mqtt]\nurl = "mqtt://127.0.0.1:1883"\nkeepalive_s = "soon"\n')
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "diagnose", "--config", str(config),
         "--broker", f"mqtt://127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"config PROBLEM: {config}:3: mqtt.keepalive_s: expected a number" in result.stdout
    assert "unreachable" in result.stdout


# --- the repeated-error filter ---------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_repeats_are_limited_and_then_counted() -> None:
    clock = FakeClock()
    log = logging.getLogger("sensord.test.repeat")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect()
    repeat = RepeatFilter(window_s=60.0, burst=2, clock=clock)
    handler.addFilter(repeat)
    log.addHandler(handler)
    try:
        for attempt in range(10):
            clock.now_s = attempt
            log.warning("connect to %s failed", "left")
            log.info("retrying %d", attempt)  # below WARNING: never limited
        log.warning("connect to %s failed", "right")  # same template: same kind
        log.error("a different error")
        clock.now_s = 61.0
        log.warning("connect to %s failed", "left")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    warnings = [r for r in records if r.startswith("connect")]
    assert warnings == [
        "connect to left failed", "connect to left failed",
        "connect to left failed (and 9 more like it in the last 60 s)",
    ]
    assert sum(1 for r in records if r.startswith("retrying")) == 10
    assert "a different error" in records
    assert repeat.dropped_total == 9
