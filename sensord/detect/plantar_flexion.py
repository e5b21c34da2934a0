"""Resisted plantar flexion: point the toes against a band, hold, return.

An excursion (sensord.detect.excursion) is a plantar-flexion rep when the toes went down (the
pitch fell) by at least ``MIN_AMPLITUDE_DEG`` from a baseline where the foot stands up from the
floor with the leg extended (the seated posture of the routine), and the foot came back. Its
``hold_s`` is the excursion's plateau time.
"""

from __future__ import annotations

from typing import Final

from sensord.detect.base import RepCandidate
from sensord.detect.excursion import Excursion

EXERCISE: Final = "plantar_flexion"
MIN_AMPLITUDE_DEG: Final = 12.0
MAX_AMPLITUDE_DEG: Final = 80.0
#: Seated with the leg out in front the foot points up: the baseline pitch is steep.
MIN_BASELINE_PITCH_DEG: Final = 25.0


def classify(excursion: Excursion) -> RepCandidate | None:
    """The excursion as a plantar-flexion rep candidate, or None."""
    amplitude = -excursion.amplitude_deg  # toes down is a falling pitch
    if not MIN_AMPLITUDE_DEG <= amplitude <= MAX_AMPLITUDE_DEG:
        return None
    if excursion.baseline_deg < MIN_BASELINE_PITCH_DEG:
        return None
    return RepCandidate(
        exercise=EXERCISE,
        t_start=excursion.t_start,
        t_end=excursion.t_end,
        t_known=excursion.t_known,
        amplitude_deg=amplitude,
        hold_s=excursion.hold_s,
        posture="seated",
    )
