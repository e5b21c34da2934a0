"""systemd's notify protocol without a dependency, and the rule for when to ping the watchdog.

``Notifier`` sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``RELOADING=1`` and
``STOPPING=1`` as datagrams to ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract
namespace), the protocol of sd_notify(3). Outside systemd the variable is unset and every call
is a no-op, so the daemon needs no special case.

``WatchdogPolicy`` is pure: given health facts it decides whether the daemon is healthy enough to
ping. Pinging from a timer alone would keep a daemon alive whose BLE link has silently stopped
(the most reported failure of BLE gateways); pinging only while data flows lets systemd's restart
be the last step of recovery.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sensord.config import ServiceConfig
from sensord.model import LinkState

log = logging.getLogger(__name__)

_MAX_STATUS_CHARS: Final = 200


def _socket_address(value: str) -> str | bytes:
    """``@name`` is Linux's abstract namespace: a leading NUL byte instead of the ``@``."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


class Notifier:
    """Sends notifications to the service manager, if there is one.

    Sends never block (a full socket drops the message: the next ping follows within seconds)
    and never raise: a broken notify socket must not take the daemon down. Failures are logged
    once per distinct error.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        value = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = _socket_address(value) if value else None
        self._socket: socket.socket | None = None
        self._last_error: str | None = None
        self._last_status: str | None = None
        self._stopping = False

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens."""
        return self._address is not None

    def send(self, *assignments: str) -> bool:
        """Sends ``KEY=value`` lines as one datagram; True when it was handed to the socket."""
        if self._address is None:
            return False
        payload = "\n".join(assignments).encode("utf-8", "replace")
        try:
            if self._socket is None:
                kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
                self._socket = socket.socket(socket.AF_UNIX, kind)
            self._socket.sendto(payload, self._address)
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            if error != self._last_error:
                log.warning("cannot notify the service manager (%s)", error)
                self._last_error = error
            return False
        self._last_error = None
        return True

    def ready(self, status: str | None = None) -> bool:
        """The daemon is up: config valid, broker and adapter reachable. Not after
        ``stopping`` (a reload or the first health check ending during the stop must not tell
        the manager the service is running again)."""
        if self._stopping:
            return False
        fields = ["READY=1"]
        if status is not None:
            fields.append(_status_field(status))
            self._last_status = fields[-1]
        return self.send(*fields)

    def status(self, text: str) -> bool:
        """A one-line human status (``systemctl status`` shows it); sent only when it changes."""
        if self._stopping:
            return False  # the stop's own status stays
        field = _status_field(text)
        if field == self._last_status:
            return True
        self._last_status = field
        return self.send(field)

    def watchdog(self) -> bool:
        """Tells the watchdog we are healthy (only call when WatchdogPolicy says so)."""
        return self.send("WATCHDOG=1")

    def reloading(self, monotonic_usec: int | None = None) -> bool:
        """A config reload began (SIGHUP); follow it with ``ready()`` when done.

        ``MONOTONIC_USEC`` (CLOCK_MONOTONIC in microseconds, now unless given) goes with it: systemd
        253's ``Type=notify-reload`` requires it to tell this reload from an older one, and older
        managers ignore it.
        """
        if self._stopping:
            return False
        if monotonic_usec is None:
            monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown began (again with the final status): from here on the manager hears only
        these and ``WATCHDOG=1``."""
        self._stopping = True
        fields = ["STOPPING=1"]
        if status is not None:
            fields.append(_status_field(status))
        return self.send(*fields)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _status_field(text: str) -> str:
    line = " ".join(text.split())
    return "STATUS=" + line[:_MAX_STATUS_CHARS]


def watchdog_interval_s(
    env: Mapping[str, str] | None = None, pid: int | None = None
) -> float | None:
    """How often to ping: half of ``$WATCHDOG_USEC`` (as sd_watchdog_enabled(3) advises), or None
    when the watchdog is off or meant for another process (``$WATCHDOG_PID``)."""
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner:
        try:
            if int(owner) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    return usec / 2e6


@dataclass(frozen=True, slots=True)
class WearableHealth:
    """What the daemon knows about one wearable's link, in seconds of a monotonic clock.

    ``last_sample_s`` is when the newest sample arrived (None: never). ``last_progress_s`` is the
    link task's last sign of life (a state change, a scan result, a sample, a backoff step).
    ``state_since_s`` is when ``link`` was entered. ``in_session``: a workout session is open.
    """

    name: str
    link: LinkState
    in_session: bool
    last_sample_s: float | None
    last_progress_s: float
    state_since_s: float


@dataclass(frozen=True, slots=True)
class HealthFacts:
    """A snapshot of the daemon's health at ``now_s`` (same monotonic clock).

    ``broker_progress_s`` is the MQTT task's last sign of life (connected, or a reconnect step);
    None when the daemon runs without a broker.
    """

    now_s: float
    wearables: tuple[WearableHealth, ...]
    broker_progress_s: float | None = None


@dataclass(frozen=True, slots=True)
class WatchdogDecision:
    """Whether to ping, and a human line for ``STATUS=`` saying why."""

    ping: bool
    reason: str


class WatchdogPolicy:
    """Decides whether the daemon is healthy (see ServiceConfig for the limits).

    Unhealthy when any of: during a session a streaming wearable sent nothing for ``stall_s``;
    during a session a wearable has been off the air (reconnecting) for ``reconnect_s``; a link
    task or the broker task showed no sign of life for ``hung_s``. Outside a session a wearable
    may be off for any time: its link task only has to keep scanning.
    """

    def __init__(self, config: ServiceConfig | None = None) -> None:
        self.config = config or ServiceConfig()

    def decide(self, facts: HealthFacts) -> WatchdogDecision:
        limits = self.config
        now = facts.now_s
        problems: list[str] = []
        streaming = 0
        for wearable in facts.wearables:
            if wearable.link is LinkState.STOPPED:
                continue
            silent_s = now - wearable.last_progress_s
            if silent_s > limits.hung_s:
                problems.append(f"{wearable.name}: link task silent for {silent_s:.0f} s")
                continue
            if wearable.link is LinkState.STREAMING:
                streaming += 1
                since = max(
                    wearable.state_since_s,
                    wearable.last_sample_s if wearable.last_sample_s is not None else -1e300,
                )
                quiet_s = now - since
                if wearable.in_session and quiet_s > limits.stall_s:
                    problems.append(
                        f"{wearable.name}: no samples for {quiet_s:.0f} s during a session"
                    )
            elif wearable.in_session:
                since = wearable.state_since_s
                if wearable.last_sample_s is not None:
                    since = min(since, wearable.last_sample_s)
                away_s = now - since
                if away_s > limits.reconnect_s:
                    problems.append(
                        f"{wearable.name}: {wearable.link.value} for {away_s:.0f} s "
                        "during a session"
                    )
        if facts.broker_progress_s is not None:
            silent_s = now - facts.broker_progress_s
            if silent_s > limits.hung_s:
                problems.append(f"broker task silent for {silent_s:.0f} s")
        if problems:
            return WatchdogDecision(False, "unhealthy: " + "; ".join(problems))
        total = sum(1 for w in facts.wearables if w.link is not LinkState.STOPPED)
        return WatchdogDecision(True, f"healthy: {streaming} of {total} wearables streaming")


__all__ = [
    "HealthFacts", "Notifier", "WatchdogDecision", "WatchdogPolicy", "WearableHealth",
    "watchdog_interval_s",
]
