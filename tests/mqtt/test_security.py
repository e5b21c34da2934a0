"""Password and TLS against a Mosquitto of the test's own (password file made with
mosquitto_passwd, CA and certificates made with openssl here); wrong credentials give one clear
error, not a crash loop."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sensord.config import Config
from sensord.daemon import Daemon, RecordingSource, mqtt_sink, open_store
from sensord.recording import write_recording
from tests.mqtt.conftest import Space
from tests.mqtt.helpers import Collector, PrivateBroker, ScriptedPipeline, synthetic_block

USER = "sensor"
PASSWORD = "correct horse battery staple"  # a throwaway test credential


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificate(name: str, subject: str, cwd: Path, extensions: str) -> None:
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=cwd)
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
             cwd=cwd)


@dataclass(frozen=True)
class SecureBroker:
    broker: PrivateBroker
    directory: Path

    @property
    def port(self) -> int:
        return self.broker.port

    def file(self, name: str) -> str:
        return str(self.directory / name)

    def client_tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.file("ca.crt"))
        context.load_cert_chain(self.file("client.crt"), self.file("client.key"))
        return context


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """TLS with a CA of our own, a client certificate required, and a password file."""
    directory = tmp_path_factory.mktemp("secure")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=sensord test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _certificate("server", "/CN=127.0.0.1", directory,
                 "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _certificate("client", f"/CN={USER}", directory, "extendedKeyUsage=clientAuth\n")
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(directory / "passwd"), USER, PASSWORD],
                   check=True, capture_output=True, timeout=30)
    broker = PrivateBroker(directory, "\n".join([
        f"cafile {directory / 'ca.crt'}",
        f"certfile {directory / 'server.crt'}",
        f"keyfile {directory / 'server.key'}",
        "require_certificate true",
        f"password_file {directory / 'passwd'}",
    ]), anonymous=False)
    broker.start()
    yield SecureBroker(broker, directory)
    broker.stop()


def secure_config(space: Space, secure: SecureBroker, store: Path, **mqtt: object) -> Config:
    settings: dict[str, object] = {
        "tls_ca_file": secure.file("ca.crt"), "tls_cert_file": secure.file("client.crt"),
        "tls_key_file": secure.file("client.key"), **mqtt,
    }
    return space.config(f"mqtts://{USER}@127.0.0.1:{secure.port}", store, **settings)


@pytest.mark.asyncio
async def test_password_file_tls_and_client_certificate(
    tmp_path: Path, space: Space, secure_broker: SecureBroker
) -> None:
    password_file = tmp_path / "mqtt-password"
    password_file.write_text(PASSWORD + "\n")
    config = secure_config(space, secure_broker, tmp_path / "o.db",
                           password_file=str(password_file))
    store = open_store(config)
    daemon = Daemon(config, store, mqtt_sink(config, store),
                    pipeline_factory=lambda w, c: ScriptedPipeline(every_s=0.5))
    async with Collector(secure_broker.port, [f"{space.base}/left/event"], username=USER,
                         password=PASSWORD, tls=secure_broker.client_tls()) as sub:
        summary = await daemon.run({"left": RecordingSource(synthetic_block(2.0), speed=0)},
                                   connect_wait_s=5)
        await sub.wait_for(lambda c: len(c.messages) >= 4, 10)
    store.close()
    assert summary.drained
    assert [m.json()["seq"] for m in sub.messages] == [1, 2, 3, 4]


def replay_cli(config_text: str, tmp_path: Path, password: str,
               *args: str) -> subprocess.CompletedProcess[str]:
    recording = tmp_path / "still.csv"
    write_recording(recording, synthetic_block(1.0))
    config = tmp_path / "sensord.toml"
    config.write_text(config_text)
    env = {**os.environ, "SENSORD_MQTT_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "sensord", "replay", str(recording), "--device", "left",
         "--speed", "0", "--config", str(config), "--store", str(tmp_path / "o.db"), *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )


def toml_for(space: Space, secure: SecureBroker, *, ca: bool = True,
             insecure: bool = False) -> str:
    lines = [
        "[mqtt]", f'base_topic = "{space.base}"', f'discovery_prefix = "{space.prefix}"',
        f'tls_cert_file = "{secure.file("client.crt")}"',
        f'tls_key_file = "{secure.file("client.key")}"',
    ]
    if ca:
        lines.append(f'tls_ca_file = "{secure.file("ca.crt")}"')
    if insecure:
        lines.append("tls_insecure = true")
    return "\n".join(lines) + "\n"


def test_wrong_password_is_one_clear_line(
    tmp_path: Path, space: Space, secure_broker: SecureBroker
) -> None:
    started = time.monotonic()
    result = replay_cli(toml_for(space, secure_broker), tmp_path, "wrong password",
                        "--broker", f"mqtts://{USER}@127.0.0.1:{secure_broker.port}")
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sensord: error: the broker mqtts://sensor@127.0.0.1:")
    assert "refused the connection" in lines[0]
    assert "password" in lines[0].lower()
    assert "wrong password" not in result.stderr + result.stdout


def test_right_password_from_the_environment_through_the_cli(
    tmp_path: Path, space: Space, secure_broker: SecureBroker
) -> None:
    result = replay_cli(toml_for(space, secure_broker), tmp_path, PASSWORD,
                        "--broker", f"mqtts://{USER}@127.0.0.1:{secure_broker.port}")
    assert result.returncode == 0, result.stderr
    assert "as 'left': 50 samples" in result.stdout


def test_an_unknown_ca_is_refused_unless_insecure_is_asked_for(
    tmp_path: Path, space: Space, secure_broker: SecureBroker
) -> None:
    url = f"mqtts://{USER}@127.0.0.1:{secure_broker.port}"
    strict = replay_cli(toml_for(space, secure_broker, ca=False), tmp_path, PASSWORD,
                        "--broker", url)
    assert strict.returncode == 1
    assert "certificate verify failed" in strict.stderr
    assert len(strict.stderr.strip().splitlines()) == 1
    (tmp_path / "loose").mkdir()
    loose = replay_cli(toml_for(space, secure_broker, ca=False, insecure=True),
                       tmp_path / "loose", PASSWORD, "--broker", url)
    assert loose.returncode == 0, loose.stderr


@pytest.mark.asyncio
async def test_the_daemon_keeps_counting_when_refused_and_says_so_once(
    tmp_path: Path, space: Space, secure_broker: SecureBroker,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SENSORD_MQTT_PASSWORD", "wr0ng-s3cret")
    config = secure_config(space, secure_broker, tmp_path / "o.db", reconnect_min_s=0.05,
                           reconnect_max_s=0.2)
    store = open_store(config)
    sink = mqtt_sink(config, store)  # the daemon's way: no fail_on_refusal
    daemon = Daemon(config, store, sink,
                    pipeline_factory=lambda w, c: ScriptedPipeline(every_s=0.5))
    with caplog.at_level(logging.DEBUG, logger="sensord"):
        run = asyncio.create_task(daemon.run(
            {"left": RecordingSource(synthetic_block(3.0), speed=1.0)}, drain_timeout_s=0.5))
        async with asyncio.timeout(20):
            summary = await run
    store_pending = store.pending_count()
    store.close()
    assert not summary.drained
    assert summary.events["left"] == store_pending == 6  # counted, waiting in the outbox
    refusals = [r for r in caplog.records if "refused the connection" in r.getMessage()
                and r.levelno >= logging.WARNING]
    assert len(refusals) == 1  # retried several times, said once (repeats only at debug)
    assert refusals[0].levelno == logging.ERROR
    assert len([r for r in caplog.records if "reconnecting in" in r.getMessage()]) >= 3
    assert "wr0ng-s3cret" not in caplog.text
