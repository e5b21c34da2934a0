"""Values that cross stage boundaries: sample blocks, events, live state, link state.

Every stage of ``wearable -> profile -> pipeline -> store -> sinks`` talks in these types, so a
stage can be tested on its own and swapped without touching its neighbours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal, Self

import numpy as np
from numpy.typing import NDArray

from sensord.errors import InputError

FloatArray = NDArray[np.float64]

Placement = Literal["instep", "ankle"]
Side = Literal["left", "right"]
PLACEMENTS: Final = ("instep", "ankle")
SIDES: Final = ("left", "right")

#: The four exercises of the routine (CONTRACTS.md section 3), in routine order.
EXERCISES: Final = ("plantar_flexion", "ankle_circle", "toe_press", "toe_walk")
#: Everything an event's ``exercise`` field may hold: the exercises plus ordinary walking.
EXERCISE_IDS: Final = (*EXERCISES, "walk")
EVENT_TYPES: Final = ("rep", "step", "set", "exercise")
DIRECTIONS: Final = ("cw", "ccw")

EventType = Literal["rep", "step", "set", "exercise"]
Direction = Literal["cw", "ccw"]

_TIME_DECIMALS: Final = 4  # 0.1 ms: finer than any sample period we accept (400 Hz)
_VALUE_DECIMALS: Final = 3


@dataclass(frozen=True, slots=True)
class ImuBlock:
    """A run of samples in SI units, in time order.

    Shapes: ``t_s`` (n,), ``acc_m_s2`` (n, 3) specific force, ``gyro_rad_s`` (n, 3) angular rate,
    all float64 and about the sensor axes. A block is the unit that crosses stage boundaries: never
    one Python object per sample.
    """

    t_s: FloatArray
    acc_m_s2: FloatArray
    gyro_rad_s: FloatArray

    def __post_init__(self) -> None:
        n = self.t_s.shape[0] if self.t_s.ndim == 1 else -1
        if n < 0 or self.acc_m_s2.shape != (n, 3) or self.gyro_rad_s.shape != (n, 3):
            raise ValueError(
                f"ImuBlock shapes disagree: t {self.t_s.shape}, acc {self.acc_m_s2.shape}, "
                f"gyro {self.gyro_rad_s.shape}"
            )

    @classmethod
    def from_arrays(cls, t_s: Any, acc_m_s2: Any, gyro_rad_s: Any) -> Self:
        """Builds a block from array-likes, converting to contiguous float64."""
        return cls(
            np.ascontiguousarray(t_s, dtype=np.float64).reshape(-1),
            np.ascontiguousarray(acc_m_s2, dtype=np.float64).reshape(-1, 3),
            np.ascontiguousarray(gyro_rad_s, dtype=np.float64).reshape(-1, 3),
        )

    @classmethod
    def _agreeing(cls, t_s: FloatArray, acc_m_s2: FloatArray, gyro_rad_s: FloatArray) -> Self:
        """A block of arrays known to agree (cut or joined from checked blocks): the same
        fields, without ``__post_init__``'s shape check."""
        block = object.__new__(cls)
        object.__setattr__(block, "t_s", t_s)
        object.__setattr__(block, "acc_m_s2", acc_m_s2)
        object.__setattr__(block, "gyro_rad_s", gyro_rad_s)
        return block

    @classmethod
    def empty(cls) -> Self:
        return cls(np.empty(0), np.empty((0, 3)), np.empty((0, 3)))

    @classmethod
    def concat(cls, blocks: list[ImuBlock]) -> Self:
        if not blocks:
            return cls.empty()
        return cls._agreeing(
            np.concatenate([b.t_s for b in blocks]),
            np.concatenate([b.acc_m_s2 for b in blocks]),
            np.concatenate([b.gyro_rad_s for b in blocks]),
        )

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def slice(self, start: int, stop: int) -> ImuBlock:
        return ImuBlock._agreeing(
            self.t_s[start:stop], self.acc_m_s2[start:stop], self.gyro_rad_s[start:stop]
        )

    def split(self, sizes: list[int]) -> list[ImuBlock]:
        """Cuts the block into consecutive pieces of the given sizes (the rest goes last)."""
        out: list[ImuBlock] = []
        start = 0
        for size in sizes:
            out.append(self.slice(start, start + size))
            start += size
        if start < len(self):
            out.append(self.slice(start, len(self)))
        return out


