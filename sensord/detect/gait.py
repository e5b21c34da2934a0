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
from sensord.dsp.history import History, RotationLog, pitch_deg
from sensord.dsp.resample import GRID_DT_S

#: The swing lobe: medio-lateral rate below -SWING_ON (toes pitching up) for MIN_LOBE samples
#: while the foot turns faster than SWING_PEAK in all (a turning step swings partly in yaw).
SWING_ON_RAD_S: Final = 1.0
SWING_PEAK_RAD_S: Final = 2.5
MIN_LOBE: Final = 4
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
            speed=np.linalg.norm(gyro, axis=1),
            up_sensor=features.up_sensor,
            valid=features.valid.astype(np.float64),
        )
        self._rotations.extend(features.rotations)
        strides = self._scan()
        self._history.trim(min(self._scan_from, self._history.k_end - 100))
        self._rotations.forget_before(self._history.k_start)
        return strides

    def _scan(self) -> list[Stride]:
        h = self._history
        strides: list[Stride] = []
        limit = h.k_end - DECIDE_AFTER
        while self._scan_from < limit:
            # Look a bounded span ahead (a lobe longer than that is not a step).
            ml = h.get("ml", self._scan_from, min(limit, self._scan_from + 250))
            swinging = ml < -SWING_ON_RAD_S
            starts = np.flatnonzero(swinging & ~np.concatenate(([False], swinging[:-1])))
            if not starts.size:
                self._scan_from = min(limit, self._scan_from + 250)
                continue
            lobe_start = self._scan_from + int(starts[0])
            after = np.flatnonzero(~swinging[starts[0]:])
            if not after.size:
                if ml.shape[0] >= 250 and starts[0] == 0:
                    self._scan_from += 250  # an endless "lobe" is not a swing
                    continue
                # The lobe runs past what can be decided: wait for more samples.
                self._scan_from = lobe_start
                break
            lobe_end = lobe_start + int(after[0])  # first sample after the lobe
            if lobe_end + DECIDE_AFTER > h.k_end:
                self._scan_from = lobe_start
                break
            self._scan_from = lobe_end
            lobe_speed = h.get("speed", lobe_start, lobe_end)
            if lobe_speed.shape[0] < MIN_LOBE or lobe_speed.max() < SWING_PEAK_RAD_S:
                continue
            stride = self._contact(lobe_start, lobe_end)
            if stride is not None:
                strides.append(stride)
        return strides

    def _contact(self, lobe_start: int, lobe_end: int) -> Stride | None:
        h = self._history
        ml = h.get("ml", lobe_end - 1, lobe_end + CONTACT_SEARCH + 1)
        crossing = np.flatnonzero((ml[:-1] < 0.0) & (ml[1:] >= 0.0))
        if not crossing.size:
            return None
        i = lobe_end - 1 + int(crossing[0])
        a, b = float(h.get("ml", i, i + 1)[0]), float(h.get("ml", i + 1, i + 2)[0])
        t_land = (i + (-a) / (b - a)) * GRID_DT_S
        horizon = lobe_end + DECIDE_AFTER  # one past the last sample this decision may use
        speed = h.get("speed", i, min(i + STANCE_SEARCH, horizon))
        low = speed < STANCE_RAD_S
        run = np.convolve(low.astype(np.int64), np.ones(STANCE_MIN, dtype=np.int64), "valid")
        stance = np.flatnonzero(run == STANCE_MIN)
        if not stance.size:
            return None
        stance_start = i + int(stance[0])
        # Pitch in stance, seen through the mounting estimate in force when deciding (it may
        # have just learned the flat pose from the standing before this walk).
        end = min(stance_start + STANCE_PITCH_WINDOW, horizon)
        pitch = pitch_deg(h.get("up_sensor", stance_start, end), self._rotations.at(horizon - 1))
        window_speed = h.get("speed", stance_start, end)
        calm = pitch[window_speed < STANCE_RAD_S]
        stance_pitch = float(np.median(calm if calm.size else pitch))
        # Pitch at contact: the stance pitch minus the rotation between contact and stance.
        rate = -h.get("ml", i, stance_start)
        landing_pitch = stance_pitch - float(np.degrees(rate.sum() * GRID_DT_S))
        kind: StrideKind = "toe" if stance_pitch < TOE_STANCE_PITCH_DEG else "walk"
        valid = bool(h.get("valid", lobe_start, stance_start + 1).min() > 0.5)
        return Stride(
            t_land=round(t_land, 4),
            t_swing_start=lobe_start * GRID_DT_S,
            t_known=(horizon - 1) * GRID_DT_S,
            kind=kind,
            stance_pitch_deg=stance_pitch,
            landing_pitch_deg=landing_pitch,
            valid=valid,
        )
