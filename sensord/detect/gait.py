"""Strides and landings of the instrumented foot, and whether they were on tiptoe.

Method: the swing phase is a long lobe of the medio-lateral angular rate (the foot pitching
toes-up through the swing, after Rampp et al. 2015 and the gyroscope gait-event literature it
builds on); initial contact is the first zero crossing of that rate after the lobe, where the
foot stops pitching up and starts to roll onto the ground, confirmed by a stance (a short
interval of little rotation) right after. On the gaitmap recordings this lands within a few
milliseconds of motion-capture contacts. Each stride is then classified by the foot's pitch while
it bears weight: heel-to-toe gait has a flat mid-stance; toe walking stays plantarflexed
(15-40 degrees) and never reaches flat (Chalmers 2014: pitch is the feature).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sensord.detect.base import Stride, StrideKind
from sensord.dsp.frontend import Features
from sensord.dsp.history import History, RotationLog, median, pitch_deg
from sensord.dsp.resample import GRID_DT_S
from sensord.model import FloatArray

#: The swing lobe: medio-lateral rate below -SWING_ON (toes pitching up) for MIN_LOBE samples
#: while the foot turns faster than SWING_PEAK in all (a turning step swings partly in yaw).
SWING_ON_RAD_S: Final = 1.0
SWING_PEAK_RAD_S: Final = 2.5
MIN_LOBE: Final = 4
MAX_LOBE: Final = 100  # 2 s: a longer "swing" is not a step
#: Contact follows the lobe within this many samples.
CONTACT_SEARCH: Final = 15
#: Stance: |gyro| below STANCE_RAD_S for STANCE_MIN samples within STANCE_SEARCH after contact.
STANCE_RAD_S: Final = 1.0
STANCE_MIN: Final = 3
STANCE_SEARCH: Final = 20
#: A stride is decided this many samples after its swing lobe ends (0.8 s): contact search,
#: stance search and the stance pitch window all fit inside.
DECIDE_AFTER: Final = 40
STANCE_PITCH_WINDOW: Final = 10
#: Stance pitch below this (toes down, degrees) means the foot stayed on tiptoe.
TOE_STANCE_PITCH_DEG: Final = -12.0


class GaitDetector:
    """Streaming stride detection (see the module docstring)."""

    def __init__(self) -> None:
        self._history = History(keep=200)
        self._scan_from = 0
        self._rotations = RotationLog()

    def reset(self) -> None:
        self._history = History(keep=200)
        self._scan_from = 0
        self._rotations.reset()

    def update(self, features: Features) -> list[Stride]:
        if features.new_segment or self._history.k_end != features.k0:
            self._history.reset(features.k0)
            self._scan_from = features.k0
        gyro = features.gyro_rad_s
        self._history.append(
            features.k0,
            ml=gyro[:, 1],
            speed=np.sqrt(np.einsum("ij,ij->i", gyro, gyro)),
            up_sensor=features.up_sensor,
            valid=features.valid.astype(np.float64),
        )
        self._rotations.extend(features.rotations)
        strides = self._scan()
        self._history.trim(min(self._scan_from, self._history.k_end - 100))
        self._rotations.forget_before(self._history.k_start)
        return strides

    def _scan(self) -> list[Stride]:
        """Decides every swing lobe that has DECIDE_AFTER samples after it, all at once."""
        h = self._history
        lo = self._scan_from
        n = h.k_end - lo
        if n < DECIDE_AFTER + MIN_LOBE:
            return []
        ml = h.get("ml", lo, h.k_end)
        speed = h.get("speed", lo, h.k_end)
        swinging = ml < -SWING_ON_RAD_S
        edges = np.diff(np.concatenate(([0], swinging.astype(np.int8), [0])))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)  # first sample after each lobe
        decidable = ends + DECIDE_AFTER <= n
        if not decidable.all():
            # Wait at the first lobe that cannot be decided yet (unless it is endless).
            first = int(np.argmin(decidable))
            if ends[first] - starts[first] > MAX_LOBE:
                decidable[first] = True
            else:
                decidable[first:] = False
                self._scan_from = lo + int(starts[first])
        if decidable.all():
            self._scan_from = lo + max(n - DECIDE_AFTER, int(ends[-1]) if ends.size else 0)
        starts, ends = starts[decidable], ends[decidable]
        if not starts.size:
            return []
        peaks = np.maximum.reduceat(speed, np.column_stack((starts, ends)).ravel())[::2]
        length = ends - starts
        keep = (length >= MIN_LOBE) & (length <= MAX_LOBE) & (peaks >= SWING_PEAK_RAD_S)
        starts, ends = starts[keep], ends[keep]
        # Contact: the first upward zero crossing of the rate at or after the lobe's last sample.
        crossings = np.flatnonzero((ml[:-1] < 0.0) & (ml[1:] >= 0.0))
        at = np.searchsorted(crossings, ends - 1)
        # Stance: the first of STANCE_MIN consecutive calm samples.
        low = speed < STANCE_RAD_S
        calm_runs = np.flatnonzero(low[:-2] & low[1:-1] & low[2:])
        strides: list[Stride] = []
        for lobe_start, lobe_end, j in zip(starts.tolist(), ends.tolist(), at.tolist(),
                                           strict=True):
            if j >= crossings.size or crossings[j] > lobe_end - 1 + CONTACT_SEARCH:
                continue
            i = int(crossings[j])
            horizon = lobe_end + DECIDE_AFTER  # one past the last sample this decision may use
            k = int(np.searchsorted(calm_runs, i))
            if k >= calm_runs.size or calm_runs[k] > min(i + STANCE_SEARCH, horizon) - STANCE_MIN:
                continue
            strides.append(self._stride(lo, ml, speed, lobe_start, i, int(calm_runs[k]), horizon))
        return strides

    def _stride(  # noqa: PLR0917 - indices of one stride, all needed
        self, lo: int, ml: FloatArray, speed: FloatArray, lobe_start: int, i: int,
        stance_start: int, horizon: int,
    ) -> Stride:
        """Measures one stride (indices relative to ``lo``; ``i`` is the sample before contact)."""
        a, b = float(ml[i]), float(ml[i + 1])
        t_land = (lo + i + (-a) / (b - a)) * GRID_DT_S
        # Pitch in stance, seen through the mounting estimate in force when deciding (it may
        # have just learned the flat pose from the standing before this walk).
        end = min(stance_start + STANCE_PITCH_WINDOW, horizon)
        rotation = self._rotations.at(lo + horizon - 1)
        pitch = pitch_deg(self._history.get("up_sensor", lo + stance_start, lo + end), rotation)
        calm = pitch[speed[stance_start:end] < STANCE_RAD_S]
        stance_pitch = median(calm if calm.size else pitch)
        # Pitch at contact: the stance pitch minus the rotation between contact and stance.
        landing_pitch = stance_pitch + float(np.degrees(ml[i:stance_start].sum() * GRID_DT_S))
        kind: StrideKind = "toe" if stance_pitch < TOE_STANCE_PITCH_DEG else "walk"
        valid = bool(self._history.get("valid", lo + lobe_start, lo + stance_start + 1).min() > 0.5)
        return Stride(
            t_land=round(t_land, 4),
            t_swing_start=(lo + lobe_start) * GRID_DT_S,
            t_known=(lo + horizon - 1) * GRID_DT_S,
            kind=kind,
            stance_pitch_deg=stance_pitch,
            landing_pitch_deg=landing_pitch,
            valid=valid,
        )
