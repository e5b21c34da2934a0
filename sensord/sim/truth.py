"""The ground truth of a simulated session, and its JSON form (docs/simulator.md, version 1).

Times are seconds on the recording clock (the first sample is t = 0). Every rep belongs to a
set (``set`` is its index in ``sets``); every step is an initial contact of the instrumented
foot.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sensord.errors import InputError
from sensord.sim.state import RepRecord, SegmentRecord, SetRecord, StepRecord

TRUTH_VERSION: Final = 1
_T: Final = 4


def _t(value: float | None) -> float | None:
    return None if value is None else round(float(value), _T)


@dataclass(frozen=True, slots=True)
class Mounting:
    """The sensor's rotation away from the nominal frame of its placement.

    ``matrix`` rows are the nominal axes, columns the sensor's axes expressed in the nominal
    frame (so ``v_nominal = matrix @ v_sensor``).
    """

    axis: tuple[float, float, float]
    angle_deg: float
    matrix: tuple[tuple[float, float, float], ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "axis": [round(v, 6) for v in self.axis],
            "angle_deg": round(self.angle_deg, 4),
            "matrix": [[round(v, 6) for v in row] for row in self.matrix],
        }


@dataclass(frozen=True, slots=True)
class Truth:
    """Everything known about a simulated session (see the module docstring)."""

    routine: str
    seed: int
    side: str
    placement: str
    rate_hz: float
    duration_s: float
    mounting: Mounting
    sensor: dict[str, Any] | None
    loss_fraction: float
    lost_samples: int
    segments: tuple[SegmentRecord, ...]
    sets: tuple[SetRecord, ...]
    reps: tuple[RepRecord, ...]
    steps: tuple[StepRecord, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def set_index(self, rep: RepRecord) -> int:
        """The index in ``sets`` of the set ``rep`` belongs to."""
        for i, s in enumerate(self.sets):
            if s.key == rep.set_key:
                return i
        raise KeyError(rep.set_key)

    def to_json_dict(self) -> dict[str, Any]:
        segments = []
        for s in self.segments:
            item: dict[str, Any] = {
                "activity": s.activity, "exercise": s.exercise, "posture": s.posture,
                "t_start": _t(s.t_start), "t_end": _t(s.t_end),
            }
            item.update(dict(s.extra))
            segments.append(item)
        sets = [
            {"exercise": s.exercise, "t_start": _t(s.t_start), "t_end": _t(s.t_end),
             "reps": s.reps, "direction": s.direction}
            for s in self.sets
        ]
        reps = [
            {
                "exercise": r.exercise, "set": self.set_index(r), "t_start": _t(r.t_start),
                "t_end": _t(r.t_end), "direction": r.direction,
                "hold_s": None if r.hold_s is None else round(r.hold_s, 3),
                "hold_start": _t(r.hold_start), "hold_end": _t(r.hold_end),
                "size_deg": r.size_deg, "steps": r.steps, "amplitude_deg": r.amplitude_deg,
            }
            for r in self.reps
        ]
        steps = [{"t": _t(s.t), "exercise": s.exercise, "activity": s.activity}
                 for s in self.steps]
        return {
            "version": TRUTH_VERSION,
            "routine": self.routine,
            "seed": self.seed,
            "side": self.side,
            "placement": self.placement,
            "rate_hz": self.rate_hz,
            "duration_s": _t(self.duration_s),
            "mounting": self.mounting.to_json_dict(),
            "sensor": self.sensor,
            "loss": {"fraction": self.loss_fraction, "lost_samples": self.lost_samples,
                     **self.extra.get("loss", {})},
            "segments": segments,
            "sets": sets,
            "reps": reps,
            "steps": steps,
            **{k: v for k, v in self.extra.items() if k != "loss"},
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(json.dumps(self.to_json_dict(), indent=1) + "\n",
                              encoding="utf-8")


def read_truth(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Loads a truth file written by ``Truth.write`` (as plain JSON data)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the truth file ({exc})") from exc
    if not isinstance(data, dict) or data.get("version") != TRUTH_VERSION:
        raise InputError(f"{path}: not a version {TRUTH_VERSION} simulator truth file")
    return data
