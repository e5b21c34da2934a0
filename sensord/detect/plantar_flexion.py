"""Resisted plantar flexion: point the toes against a band, hold, return.

An excursion (sensord.detect.excursion) is a plantar-flexion rep when the toes went down (the
pitch fell) by at least ``MIN_AMPLITUDE_DEG`` and the foot came back. Its ``hold_s`` is the
excursion's plateau time. The posture is not required: how upright the foot rests depends on the
leg and on where the strap sits on the instep; the recogniser asks for held reps in a row
instead.
"""

from __future__ import annotations

from typing import Final

from sensord.detect.base import RepCandidate
from sensord.detect.excursion import Excursion

EXERCISE: Final = "plantar_flexion"
MIN_AMPLITUDE_DEG: Final = 12.0
MAX_AMPLITUDE_DEG: Final = 60.0  # beyond the ankle's plantar flexion range from rest


def classify(excursion: Excursion) -> RepCandidate | None:
    """The excursion as a plantar-flexion rep candidate, or None."""
    amplitude = -excursion.amplitude_deg  # toes down is a falling pitch
    if not MIN_AMPLITUDE_DEG <= amplitude <= MAX_AMPLITUDE_DEG:
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
