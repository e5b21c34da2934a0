"""What detectors hand to the recogniser: candidate reps and strides, not yet events.

A detector says "this looked like a rep of X" with the measurements; the recogniser decides
whether a set of X is under way, and only then do candidates become events. That split is what
keeps everyday movement from being counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StrideKind = Literal["walk", "toe"]


@dataclass(frozen=True, slots=True)
class RepCandidate:
    """One complete movement that may be a rep of ``exercise``.

    Times in seconds on the sample clock. ``t_known`` is when the detector became certain (the
    sample time of the last sample it needed). ``amplitude_deg`` is the excursion (flexion, press)
    or the circle size. ``posture`` is the segment's attitude class during the movement.
    """

    exercise: str
    t_start: float
    t_end: float
    t_known: float
    amplitude_deg: float
    hold_s: float | None = None
    direction: Literal["cw", "ccw"] | None = None
    posture: str = ""


@dataclass(frozen=True, slots=True)
class Stride:
    """One stride of the instrumented foot, anchored at its landing (initial contact).

    ``stance_pitch_deg`` is the foot's pitch while it bears weight (about 0 heel-to-toe, well
    below 0 on tiptoe); ``landing_pitch_deg`` its pitch at contact (toes up in heel strikes).
    """

    t_land: float
    t_swing_start: float
    t_known: float
    kind: StrideKind
    stance_pitch_deg: float
    landing_pitch_deg: float
    valid: bool = True


@dataclass(frozen=True, slots=True)
class StreamBreak:
    """The stream broke after sample time ``t_known``; ``unseen_s`` seconds are missing.

    Trackers that judge by time between landings must not read the lost time as a rest.
    """

    t_known: float
    unseen_s: float
