"""Toe presses on a ball: grip with the toes, hold, release, standing.

An IMU cannot feel a toe grip. What it can see: the foot rests on a small ball (the baseline
pitch is flat to moderately toes-up), the grip lifts the forefoot and midfoot a few degrees on
the ball (a small excursion of the pitch with a plateau), and the loaded hold trembles. An
excursion is a press candidate when it is small, toes-up, held for a while and starts from that
posture. Alone that is weak evidence (fidgeting can look alike), so the recogniser opens a press
set only after several similar candidates in a row; see the README for the measured reliability.
"""

from __future__ import annotations

from typing import Final

from sensord.detect.base import RepCandidate
from sensord.detect.excursion import Excursion

EXERCISE: Final = "toe_press"
MIN_AMPLITUDE_DEG: Final = 1.0
MAX_AMPLITUDE_DEG: Final = 12.0
MIN_HOLD_S: Final = 0.3  # the recogniser asks more of the reps that open a set
#: The foot's pitch before the grip. The ball under the forefoot lifts it, but only relative to
#: a flat reference the mounting estimate learns from standing next to walking: someone who
#: straps on and starts pressing at once has none yet, so the bound stays wide.
BASELINE_PITCH_DEG: Final = (-8.0, 35.0)
MAX_ROLL_DEG: Final = 25.0


def classify(excursion: Excursion) -> RepCandidate | None:
    """The excursion as a toe-press rep candidate, or None."""
    amplitude = excursion.amplitude_deg  # the forefoot rises: pitch up
    if not MIN_AMPLITUDE_DEG <= amplitude <= MAX_AMPLITUDE_DEG:
        return None
    low, high = BASELINE_PITCH_DEG
    if not low <= excursion.baseline_deg <= high or abs(excursion.roll_deg) > MAX_ROLL_DEG:
        return None
    if excursion.hold_s < MIN_HOLD_S:
        return None
    return RepCandidate(
        exercise=EXERCISE,
        t_start=excursion.t_start,
        t_end=excursion.t_end,
        t_known=excursion.t_known,
        amplitude_deg=amplitude,
        hold_s=excursion.hold_s,
        posture="standing",
    )
