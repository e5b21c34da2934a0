"""The pipeline's front end: grid samples in, calibrated features in the segment frame out.

Per 50 Hz grid sample it yields gravity direction and foot angles (smoothed accelerometer), the
bias-corrected gyro in the segment frame, raw specific force for impacts, and a rest flag. All
windows are centred, so every output lags the newest input by ``LATENCY_SAMPLES`` (0.24 s) and
has no phase lag of its own. Calibration (gyro bias while still, the mounting) is updated at
sample indices fixed by the data, so the output does not depend on block boundaries.

Why no AHRS: the routine's movements are slow (gravity from a 0.26 s mean of the accelerometer is
within a degree or two of the truth there), circles are read from the gyro directly, and gait
needs the foot angle only while the foot rests on the ground. A per-sample filter in Python would
cost more than the whole pipeline (see bench/bench_pipeline.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sensord.dsp.history import rotate, sum3, where_true
from sensord.dsp.mounting import MountingEstimator
from sensord.dsp.resample import GRID_DT_S, GRID_RATE_HZ, GridChunk
from sensord.dsp.windows import RunningSums
from sensord.model import FloatArray, Placement

GRAVITY_M_S2: Final = 9.81
#: Half-widths (samples) of the centred windows.
TILT_HALF: Final = 6  # 0.26 s: averages out 6-12 Hz tremor (nulls near 7.7 and 11.5 Hz)
GYRO_HALF: Final = 2  # 0.1 s
REST_HALF: Final = 7  # 0.3 s
LATENCY_SAMPLES: Final = REST_HALF
#: Rest: gyro and accelerometer variance (summed over axes) and |mean acc| near 1 g.
REST_GYRO_VAR: Final = 0.05**2
REST_ACC_VAR: Final = 0.12**2
REST_ACC_TOL_M_S2: Final = 0.6
BIAS_WINDOW: Final = 250  # 5 s: the most recent rest used for the gyro bias
MAX_BIAS_RAD_S: Final = 0.2  # larger "biases" are slow motion, not sensor offset

#: Gait near a still period (frame-free): fast swings and impacts within GAIT_WINDOW samples.
GAIT_WINDOW: Final = 150  # 3 s
FAST_RAD_S: Final = 2.5
IMPACT_M_S2: Final = 16.0
GAIT_MIN_FAST: Final = 10
GAIT_MIN_IMPACTS: Final = 2
_KEEP: Final = max(BIAS_WINDOW, GAIT_WINDOW) + 4 * REST_HALF

# Channel layout of the running sums.
_ACC: Final = slice(0, 3)
_GYRO: Final = slice(3, 6)
_ACC2: Final = slice(6, 9)
_GYRO2: Final = slice(9, 12)
_VALID: Final = 12
_FAST: Final = 13
_IMPACT: Final = 14
_SUMMED: Final = 15  # the channels above have running sums; the norms below are only kept
_GYRO_NORM: Final = 15
_ACC_NORM: Final = 16
_CHANNELS: Final = 17


@dataclass(frozen=True, slots=True)
class _PendingStill:
    """A finished still period waiting (up to GAIT_WINDOW) to learn whether gait follows."""

    end: int
    sums_at_end: FloatArray
    gravity: FloatArray
    duration_s: float
    gait_before: bool


@dataclass(frozen=True, slots=True)
class Features:
    """Front-end output for consecutive grid samples ``k0 ..`` of one unbroken segment.

    Shapes (n,) or (n, 3); vectors are in the segment frame (x forward, y left, z up; see
    sensord.dsp.mounting). ``up`` is the unit specific-force direction (points up when still).
    ``pitch_deg`` is positive with the toes (front) up; ``roll_deg`` positive with the left edge
    up. ``up_sensor`` is ``up`` in sensor axes and ``rotations`` the mounting estimates in force
    (from which absolute index), for detectors that re-project with a later estimate.
    ``new_segment`` marks the first chunk after a break in the stream.
    """

    k0: int
    t_s: FloatArray
    valid: NDArray[np.bool_]
    still: NDArray[np.bool_]
    acc_m_s2: FloatArray
    acc_norm_m_s2: FloatArray
    gyro_rad_s: FloatArray
    gyro_lp_rad_s: FloatArray
    up: FloatArray
    pitch_deg: FloatArray
    roll_deg: FloatArray
    up_sensor: FloatArray
    rotations: tuple[tuple[int, FloatArray], ...]
    new_segment: bool

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def rotation_at(self, index: int) -> FloatArray:
        """The mounting rotation in force at absolute grid ``index`` (within this chunk)."""
        current = self.rotations[0][1]
        for start, matrix in self.rotations:
            if start > index:
                break
            current = matrix
        return current


class FrontEnd:
    """Streaming feature extraction; see the module docstring."""

    def __init__(self, placement: Placement = "instep") -> None:
        self.mounting = MountingEstimator(placement)
        self._sums = RunningSums(_CHANNELS, _KEEP, _SUMMED)
        self._next: int | None = None  # next centre index to output (None: no segment)
        self._new_segment = True
        self._bias: FloatArray = np.zeros(3)
        self._was_still = False
        self._run_start = 0  # centre index where the current still run began
        self._run_cs: FloatArray = np.zeros(_SUMMED)  # running sums at the run's start
        self._run_gait_before = False
        self._pending: list[_PendingStill] = []

    @property
    def gyro_bias_rad_s(self) -> FloatArray:
        return self._bias.copy()

    def feed(self, chunk: GridChunk) -> list[Features]:
        out: list[Features] = []
        if self._next is None or chunk.k0 != self._sums.k_end:
            self._end_segment()
            self._sums.reset(chunk.k0)
            self._next = chunk.k0 + REST_HALF
            self._new_segment = True
        acc = chunk.acc_m_s2
        gyro = chunk.gyro_rad_s
        n = len(chunk)
        values = self._sums.reserve(n)
        values[:, _ACC] = acc
        values[:, _GYRO] = gyro
        values[:, _VALID] = chunk.valid
        # Squares from the chunk's own (contiguous) arrays: on column slices of ``values``
        # numpy loops over a few channels per row, several times slower in large chunks.
        acc2 = acc * acc
        gyro2 = gyro * gyro
        values[:, _ACC2] = acc2
        values[:, _GYRO2] = gyro2
        # |gyro| and |acc| as np.linalg.norm computes them (the same sums of the same squares),
        # kept as channels: the features report |acc| of these samples once they are centres.
        gyro_norm, acc_norm = values[:, _GYRO_NORM], values[:, _ACC_NORM]
        np.sqrt(sum3(gyro2), out=gyro_norm)
        np.sqrt(sum3(acc2), out=acc_norm)
        np.greater(gyro_norm, FAST_RAD_S, out=values[:, _FAST])
        np.greater(acc_norm, IMPACT_M_S2, out=values[:, _IMPACT])
        self._sums.commit(n)
        last = self._sums.k_end - 1 - REST_HALF
        if last >= self._next:
            out.append(self._features(self._next, last + 1))
            self._next = last + 1
        self._sums.trim()
        return out

    def _end_segment(self) -> None:
        if self._next is None:
            return
        if self._was_still:
            self._finish_still_run(self._next)
        for pending in self._pending:
            self._apply_still(pending, near_after=False)
        self._pending = []
        self._was_still = False

    def _gait_near(self, lo: int, hi: int) -> bool:
        lo = max(lo, self._sums.k_start)
        hi = min(hi, self._sums.k_end)
        if hi <= lo:
            return False
        return self._gait_reached(self._sums.span(lo, hi, _FAST, _IMPACT + 1))

    def _start_still_run(self, start: int) -> None:
        self._run_start = start
        self._run_cs = self._sums.cumulative_at(start)
        self._run_gait_before = self._gait_near(start - GAIT_WINDOW, start)

    def _finish_still_run(self, end: int) -> None:
        duration = (end - self._run_start) * GRID_DT_S
        if duration < self.mounting.min_flat_s:
            return  # too short to tell the flat pose (a stance phase, a pause)
        total = self._sums.cumulative_at(end) - self._run_cs
        gravity = total[_ACC] / float(end - self._run_start)
        self._pending.append(_PendingStill(
            end, self._sums.cumulative_at(end), gravity, duration, self._run_gait_before))

    def _apply_still(self, pending: _PendingStill, *, near_after: bool) -> None:
        near = pending.gait_before or near_after
        self.mounting.add_still(pending.gravity, pending.duration_s, near_gait=near)

    def _due(self, pending: _PendingStill, lo: int, stop: int) -> tuple[int, bool]:
        """When a pending still period is settled: the first index in ``[lo, stop)`` by which
        gait has followed it, else its deadline; and whether gait did follow."""
        deadline = pending.end + GAIT_WINDOW
        first = max(lo, pending.end + 1)
        last = min(stop, deadline)
        # The counts only grow with the index: none is reached in the range unless both are
        # at its end (the usual case is a still period with no gait after it).
        if last > first and self._gait_counts_reached(
                self._sums.cumulative_at(last - 1) - pending.sums_at_end):
            counts = self._sums.cumulative(first, last) - pending.sums_at_end
            hit = where_true(
                (counts[:, _FAST] >= GAIT_MIN_FAST) & (counts[:, _IMPACT] >= GAIT_MIN_IMPACTS))
            if hit.size:
                return first + int(hit[0]), True
        return deadline, False

    @staticmethod
    def _gait_reached(counts: FloatArray) -> bool:
        """Whether counts of fast samples and impacts (in that order) are those of gait."""
        fast, impacts = counts.tolist()
        return bool(fast >= GAIT_MIN_FAST and impacts >= GAIT_MIN_IMPACTS)

    @staticmethod
    def _gait_counts_reached(counts: FloatArray) -> bool:
        return bool(counts[_FAST] >= GAIT_MIN_FAST and counts[_IMPACT] >= GAIT_MIN_IMPACTS)

    def _features(self, first: int, stop: int) -> Features:
        """Features of the centre indices ``[first, stop)``."""
        sums = self._sums
        n = stop - first
        still = self._still(first, n)
        raw = sums.run(first, n)
        tilt = sums.window_run(first, n, TILT_HALF, _ACC.start, _ACC.stop) / (2 * TILT_HALF + 1)
        gyro_lp = sums.window_run(first, n, GYRO_HALF, _GYRO.start, _GYRO.stop) / (
            2 * GYRO_HALF + 1)

        # Still runs: where they start and end among these centres (most blocks have none).
        was_still = self._was_still
        flagged = np.count_nonzero(still)
        if flagged == n if was_still else not flagged:
            changed = np.empty(0, dtype=np.intp)  # the usual case: still (or not) throughout
        else:
            changed = where_true(still[1:] != still[:-1]) + 1
            if bool(still[0]) != was_still:
                changed = np.concatenate(([0], changed))
        if changed.size:
            centres = np.arange(first, stop)
            prev = np.concatenate(([was_still], still[:-1]))
            run_start = np.where(still & ~prev, centres, -1)
            run_start = np.maximum.accumulate(
                np.concatenate(([self._run_start], run_start)))[1:]
            bias = self._bias_for(first, still, run_start)
            # Still-run bookkeeping, in index order (it does not depend on the rotation).
            for i in changed.tolist():
                if still[i]:
                    self._start_still_run(first + i)
                else:
                    self._run_start = int(run_start[i - 1]) if i > 0 else self._run_start
                    self._finish_still_run(first + i)
            self._run_start = int(run_start[-1])
        elif was_still:
            bias = self._bias_resting(first, still)
        else:
            bias = self._bias  # no rest among these samples: the bias is held
        self._was_still = bool(still[-1])
        # Every vector through the rotation in force below, all four kinds at once.
        stacked = np.empty((4, n, 3))
        gyro_raw = np.subtract(raw[:, _GYRO], bias, out=stacked[1])

        # The rotation changes only at axis updates and when a still period settles.
        every = self.mounting.axis_update_every
        changes: list[tuple[int, int, _PendingStill | None, bool]] = [
            (k, 1, None, False) for k in range(-(-first // every) * every, stop, every)
        ]
        for waiting in self._pending:
            index, near = self._due(waiting, first, stop)
            if index < stop:
                changes.append((index, 0, waiting, near))
        if len(changes) > 1:
            changes.sort(key=lambda c: (c[0], c[1]))
        # Swings count towards the medio-lateral axis only amid gait (fast turns and impacts
        # nearby), not while tapping, fidgeting or changing posture.
        raw_acc = raw[:, _ACC]
        self.mounting.stage_swings(self._swing_gyro(first, n, gyro_raw), raw_acc)
        rotations: list[tuple[int, FloatArray]] = []
        lo = first
        for index, kind, settled, near in changes:
            if index > lo:
                if not rotations or rotations[-1][1] is not self.mounting.rotation:
                    rotations.append((lo, self.mounting.rotation))
                self.mounting.take_swings(index - first)
                lo = index
            if settled is not None:
                self._pending = [p for p in self._pending if p is not settled]
                self._apply_still(settled, near_after=near)
            elif kind == 1:
                self.mounting.update_axis()
        if not rotations or rotations[-1][1] is not self.mounting.rotation:
            rotations.append((lo, self.mounting.rotation))
        self.mounting.take_swings(n)

        np.divide(tilt, np.sqrt(sum3(tilt * tilt))[:, None], out=stacked[0])
        np.subtract(gyro_lp, bias, out=stacked[2])
        stacked[3] = raw_acc
        if len(rotations) == 1:
            turned = rotate(stacked, rotations[0][1])
        else:
            turned = np.empty_like(stacked)
            bounds = [start - first for start, _ in rotations] + [n]
            for (_, matrix), a, b in zip(rotations, bounds[:-1], bounds[1:], strict=True):
                turned[:, a:b] = rotate(stacked[:, a:b], matrix)
        up = turned[0]
        angles = np.degrees(np.arctan2(up[:, :2], up[:, 2:3]))
        features = Features(
            k0=first,
            t_s=np.arange(first, stop, dtype=np.float64) * GRID_DT_S,
            valid=raw[:, _VALID] > 0.5,
            still=still,
            acc_m_s2=turned[3],
            acc_norm_m_s2=raw[:, _ACC_NORM].copy(),
            gyro_rad_s=turned[1],
            gyro_lp_rad_s=turned[2],
            up=up,
            pitch_deg=angles[:, 0],
            roll_deg=angles[:, 1],
            up_sensor=stacked[0],
            rotations=tuple(rotations),
            new_segment=self._new_segment,
        )
        self._new_segment = False
        return features

    def _still(self, first: int, n: int) -> NDArray[np.bool_]:
        """The rest flag of the ``n`` centres from ``first``.

        Window means written one row per channel: numpy is several times slower looping over
        a few channels of each sample than along a channel. Squared
        means of acc and gyro, then variances per axis (mean square minus squared mean), six
        channels per call, each summed over its axes as ``sum3`` does."""
        means = self._sums.window_means_by_channel(first, n, REST_HALF, 0, _SUMMED)
        squared = means[_ACC.start:_GYRO.stop] ** 2
        var = means[_ACC2.start:_GYRO2.stop] - squared
        still: NDArray[np.bool_] = var[3] + var[4] + var[5] < REST_GYRO_VAR
        if np.count_nonzero(still):  # (in motion the gyro test alone says no rest anywhere)
            acc_mean_norm = np.sqrt(squared[0] + squared[1] + squared[2])
            still &= (
                (var[0] + var[1] + var[2] < REST_ACC_VAR)
                & (np.abs(acc_mean_norm - GRAVITY_M_S2) < REST_ACC_TOL_M_S2)
                & (means[_VALID] > 0.999)
            )
        return still

    def _swing_gyro(self, first: int, n: int, gyro_raw: FloatArray) -> FloatArray | None:
        """The gyro where gait is near the ``n`` centres from ``first``, zero elsewhere (None:
        nowhere). Gait counts over every centre's window are at most those over the union of
        the windows: when that falls short (the usual case) no window needs summing."""
        sums = self._sums
        hi = first + REST_HALF + 1
        if not self._gait_reached(
                sums.span(max(hi - GAIT_WINDOW, sums.k_start), hi + n - 1, _FAST, _IMPACT + 1)):
            return None
        around = sums.trailing_run(hi, n, GAIT_WINDOW, _FAST, _IMPACT + 1)
        gait = (around[:, 0] >= GAIT_MIN_FAST) & (around[:, 1] >= GAIT_MIN_IMPACTS)
        if not np.count_nonzero(gait):
            return None
        swing: FloatArray = np.where(gait[:, None], gyro_raw, 0.0)
        return swing

    def _bias_resting(self, first: int, still: NDArray[np.bool_]) -> FloatArray:
        """``_bias_for`` when every sample goes on with the current still run (the usual case
        at rest), summed from slices instead of index arrays: once the run is 5 s long every
        mean is over the same number of samples before it; before that every mean starts
        where the run does."""
        n = still.shape[0]
        hi = first + REST_HALF + 1
        lo = max(self._run_start - REST_HALF, self._sums.k_start)
        if hi - BIAS_WINDOW >= lo:
            means = self._sums.run_sums(hi - BIAS_WINDOW, n, BIAS_WINDOW, _GYRO) / BIAS_WINDOW
        elif hi + n - 1 - BIAS_WINDOW <= lo:
            counts = np.arange(hi - lo, hi - lo + n)
            means = self._sums.since(lo, hi, n, _GYRO) / counts[:, None]
        else:
            return self._bias_for(first, still, None)
        if not _below_max_bias(sum3(means * means)):
            return self._bias_for(first, still, None)
        self._bias = means[-1].copy()
        return means

    def _bias_for(
        self, first: int, still: NDArray[np.bool_], run_start: NDArray[np.int64] | None
    ) -> FloatArray:
        """Gyro bias per sample: the mean gyro over the current rest (up to 5 s), held after.

        ``run_start`` is the start of the still run at each sample (None: ``_run_start`` for
        all of them)."""
        n = still.shape[0]
        idx = where_true(still)
        if not idx.size:
            return self._bias  # the same for every sample (broadcast by the callers)
        hi = idx + (first + REST_HALF + 1)
        starts = self._run_start if run_start is None else run_start[idx]
        lo = np.maximum(starts - REST_HALF, hi - BIAS_WINDOW)
        lo = np.maximum(lo, self._sums.k_start)
        means = self._sums.range_sums(lo, hi, _GYRO) / (hi - lo)[:, None]
        squares = sum3(means * means)
        if idx.size == n and _below_max_bias(squares):
            self._bias = means[-1].copy()
            return means
        plausible = np.sqrt(squares) < MAX_BIAS_RAD_S
        # Row 0 the held bias, row 1 + i the mean at sample i where plausible; each sample
        # takes the last such row at or before it (one gather instead of masked copies).
        rows = np.empty((n + 1, 3))
        rows[0] = self._bias
        idx = idx[plausible]
        rows[idx + 1] = means[plausible]
        source = np.zeros(n, dtype=np.intp)
        source[idx] = idx + 1
        bias: FloatArray = rows[np.maximum.accumulate(source)]
        if n:
            self._bias = bias[-1].copy()
        return bias


def _below_max_bias(squares: FloatArray) -> bool:
    """Whether every bias of these squared norms is plausible (under MAX_BIAS_RAD_S): the
    largest root is the root of the largest square (a rounded root never decreases), and a
    NaN makes both the maximum and the test fail."""
    return math.sqrt(float(squares.max())) < MAX_BIAS_RAD_S


__all__ = ["GRID_RATE_HZ", "LATENCY_SAMPLES", "Features", "FrontEnd"]
