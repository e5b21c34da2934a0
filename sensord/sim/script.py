"""Session scripts: what the simulated person does, in order.

A script is a list of ``Segment``s. Each names an activity with its parameters (a duration, a
number of reps or bouts, a circle direction); the session inserts the posture changes between
segments that need them (standing up before a walk, lying down before ankle circles) and gives
every set and rest its human variation. Built-in scripts are made by ``builtin_script`` with
the session's random generator, so their durations and order vary with the seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from sensord.errors import InputError
from sensord.model import DIRECTIONS, EXERCISES
from sensord.sim.state import POSTURES, Posture

#: Every activity a segment may name (the truth's ``segments[].activity`` values).
ACTIVITIES: Final = (
    "plantar_flexion", "ankle_circle", "toe_press", "toe_walk", "walk", "stairs_up",
    "stairs_down", "stand", "weight_shift", "sit", "fidget", "foot_tap", "leg_swing", "lie",
    "transition", "rest", "other_leg",
)
_POSTURE_OF: Final[Mapping[str, Posture]] = {
    "plantar_flexion": "seated", "ankle_circle": "lying", "toe_press": "standing",
    "toe_walk": "standing", "walk": "standing", "stairs_up": "standing",
    "stairs_down": "standing", "stand": "standing", "weight_shift": "standing",
    "sit": "seated", "fidget": "seated", "foot_tap": "seated", "leg_swing": "seated",
    "lie": "lying",
}
_TIMED: Final = ("walk", "stand", "weight_shift", "sit", "fidget", "foot_tap", "leg_swing",
                 "lie", "rest", "other_leg")


@dataclass(frozen=True, slots=True)
class Segment:
    """One step of a script.

    - exercises: ``reps`` (bouts for ``toe_walk``; circles per direction for
      ``ankle_circle``), ``direction`` ``"cw"``/``"ccw"`` for one circle direction or ``None``
      for both (clockwise first, as the routine says);
    - timed activities (``walk``, ``stand``, ``sit``, ``rest``, ``other_leg`` ...):
      ``duration_s``; ``stairs_up``/``stairs_down`` take ``reps`` as the number of stairs;
    - ``rest`` and ``other_leg`` take a ``posture`` (default: stay in the current one);
      ``other_leg`` names the ``exercise`` the other leg does meanwhile;
    - ``transition`` takes the target ``posture``;
    - ``params`` fine-tunes an activity: ``hold_s``, ``amplitude_deg`` (plantar flexion),
      ``period_s``, ``size_deg`` (circles), ``bout_min_s``, ``bout_max_s``, ``rest_s`` (toe
      walking).
    """

    activity: str
    duration_s: float | None = None
    reps: int | None = None
    direction: str | None = None
    exercise: str | None = None
    posture: Posture | None = None
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.activity not in ACTIVITIES:
            raise InputError(f"unknown activity {self.activity!r}; expected one of "
                             f"{', '.join(ACTIVITIES)}")
        if self.activity in _TIMED and (self.duration_s is None or self.duration_s <= 0):
            raise InputError(f"segment {self.activity!r} needs a positive duration_s")
        if self.activity in (*EXERCISES, "stairs_up", "stairs_down") and (
                self.reps is None or self.reps < 1):
            raise InputError(f"segment {self.activity!r} needs reps >= 1")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise InputError(f"direction must be cw, ccw or None, not {self.direction!r}")
        if self.posture is not None and self.posture not in POSTURES:
            raise InputError(f"posture must be one of {', '.join(POSTURES)}")
        if self.activity == "transition" and self.posture is None:
            raise InputError("a transition segment needs its target posture")
        if self.activity == "other_leg" and self.exercise is not None and (
                self.exercise not in EXERCISES):
            raise InputError(f"unknown exercise {self.exercise!r} for other_leg")

    @property
    def required_posture(self) -> Posture | None:
        """The posture the segment starts in (None: whatever the person is in)."""
        if self.activity in _POSTURE_OF:
            return _POSTURE_OF[self.activity]
        if self.activity in ("rest", "other_leg"):
            if self.posture is not None:
                return self.posture
            if self.activity == "other_leg" and self.exercise is not None:
                return _POSTURE_OF[self.exercise]
        return None

    def param(self, name: str, default: float) -> float:
        return float(self.params.get(name, default))


@dataclass(frozen=True, slots=True)
class Script:
    """A named list of segments, and the posture the session starts in."""

    name: str
    segments: tuple[Segment, ...]
    start_posture: Posture | None = None

    @property
    def initial_posture(self) -> Posture:
        if self.start_posture is not None:
            return self.start_posture
        for seg in self.segments:
            posture = seg.required_posture
            if posture is not None:
                return posture
        return "standing"


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 2)


def _pf_pair(rng: np.random.Generator) -> list[Segment]:
    own = Segment("plantar_flexion", reps=10)
    other = Segment("other_leg", duration_s=_u(rng, 80.0, 110.0), exercise="plantar_flexion")
    rest = Segment("rest", duration_s=_u(rng, 5.0, 15.0), posture="seated")
    return [own, rest, other] if rng.random() < 0.5 else [other, rest, own]


def _circle_pair(rng: np.random.Generator) -> list[Segment]:
    own = Segment("ankle_circle", reps=10)
    other = Segment("other_leg", duration_s=_u(rng, 30.0, 55.0), exercise="ankle_circle")
    rest = Segment("rest", duration_s=_u(rng, 3.0, 8.0), posture="lying")
    return [own, rest, other] if rng.random() < 0.5 else [other, rest, own]


def _default(rng: np.random.Generator) -> list[Segment]:
    return [
        Segment("stand", duration_s=_u(rng, 4.0, 8.0)),
        Segment("rest", duration_s=_u(rng, 3.0, 6.0), posture="seated"),
        *_pf_pair(rng),
        Segment("rest", duration_s=_u(rng, 5.0, 10.0), posture="seated"),
        Segment("walk", duration_s=_u(rng, 5.0, 9.0)),
        Segment("rest", duration_s=_u(rng, 3.0, 6.0), posture="lying"),
        *_circle_pair(rng),
        Segment("rest", duration_s=_u(rng, 3.0, 6.0), posture="lying"),
        Segment("walk", duration_s=_u(rng, 4.0, 8.0)),
        Segment("rest", duration_s=_u(rng, 3.0, 6.0), posture="standing"),
        Segment("toe_press", reps=10),
        Segment("rest", duration_s=_u(rng, 5.0, 12.0), posture="standing"),
        Segment("toe_walk", reps=10),
        Segment("stand", duration_s=_u(rng, 3.0, 6.0)),
    ]


def _everyday(rng: np.random.Generator) -> list[Segment]:
    return [
        Segment("stand", duration_s=_u(rng, 8.0, 15.0)),
        Segment("walk", duration_s=_u(rng, 35.0, 55.0)),
        Segment("weight_shift", duration_s=_u(rng, 15.0, 25.0)),
        Segment("stairs_up", reps=int(rng.integers(9, 15))),
        Segment("stand", duration_s=_u(rng, 2.0, 5.0)),
        Segment("walk", duration_s=_u(rng, 6.0, 10.0)),
        Segment("stairs_down", reps=int(rng.integers(9, 15))),
        Segment("walk", duration_s=_u(rng, 10.0, 20.0)),
        Segment("sit", duration_s=_u(rng, 15.0, 25.0)),
        Segment("fidget", duration_s=_u(rng, 30.0, 45.0)),
        Segment("foot_tap", duration_s=_u(rng, 10.0, 18.0)),
        Segment("leg_swing", duration_s=_u(rng, 20.0, 35.0)),
        Segment("sit", duration_s=_u(rng, 8.0, 15.0)),
        Segment("stand", duration_s=_u(rng, 4.0, 8.0)),
        Segment("walk", duration_s=_u(rng, 10.0, 15.0)),
        Segment("lie", duration_s=_u(rng, 20.0, 30.0)),
        Segment("stand", duration_s=_u(rng, 3.0, 6.0)),
        Segment("weight_shift", duration_s=_u(rng, 8.0, 15.0)),
        Segment("walk", duration_s=_u(rng, 15.0, 25.0)),
        Segment("stand", duration_s=_u(rng, 4.0, 8.0)),
    ]


def _mixed(rng: np.random.Generator) -> list[Segment]:
    return [
        Segment("stand", duration_s=_u(rng, 4.0, 8.0)),
        Segment("walk", duration_s=_u(rng, 20.0, 35.0)),
        Segment("sit", duration_s=_u(rng, 8.0, 15.0)),
        Segment("plantar_flexion", reps=10),
        Segment("fidget", duration_s=_u(rng, 15.0, 25.0)),
        Segment("foot_tap", duration_s=_u(rng, 8.0, 14.0)),
        Segment("walk", duration_s=_u(rng, 12.0, 20.0)),
        Segment("lie", duration_s=_u(rng, 8.0, 15.0)),
        Segment("ankle_circle", reps=10),
        Segment("lie", duration_s=_u(rng, 5.0, 10.0)),
        Segment("weight_shift", duration_s=_u(rng, 8.0, 15.0)),
        Segment("toe_press", reps=10),
        Segment("walk", duration_s=_u(rng, 12.0, 20.0)),
        Segment("toe_walk", reps=5),
        Segment("stairs_up", reps=int(rng.integers(9, 14))),
        Segment("walk", duration_s=_u(rng, 5.0, 9.0)),
        Segment("stairs_down", reps=int(rng.integers(9, 14))),
        Segment("sit", duration_s=_u(rng, 5.0, 10.0)),
        Segment("leg_swing", duration_s=_u(rng, 15.0, 25.0)),
        Segment("stand", duration_s=_u(rng, 4.0, 8.0)),
    ]


def _single(segment: Segment, posture: Posture) -> Callable[[np.random.Generator],
                                                             list[Segment]]:
    def build(rng: np.random.Generator) -> list[Segment]:
        return [
            Segment("rest", duration_s=_u(rng, 3.0, 6.0), posture=posture),
            segment,
            Segment("rest", duration_s=_u(rng, 3.0, 6.0), posture=posture),
        ]
    return build


def _walk(rng: np.random.Generator) -> list[Segment]:
    return [
        Segment("stand", duration_s=_u(rng, 3.0, 5.0)),
        Segment("walk", duration_s=_u(rng, 50.0, 70.0)),
        Segment("stand", duration_s=_u(rng, 3.0, 5.0)),
    ]


_BUILDERS: Final[Mapping[str, Callable[[np.random.Generator], list[Segment]]]] = {
    "default": _default,
    "everyday": _everyday,
    "mixed": _mixed,
    "plantar_flexion": _single(Segment("plantar_flexion", reps=10), "seated"),
    "ankle_circle": _single(Segment("ankle_circle", reps=10), "lying"),
    "toe_press": _single(Segment("toe_press", reps=10), "standing"),
    "toe_walk": _single(Segment("toe_walk", reps=10), "standing"),
    "walk": _walk,
}
#: The built-in script names, as ``sensord simulate --routine`` accepts them.
SCRIPT_NAMES: Final = tuple(_BUILDERS)


def builtin_script(name: str, rng: np.random.Generator) -> Script:
    """A built-in script by name; its durations and orders drawn from ``rng``."""
    try:
        build = _BUILDERS[name]
    except KeyError:
        raise InputError(f"unknown routine {name!r}; built-in scripts: "
                         f"{', '.join(SCRIPT_NAMES)}") from None
    return Script(name, tuple(build(rng)))
