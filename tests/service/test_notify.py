"""sd_notify over a real datagram socket, and the watchdog's health rule."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensord.config import ServiceConfig
from sensord.model import LinkState
from sensord.notify import (
    HealthFacts,
    Notifier,
    WatchdogPolicy,
    WearableHealth,
    watchdog_interval_s,
)


def _receive_all(sock: socket.socket) -> list[str]:
    messages: list[str] = []
    sock.settimeout(1.0)
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            return messages
        sock.settimeout(0.05)


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    yield path, sock
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"sensord-test-{uuid.uuid4().hex}"
    sock.bind(b"\0" + name.encode())
    yield f"@{name}", sock
    sock.close()


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_messages_reach_the_socket(
    kind: str, request: pytest.FixtureRequest
) -> None:
    address, sock = request.getfixturevalue(f"{kind}_socket")
    notifier = Notifier({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.ready("connected to the broker")
    assert notifier.status("2 wearables\nstreaming")
    assert notifier.status("2 wearables streaming")  # unchanged: not sent again
    assert notifier.watchdog()
    assert notifier.reloading(1_234_567)
    assert notifier.stopping("bye")
    notifier.close()
    assert _receive_all(sock) == [
        "READY=1\nSTATUS=connected to the broker",
        "STATUS=2 wearables streaming",
        "WATCHDOG=1",
        "RELOADING=1\nMONOTONIC_USEC=1234567",
        "STOPPING=1\nSTATUS=bye",
    ]


def test_after_stopping_only_the_stop_is_heard(
    path_socket: tuple[str, socket.socket],
) -> None:
    """A reload (SIGHUP) that ends while SIGTERM's stop is under way must not announce the
    service ready and running again, nor replace the stop's status."""
    address, sock = path_socket
    with Notifier({"NOTIFY_SOCKET": address}) as notifier:
        assert notifier.reloading(1)
        assert notifier.stopping("stopping: flushing the outbox")
        assert not notifier.ready("1 wearable streaming")
        assert not notifier.status("1 wearable streaming")
        assert not notifier.reloading(2)
        assert notifier.watchdog()
        assert notifier.stopping("stopped")
    assert _receive_all(sock) == [
        "RELOADING=1\nMONOTONIC_USEC=1",
        "STOPPING=1\nSTATUS=stopping: flushing the outbox",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=stopped",
    ]


def test_without_a_manager_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_a_dead_socket_is_reported_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}) as notifier:
        assert not notifier.watchdog()
        assert not notifier.watchdog()
    warnings = [r for r in caplog.records if "cannot notify" in r.getMessage()]
    assert len(warnings) == 1  # the same error is logged once


def test_watchdog_interval() -> None:
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    mine = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_s(mine) == 1.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}) is None


# --- the policy ------------------------------------------------------------------------------

LIMITS = ServiceConfig(stall_s=30.0, reconnect_s=300.0, hung_s=120.0)
policy = WatchdogPolicy(LIMITS)


def wearable(
    link: LinkState = LinkState.STREAMING, *, in_session: bool = False,
    last_sample_s: float | None = 999.0, last_progress_s: float = 999.0,
    state_since_s: float = 0.0, name: str = "left",
) -> WearableHealth:
    return WearableHealth(name, link, in_session, last_sample_s, last_progress_s, state_since_s)


def decide(*wearables: WearableHealth, broker_s: float | None = 999.0) -> tuple[bool, str]:
    decision = policy.decide(HealthFacts(1000.0, wearables, broker_s))
    return decision.ping, decision.reason


def test_streaming_in_a_session_is_healthy() -> None:
    assert decide(wearable(in_session=True), wearable(name="right")) == (
        True, "healthy: 2 of 2 wearables streaming")


def test_samples_stopping_during_a_session_stops_the_pings() -> None:
    ping, reason = decide(wearable(in_session=True, last_sample_s=969.0))
    assert not ping
    assert reason == "unhealthy: left: no samples for 31 s during a session"
    # Within the limit it is still healthy, and outside a session nobody cares.
    assert decide(wearable(in_session=True, last_sample_s=971.0))[0]
    assert decide(wearable(in_session=False, last_sample_s=0.0))[0]


def test_a_fresh_connection_gets_time_for_its_first_sample() -> None:
    assert decide(wearable(in_session=True, last_sample_s=None, state_since_s=980.0))[0]
    assert not decide(wearable(in_session=True, last_sample_s=None, state_since_s=960.0))[0]
    # Reconnected after a gap: counted from the new connection, not the old sample.
    assert decide(wearable(in_session=True, last_sample_s=500.0, state_since_s=990.0))[0]


def test_reconnecting_is_fine_until_the_limit() -> None:
    retrying = wearable(LinkState.BACKOFF, in_session=True, last_sample_s=800.0,
                        state_since_s=995.0)
    assert decide(retrying)[0]
    gone = wearable(LinkState.SCANNING, in_session=True, last_sample_s=650.0,
                    state_since_s=995.0)
    ping, reason = decide(gone)
    assert not ping
    assert "left: scanning for 350 s during a session" in reason
    # Not in a session: a wearable that is off for hours is normal.
    assert decide(wearable(LinkState.SCANNING, last_sample_s=0.0, state_since_s=0.0))[0]


def test_a_hung_task_stops_the_pings() -> None:
    ping, reason = decide(wearable(LinkState.SCANNING, last_progress_s=870.0))
    assert not ping
    assert "link task silent for 130 s" in reason
    ping, reason = decide(wearable(), broker_s=800.0)
    assert not ping
    assert "broker task silent for 200 s" in reason
    assert decide(wearable(), broker_s=None)[0]


def test_a_stopped_wearable_is_ignored() -> None:
    assert decide(wearable(LinkState.STOPPED, in_session=True, last_progress_s=0.0,
                           last_sample_s=0.0)) == (True, "healthy: 0 of 0 wearables streaming")


def test_one_bad_wearable_is_named() -> None:
    ping, reason = decide(wearable(name="left"),
                          wearable(name="right", in_session=True, last_sample_s=900.0))
    assert not ping
    assert reason == "unhealthy: right: no samples for 100 s during a session"


def test_reloading_carries_the_monotonic_clock_in_microseconds(
    path_socket: tuple[str, socket.socket],
) -> None:
    # systemd's Type=notify-reload pairs a RELOADING=1 with the reload it asked for by this
    # timestamp, which must be CLOCK_MONOTONIC's (the manager's own), taken when it is sent.
    address, sock = path_socket
    notifier = Notifier({"NOTIFY_SOCKET": address})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.close()
    (message,) = _receive_all(sock)
    first, second = message.split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after
