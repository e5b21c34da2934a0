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
SWING_ON_RAD_S: Final = 0.8
SWING_PEAK_RAD_S: Final = 2.5
MIN_LOBE: Final = 3
MAX_LOBE: Final = 100  # 2 s: a longer "swing" is not a step
LOOK_BACK: Final = 40  # samples kept before the scan point for the stance before a swing
STUCK_SAMPLES: Final = 3000  # a "swing" running for a minute is a sensor fault
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
TOE_STANCE_PITCH_DEG: Final = -10.0
#: A tiptoe stride that rises or drops more than this is a stair.
MAX_TIPTOE_CLIMB_M: Final = 0.15
GRAVITY_M_S2: Final = 9.81
#: A heel strike rocks the foot down onto its sole by this much or more after contact.
HEEL_ROCK_DEG: Final = 10.0


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
            acc=features.acc_m_s2,
            gyro=gyro,
            valid=features.valid.astype(np.float64),
        )
        self._rotations.extend(features.rotations)
        strides = self._scan()
        self._history.trim(min(self._scan_from - LOOK_BACK, self._history.k_end - 100))
        self._rotations.forget_before(self._history.k_start)
        return strides

    def _scan(self) -> list[Stride]:
        """Decides every swing that has DECIDE_AFTER samples after it, all at once.

        A swing is the run of lobes (rate below -SWING_ON) before one upward zero crossing: a
        brief slowdown can split a swing in two, and both parts share the contact. Grouping by
        the crossing depends only on the samples, so the result does not depend on how they
        arrived.
        """
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
        ends = np.flatnonzero(edges == -1)  # first sample after each lobe (n: still running)
        crossings = np.flatnonzero((ml[:-1] < 0.0) & (ml[1:] >= 0.0))
        at = np.searchsorted(crossings, ends - 1)
        low = speed < STANCE_RAD_S
        calm_runs = np.flatnonzero(low[:-2] & low[1:-1] & low[2:])
        strides: list[Stride] = []
        next_scan = lo + max(0, n - DECIDE_AFTER)
        group = 0
        while group < starts.size:
            last = group
            while last + 1 < starts.size and at[last + 1] == at[group]:
                last += 1
            first_start, last_end, j = int(starts[group]), int(ends[last]), int(at[group])
            group = last + 1
            if j >= crossings.size or last_end + DECIDE_AFTER > n:
                next_scan = lo + first_start  # not decidable yet: come back for it
                break
            if crossings[j] > last_end - 1 + CONTACT_SEARCH:
                continue
            length = last_end - first_start
            peak = float(speed[first_start:last_end].max())
            if length < MIN_LOBE or length > MAX_LOBE or peak < SWING_PEAK_RAD_S:
                continue
            i = int(crossings[j])
            horizon = last_end + DECIDE_AFTER  # one past the last sample this decision may use
            k = int(np.searchsorted(calm_runs, i))
            if k >= calm_runs.size or calm_runs[k] > min(i + STANCE_SEARCH, horizon) - STANCE_MIN:
                continue
            strides.append(self._stride(lo, ml, speed, first_start, i, int(calm_runs[k]), horizon))
        if next_scan - lo > STUCK_SAMPLES:
            next_scan = h.k_end - DECIDE_AFTER  # a sensor fault, not a swing: give up on it
        self._scan_from = next_scan
        return strides

    def _climb_m(self, lo: int, lobe_start: int, stance_start: int) -> float:
        """Height gained by the foot from the stance before the swing to the stance after it.

        Strapdown integration with zero-velocity updates at both stances (the foot is still
        there), after Foxlin 2005: orientation from the gyro starting level with the stance's
        gravity, specific force to the world frame, gravity removed, velocity integrated and its
        drift removed so it ends at zero, then position.
        """
        h = self._history
        # Absolute indices: the look-back must not depend on where this scan began.
        swing = lo + lobe_start
        calm = np.flatnonzero(h.get("speed", swing - LOOK_BACK, swing) < STANCE_RAD_S)
        if calm.size < 3:
            return 0.0
        # From the last calm samples of the stance before the swing to the calm stance after.
        first = swing - LOOK_BACK + int(calm[-3])
        acc = h.get("acc", first, lo + stance_start + 3)
        gyro = h.get("gyro", first, lo + stance_start + 3)
        if acc.shape[0] < 8:
            return 0.0
        # Level the start: rotate the stance's gravity onto world z.
        still = acc[:3].mean(axis=0)
        up = still / np.linalg.norm(still)
        axis = np.cross(up, (0.0, 0.0, 1.0))
        level = _rodrigues(axis / max(np.linalg.norm(axis), 1e-12) * float(
            np.arccos(np.clip(up[2], -1.0, 1.0))))[0]
        turned = _rodrigues(np.cumsum(gyro, axis=0) * GRID_DT_S - gyro[0] * GRID_DT_S)
        world = np.einsum("ij,njk,nk->ni", level, turned, acc)
        world[:, 2] -= GRAVITY_M_S2
        velocity = np.cumsum(world, axis=0) * GRID_DT_S
        velocity -= np.outer(np.linspace(0.0, 1.0, velocity.shape[0]), velocity[-1])
        return float(np.sum(velocity[:, 2]) * GRID_DT_S)

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
        # On tiptoe the foot stays plantarflexed through stance and lands without the heel
        # strike's toes-up rocking onto a flat foot. The second test needs no flat reference,
        # so a strap pitched on the foot cannot turn heel-to-toe walking into toe walking.
        heel_rock = landing_pitch - stance_pitch
        tiptoe = stance_pitch < TOE_STANCE_PITCH_DEG and heel_rock < HEEL_ROCK_DEG
        # Stairs land on the forefoot too; a step up or down is the tell.
        climb = self._climb_m(lo, lobe_start, stance_start) if tiptoe else 0.0
        kind: StrideKind = "toe" if tiptoe and abs(climb) < MAX_TIPTOE_CLIMB_M else "walk"
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


def _rodrigues(vectors: FloatArray) -> FloatArray:
    """Rotation matrices (n, 3, 3) of rotation vectors (n, 3) (or one vector)."""
    vectors = np.atleast_2d(vectors)
    angle = np.linalg.norm(vectors, axis=1)
    safe = np.where(angle > 1e-12, angle, 1.0)
    k = vectors / safe[:, None]
    zero = np.zeros_like(angle)
    cross = np.stack((
        np.stack((zero, -k[:, 2], k[:, 1]), 1),
        np.stack((k[:, 2], zero, -k[:, 0]), 1),
        np.stack((-k[:, 1], k[:, 0], zero), 1),
    ), 1)
    sin = np.sin(angle)[:, None, None]
    cos = np.cos(angle)[:, None, None]
    result: FloatArray = np.eye(3) + sin * cross + (1.0 - cos) * (cross @ cross)
    return result
