"""Stream health per wearable, as a frozen snapshot for the MQTT and daemon layers.

"Watch the data, not the process": what users of BLE gateways need to see is whether samples
arrive at the rate they should, how many are lost, how often the link reconnects and how long
ago the last sample came. ``LinkHealth`` is that picture at one moment; the link builds a new
one on request (``WearableLink.health()``), so readers never see a half-updated state.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from sensord.model import LinkState

#: The achieved rate is measured over this many seconds of arrivals.
RATE_WINDOW_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """The wearable's Device Information Service (0x180A) strings, where it has them."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    hardware: str | None = None
    firmware: str | None = None
    software: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {
            name: value
            for name in ("manufacturer", "model", "serial", "hardware", "firmware", "software")
            if (value := getattr(self, name)) is not None
        }


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """One wearable's stream at one moment.

    ``rate_hz`` is the achieved sample rate over the last ``RATE_WINDOW_S`` seconds (0 when
    nothing arrived); ``loss_pct`` is lost / (received + lost) since the link started, counting
    samples a counter says are missing and the estimated samples of reconnect gaps;
    ``queue_drops`` are blocks dropped because the consumer fell behind; ``last_sample_age_s`` is
    None before the first sample. ``scans`` counts scans started, ``connect_attempts``
    connections tried, ``connects`` those that succeeded. ``rssi_dbm`` is from the last
    advertisement seen.
    """

    name: str
    state: LinkState
    state_age_s: float
    address: str | None = None
    profile: str | None = None
    nominal_rate_hz: float = math.nan
    rate_hz: float = 0.0
    device_rate_hz: float | None = None
    samples: int = 0
    lost_samples: int = 0
    loss_pct: float = 0.0
    gaps: int = 0
    duplicates: int = 0
    decode_errors: int = 0
    queue_drops: int = 0
    scans: int = 0
    connects: int = 0
    connect_attempts: int = 0
    reconnects: int = 0
    consecutive_failures: int = 0
    last_sample_age_s: float | None = None
    battery_pct: int | None = None
    device_info: DeviceInformation = field(default_factory=DeviceInformation)
    rssi_dbm: int | None = None
    last_error: str | None = None

    @property
    def stale(self) -> bool:
        """Streaming, yet no sample for longer than a second or three sample periods."""
        if self.state != LinkState.STREAMING:
            return False
        if self.last_sample_age_s is None:
            return True
        limit_s = 1.0
        if self.nominal_rate_hz > 0:  # NaN compares false: unknown rate keeps the 1 s limit
            limit_s = max(limit_s, 3.0 / self.nominal_rate_hz)
        return self.last_sample_age_s > limit_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (rounded; the MQTT layer publishes it as the link's status)."""
        return {
            "name": self.name,
            "state": str(self.state),
            "state_age_s": round(self.state_age_s, 1),
            "address": self.address,
            "profile": self.profile,
            "nominal_rate_hz": None if math.isnan(self.nominal_rate_hz) else self.nominal_rate_hz,
            "rate_hz": round(self.rate_hz, 1),
            "device_rate_hz": None if self.device_rate_hz is None else round(
                self.device_rate_hz, 2),
            "samples": self.samples,
            "lost_samples": self.lost_samples,
            "loss_pct": round(self.loss_pct, 3),
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "decode_errors": self.decode_errors,
            "queue_drops": self.queue_drops,
            "scans": self.scans,
            "connects": self.connects,
            "connect_attempts": self.connect_attempts,
            "reconnects": self.reconnects,
            "consecutive_failures": self.consecutive_failures,
            "last_sample_age_s": None if self.last_sample_age_s is None else round(
                self.last_sample_age_s, 2),
            "battery_pct": self.battery_pct,
            "device_info": self.device_info.to_dict(),
            "rssi_dbm": self.rssi_dbm,
            "last_error": self.last_error,
        }


class RateMeter:
    """Samples per second over a sliding window of arrivals."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._arrivals: deque[tuple[float, int]] = deque()
        self._total = 0
        self._since_s: float | None = None

    def add(self, arrival_s: float, n: int) -> None:
        if self._since_s is None:
            self._since_s = arrival_s
        self._arrivals.append((arrival_s, n))
        self._total += n
        self._trim(arrival_s)

    def reset(self) -> None:
        """A new stream: forget the old one's arrivals."""
        self._arrivals.clear()
        self._total = 0
        self._since_s = None

    def _trim(self, now_s: float) -> None:
        while self._arrivals and now_s - self._arrivals[0][0] > self.window_s:
            _, n = self._arrivals.popleft()
            self._total -= n

    def rate_hz(self, now_s: float) -> float:
        """The achieved rate at ``now_s`` (0 when nothing arrived within the window)."""
        self._trim(now_s)
        if self._since_s is None or not self._arrivals:
            return 0.0
        elapsed_s = now_s - self._since_s
        if elapsed_s >= self.window_s:
            return self._total / self.window_s
        if elapsed_s <= 0:
            return 0.0
        # Young stream: the first packet's samples were taken before the clock started.
        return (self._total - self._arrivals[0][1]) / elapsed_s
