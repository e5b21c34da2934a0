"""The JSON payloads sensord publishes, one builder per topic (pure: no MQTT here).

Every payload is a JSON object carrying ``"v": 1`` (its schema version) and is described by a
JSON Schema in docs/schemas/. Event payloads are built by the store (they are stored before they
are published); the builders here cover the state-like topics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sensord.model import ActivityState, ImuBlock, WearableStatus
from sensord.store import DailyTotals

PAYLOAD_VERSION: Final = 1
ONLINE: Final = "online"
OFFLINE: Final = "offline"


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def availability(online: bool) -> dict[str, Any]:
    """``{"v": 1, "state": "online"|"offline"}`` for the bridge and each wearable."""
    return {"v": PAYLOAD_VERSION, "state": ONLINE if online else OFFLINE}


@dataclass(frozen=True, slots=True)
class BridgeState:
    """The daemon as a whole: version, uptime and the wearables it serves."""

    version: str
    uptime_s: float
    wearables: Sequence[str]
    outbox_pending: int
    outbox_dropped: int

    def payload(self) -> dict[str, Any]:
        return {
            "v": PAYLOAD_VERSION,
            "version": self.version,
            "uptime_s": round(self.uptime_s, 1),
            "wearables": list(self.wearables),
            "outbox_pending": self.outbox_pending,
            "outbox_dropped": self.outbox_dropped,
        }


def activity(
    device: str, state: ActivityState, session: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What is happening now: exercise, reps of the set against the target, the hold timer;
    with session tracking, its live snapshot under ``session``."""
    out: dict[str, Any] = {"v": PAYLOAD_VERSION, "device": device, **state.to_dict()}
    if session is not None:
        out["session"] = dict(session)
    return out


def _finite(value: float | None, decimals: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), decimals)


def status(device: str, value: WearableStatus) -> dict[str, Any]:
    """Link health: state, battery, RSSI, achieved rate and loss (``null`` where unknown)."""
    return {
        "v": PAYLOAD_VERSION,
        "device": device,
        "link": value.link.value,
        "battery_pct": _finite(value.battery_pct, 0),
        "rssi_dbm": _finite(value.rssi_dbm, 0),
        "rate_hz": _finite(value.rate_hz, 1),
        "loss_pct": _finite(value.loss_pct, 2),
    }


def daily(totals: DailyTotals) -> dict[str, Any]:
    """Today's totals; ``date`` is the local calendar day they count."""
    return {
        "v": PAYLOAD_VERSION,
        "device": totals.device,
        "date": totals.day,
        "reps": dict(totals.reps),
        "sets": dict(totals.sets),
        "hold_s": dict(totals.hold_s),
        "steps": dict(totals.steps),
    }


def command_result(
    device: str, command: str, *, ok: bool, message: str, ts: str,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The answer on ``.../cmd/<command>/result``; ``request_id`` echoes the caller's, if any."""
    out: dict[str, Any] = {
        "v": PAYLOAD_VERSION, "device": device, "command": command, "ok": ok,
        "message": message, "ts": ts,
    }
    if request_id is not None:
        out["request_id"] = request_id
    return out


def raw_batch(device: str, blocks: Sequence[ImuBlock]) -> dict[str, Any]:
    """A batch of raw samples (only with ``mqtt.publish_raw``): never one message per sample."""
    block = ImuBlock.concat(list(blocks))
    return {
        "v": PAYLOAD_VERSION,
        "device": device,
        "t_s": block.t_s.round(4).tolist(),
        "acc_m_s2": block.acc_m_s2.round(4).tolist(),
        "gyro_rad_s": block.gyro_rad_s.round(5).tolist(),
    }


__all__ = [
    "OFFLINE", "ONLINE", "PAYLOAD_VERSION", "BridgeState", "activity", "availability",
    "command_result", "daily", "encode", "raw_batch", "status",
]