#: The float fields of an Event and the decimals they are rounded to.
_ROUNDED: Final = (
    ("t_start", _TIME_DECIMALS), ("t_end", _TIME_DECIMALS), ("t", _TIME_DECIMALS),
    ("hold_s", _VALUE_DECIMALS), ("size_deg", 1), ("hold_target_s", _VALUE_DECIMALS),
)


@dataclass(frozen=True, slots=True)
class Event:
    """One event of CONTRACTS.md section 4, as the pipeline produces it.

    Times are seconds on the recording's (sample) clock. Optional fields are ``None`` where they do
    not apply and are left out of the JSON. Values are rounded on construction (times to 0.1 ms,
    other floats to 3 decimals) so events compare equal however the samples were split into blocks.
    The daemon adds ``device``, ``seq`` and ``ts`` when it stores the event (see ``to_dict``).
    """

    type: EventType
    exercise: str
    t_start: float | None = None
    t_end: float | None = None
    t: float | None = None
    direction: Direction | None = None
    hold_s: float | None = None
    steps: int | None = None
    reps: int | None = None
    target: int | None = None
    #: Extras beyond the contract (allowed by it): circle size, hold flags, set summaries.
    size_deg: float | None = None
    hold_target_s: float | None = None
    short_hold: bool | None = None
    previous: str | None = None
    directions: dict[str, int] | None = field(default=None, compare=True)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")
        for name, decimals in _ROUNDED:
            value = getattr(self, name)
            if value is not None:  # (most fields of most events: nothing to round)
                object.__setattr__(self, name, round(float(value), decimals))

    @property
    def time_s(self) -> float:
        """The event's moment on the sample clock: ``t``, else ``t_end``, else ``t_start``."""
        for value in (self.t, self.t_end, self.t_start):
            if value is not None:
                return value
        return math.nan

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        """The JSON object of CONTRACTS.md section 4; ``extra`` adds e.g. device, seq, ts."""
        out: dict[str, Any] = {"type": self.type, "exercise": self.exercise}
        for name in (
            "t_start", "t_end", "t", "direction", "hold_s", "steps", "reps", "target", "size_deg",
            "hold_target_s", "short_hold", "previous", "directions",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = dict(value) if isinstance(value, dict) else value
        out.update(extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """Parses an event object (extra keys such as device, seq, ts are ignored)."""
        try:
            kind = data["type"]
            exercise = data["exercise"]
        except KeyError as exc:
            raise InputError(f"event is missing the required field {exc.args[0]!r}") from exc
        if kind not in EVENT_TYPES:
            raise InputError(f"event type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
        known = set(cls.__dataclass_fields__) - {"type", "exercise"}
        kwargs = {k: v for k, v in data.items() if k in known}
        return cls(type=kind, exercise=str(exercise), **kwargs)


@dataclass(frozen=True, slots=True)
class ActivityState:
    """What the pipeline believes is happening right now, available after every block.

    This is what the live view and the activity topic show. ``t_s`` is the sample clock of the
    last processed sample. ``hold_s`` is the running hold timer while a hold is under way, else
    ``None``.
    """

    t_s: float = math.nan
    exercise: str | None = None
    reps: int = 0
    target: int | None = None
    hold_s: float | None = None
    direction: Direction | None = None
    steps: int = 0
    still: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": None if math.isnan(self.t_s) else round(self.t_s, 3),
            "exercise": self.exercise,
            "reps": self.reps,
            "target": self.target,
            "hold_s": None if self.hold_s is None else round(self.hold_s, 2),
            "direction": self.direction,
            "steps": self.steps,
            "still": self.still,
        }


class LinkState(StrEnum):
    """Where a wearable's BLE link is in its life cycle (published as the wearable's status)."""

    IDLE = "idle"
    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class WearableStatus:
    """A wearable's link health, as its status topic shows it; ``None`` where not known.

    ``rate_hz`` is the achieved sample rate, ``loss_pct`` the share of expected samples that did
    not arrive (0-100), ``battery_pct`` 0-100, ``rssi_dbm`` the received signal strength.
    """

    link: LinkState = LinkState.IDLE
    battery_pct: float | None = None
    rssi_dbm: float | None = None
    rate_hz: float | None = None
    loss_pct: float | None = None
