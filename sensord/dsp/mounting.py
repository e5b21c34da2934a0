"""Estimating how the wearable sits on the foot (or shank) from the data itself.

The analysis runs in a *segment frame*: x forward along the foot, y to the wearer's left, z up
out of the top of the foot (for the ankle placement: x forward out of the shin, y left, z up the
shank), so every detector has one convention whatever the placement. ``rotation`` maps sensor
coordinates to that frame (its rows are the frame's axes in sensor coordinates).

The nominal mounting of CONTRACTS.md section 1 is the prior. Evidence refines it:

- the vertical: gravity while the segment rests flat. Still periods count if their gravity lies
  within ``flat_cone_deg`` of the prior's vertical, or, whatever their direction, if gait
  (fast swings with impacts) happened within seconds before or after them: one stands before and
  after walking, so that is the flat foot even on a strap mounted sideways. Periods are clustered;
  the heaviest cluster (in seconds, gait-adjacent ones weighted up) is the flat pose, so a foot
  resting tilted on a ball for a minute does not outvote flat standing;
- the medio-lateral axis: the principal axis of fast rotations (gait swings, flexion). Its sign
  comes from the prior when the axis is near the prior's; otherwise from gait, whose swing lobe
  (toes pitching up through the swing) lasts about twice as long as the push-off and heel-rocker
  lobes of the opposite sign.

The caller applies updates at sample indices fixed by the data, so the same samples give the same
rotation however they were split into blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sensord.dsp.history import runs
from sensord.model import FloatArray, Placement

# Rows: the segment frame's x, y, z in sensor coordinates.
NOMINAL_ROTATIONS: Final[dict[str, FloatArray]] = {
    # instep: x toes, y left, z up: the sensor frame itself.
    "instep": np.eye(3),
    # ankle: sensor x up the shank, z forward, y = z cross x (the wearer's right).
    "ankle": np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]),
}
GAIT_WEIGHT: Final = 3.0
MIN_CHANGE_DEG: Final = 1.0
#: Another flat-pose cluster takes over only when this many times heavier than the current one.
SWITCH_RATIO: Final = 2.0
#: With the strap near nominal, a swing axis further than this from the prior's y is not trusted
#: (rotations other than gait swings dominated it).
MAX_AXIS_FROM_PRIOR_DEG: Final = 45.0
#: Rotation faster than this is a spike (an impact), not a swing.
MAX_SWING_RAD_S: Final = 20.0
LOBE_ON_RAD_S: Final = 1.2
LOBE_PEAK_RAD_S: Final = 2.0
LOBE_MIN: Final = 4


def _norm(v: FloatArray) -> float:
    """``np.linalg.norm`` of a 3-vector (the square root of its dot product with itself), on
    plain floats: the same products summed in the same order, without numpy's per-call cost
    (the estimate is rebuilt hundreds of times an hour)."""
    x, y, z = v.tolist()
    return math.sqrt(x * x + y * y + z * z)


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """``np.cross`` of two 3-vectors: the same products and differences, without the general
    function's overhead."""
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0))


def orthonormal(y_axis: FloatArray, z_axis: FloatArray) -> FloatArray:
    """A rotation with ``z`` along ``z_axis`` and ``y`` as close to ``y_axis`` as allowed.

    On plain floats, with the operations numpy would do on the vectors in the same order."""
    zx, zy, zz = z_axis.tolist()
    norm = math.sqrt(zx * zx + zy * zy + zz * zz)
    zx, zy, zz = zx / norm, zy / norm, zz / norm
    yx, yy, yz = y_axis.tolist()
    along = yx * zx + yy * zy + yz * zz
    yx, yy, yz = yx - along * zx, yy - along * zy, yz - along * zz
    norm = math.sqrt(yx * yx + yy * yy + yz * yz)
    if norm < 0.2:
        # y (nearly) along z: keep the prior's habit of a horizontal y as best we can: z x
        # the sensor's x, else z x its y.
        yx, yy, yz = zy * 0.0 - zz * 0.0, zz * 1.0 - zx * 0.0, zx * 0.0 - zy * 1.0
        if math.sqrt(yx * yx + yy * yy + yz * yz) < 0.2:
            yx, yy, yz = zy * 0.0 - zz * 1.0, zz * 0.0 - zx * 0.0, zx * 1.0 - zy * 0.0
        norm = math.sqrt(yx * yx + yy * yy + yz * yz)
    yx, yy, yz = yx / norm, yy / norm, yz / norm
    x = (yy * zz - yz * zy, yz * zx - yx * zz, yx * zy - yy * zx)
    return np.array((x, (yx, yy, yz), (zx, zy, zz)))


def angle_deg(a: FloatArray, b: FloatArray) -> float:
    """The angle between two 3-vectors, in degrees (on plain floats, as ``_norm``)."""
    ax, ay, az = a.tolist()
    bx, by, bz = b.tolist()
    cos = (ax * bx + ay * by + az * bz) / (
        math.sqrt(ax * ax + ay * ay + az * az) * math.sqrt(bx * bx + by * by + bz * bz))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


@dataclass(slots=True)
class _Cluster:
    direction: FloatArray  # weighted sum of unit vectors
    weight: float


@dataclass(slots=True)
class _LobeCounter:
    """Counts lobes of a rate beyond LOBE_ON with a peak beyond LOBE_PEAK, lasting at least
    LOBE_MIN samples; a lobe may span calls (its state is carried)."""

    count: int = 0
    samples: int = 0
    _open_len: int = 0
    _open_peak: float = 0.0

    def update(self, rate: FloatArray) -> None:
        run_starts, run_ends = runs(rate > LOBE_ON_RAD_S)
        starts, ends = run_starts.tolist(), run_ends.tolist()
        for a, b in zip(starts, ends, strict=True):
            length = b - a
            peak = float(rate[a:b].max())
            if a == 0 and self._open_len:
                length += self._open_len
                peak = max(peak, self._open_peak)
            if b == rate.shape[0]:
                self._open_len, self._open_peak = length, peak
                return
            self._close(length, peak)
        if self._open_len and not (starts and starts[0] == 0):
            self._close(self._open_len, self._open_peak)

    def _close(self, length: int, peak: float) -> None:
        self._open_len, self._open_peak = 0, 0.0
        if length >= LOBE_MIN and peak > LOBE_PEAK_RAD_S:
            self.count += 1
            self.samples += length


@dataclass(slots=True)
class MountingEstimator:
    """Streaming mounting estimate; see the module docstring."""

    placement: Placement = "instep"
    flat_cone_deg: float = 35.0
    cluster_deg: float = 10.0
    min_flat_s: float = 1.0
    fast_rad_s: float = 2.5
    min_fast_samples: int = 50
    axis_update_every: int = 250
    prior: FloatArray = field(init=False)
    rotation: FloatArray = field(init=False)
    _clusters: list[_Cluster] = field(init=False, default_factory=list)
    _current: _Cluster | None = field(init=False, default=None)
    _fast_cov: FloatArray = field(init=False)
    _fast_count: int = field(init=False, default=0)
    _fast_used: int = field(init=False, default=0)
    _axis: FloatArray | None = field(init=False, default=None)
    #: Lobes are counted only while the axis is far from the prior's (set with the axis).
    _lobes_on: bool = field(init=False, default=False)
    # Lobes of the rate about +axis and about -axis.
    _lobes_pos: _LobeCounter = field(init=False, default_factory=_LobeCounter)
    _lobes_neg: _LobeCounter = field(init=False, default_factory=_LobeCounter)
    _acc_sum: FloatArray = field(init=False)
    _z: FloatArray = field(init=False)
    _y_data: FloatArray | None = field(init=False, default=None)
    # Rows staged by ``stage_swings``: rates (None: zero), how many were taken, and the
    # fast rows with their cumulative sums and the count before them (None: no fast row).
    _staged_gyro: FloatArray | None = field(init=False, default=None)
    _staged_taken: int = field(init=False, default=0)
    _staged_fast: tuple[NDArray[np.intp], FloatArray, int] | None = field(
        init=False, default=None)

    def __post_init__(self) -> None:
        self.prior = NOMINAL_ROTATIONS[self.placement].copy()
        self.rotation = self.prior.copy()
        self._fast_cov = np.zeros((3, 3))
        self._acc_sum = np.zeros(3)
        self._z = self.prior[2].copy()

    @property
    def flat_evidence_s(self) -> float:
        return max((c.weight for c in self._clusters), default=0.0)

    def offset_deg(self) -> float:
        """How far the estimate is from the nominal mounting (rotation angle, degrees)."""
        relative = self.rotation @ self.prior.T
        cos = (np.trace(relative) - 1.0) / 2.0
        return math.degrees(math.acos(max(-1.0, min(1.0, float(cos)))))

    def add_still(self, gravity: FloatArray, duration_s: float, *, near_gait: bool) -> bool:
        """Adds a finished still period (mean specific force in sensor axes). True if the
        estimate changed."""
        g = gravity / _norm(gravity)
        in_cone = angle_deg(g, self.prior[2]) <= self.flat_cone_deg
        if not (in_cone or near_gait) or duration_s < self.min_flat_s:
            return False
        weight = duration_s * (GAIT_WEIGHT if near_gait else 1.0)
        for cluster in self._clusters:
            if angle_deg(cluster.direction, g) <= self.cluster_deg:
                cluster.direction = cluster.direction + g * weight
                cluster.weight += weight
                break
        else:
            self._clusters.append(_Cluster(g * weight, weight))
        # Hysteresis: switch to another cluster only when it clearly outweighs the one in use
        # (each switch is a step in every angle the detectors see).
        best = max(self._clusters, key=lambda c: c.weight)
        current = self._current
        if current is None or (
                best is not current and best.weight >= SWITCH_RATIO * current.weight):
            self._current = best
        chosen = self._current
        assert chosen is not None
        self._z = chosen.direction / _norm(chosen.direction)
        return self._rebuild()

    def add_fast(self, gyro_rad_s: FloatArray, acc_m_s2: FloatArray) -> None:
        """Accumulates fast rotations (sensor axes, (n, 3)) for the medio-lateral axis, and the
        specific force while they happen (on average it points up: a fallback vertical)."""
        self.stage_swings(gyro_rad_s, acc_m_s2)
        self.take_swings(gyro_rad_s.shape[0])

    def stage_swings(self, gyro_rad_s: FloatArray | None, acc_m_s2: FloatArray) -> None:
        """Prepares the rows of ``add_fast`` (``None``: zero rates) for ``take_swings``.

        The caller takes them piece by piece, up to each sample where the axis may be
        re-derived; the sums are computed once for all the rows (one cumulative sum instead of
        one per piece: the same additions in the same order, so the same numbers).
        """
        self._staged_gyro = gyro_rad_s
        self._staged_taken = 0
        self._staged_fast = None
        if gyro_rad_s is None:
            return
        speed2 = np.einsum("ij,ij->i", gyro_rad_s, gyro_rad_s)
        moving = (speed2 > self.fast_rad_s**2) & (speed2 < MAX_SWING_RAD_S**2)
        fast_rows = moving.nonzero()[0]
        count = fast_rows.shape[0]
        if not count:
            return
        # Sequential sums (not a matrix product): the same additions in the same order
        # whatever the block boundaries, so the estimate is bit-identical. Twelve series,
        # one per row (contiguous, so numpy loops along them): the sums so far, then per
        # fast sample its specific force and the outer product of its rate; one cumulative
        # sum adds each series term after term.
        series = np.empty((12, count + 1))
        series[:3, 0] = self._acc_sum
        series[3:, 0] = self._fast_cov.reshape(9)
        series[:3, 1:] = acc_m_s2[moving].T
        fast = gyro_rad_s[moving].T
        outer = series[3:].reshape(3, 3, count + 1)  # (of contiguous rows: a view)
        np.multiply(fast[:, None], fast, out=outer[:, :, 1:])
        series.cumsum(axis=1, out=series)
        self._staged_fast = (fast_rows, series, self._fast_count)

    def take_swings(self, stop: int) -> None:
        """Adds the staged rows before row ``stop`` (after those taken already)."""
        start, self._staged_taken = self._staged_taken, stop
        if stop <= start:
            return
        staged = self._staged_fast
        if staged is not None:
            fast_rows, series, count_before = staged
            taken = int(fast_rows.searchsorted(stop))
            total = series[:, taken]
            self._acc_sum = total[:3]
            self._fast_cov = total[3:].reshape(3, 3)
            self._fast_count = count_before + taken
        if self._counting_lobes():
            gyro = self._staged_gyro
            self._count_lobes(np.zeros((stop - start, 3)) if gyro is None else gyro[start:stop])

    def _counting_lobes(self) -> bool:
        return self._lobes_on

    def _count_lobes(self, gyro_rad_s: FloatArray) -> None:
        """Lobe statistics decide the axis sign only when the axis is far from the prior's."""
        if not self._counting_lobes():
            return
        assert self._axis is not None
        # Element by element (not a matrix product): bit-identical for any block sizes.
        rate = (gyro_rad_s[:, 0] * self._axis[0] + gyro_rad_s[:, 1] * self._axis[1]
                + gyro_rad_s[:, 2] * self._axis[2])
        self._lobes_pos.update(rate)
        self._lobes_neg.update(-rate)

    def update_axis(self) -> bool:
        """Re-derives the medio-lateral axis if enough new fast rotation was seen."""
        # Re-derive after enough new evidence: at least min_fast_samples, and a tenth more than
        # last time once the estimate rests on plenty (it barely moves then).
        if self._fast_count - self._fast_used < max(self.min_fast_samples, self._fast_used // 10):
            return False
        self._fast_used = self._fast_count
        _, vectors = np.linalg.eigh(self._fast_cov)
        axis = vectors[:, -1]
        reference = self._axis if self._axis is not None else self.prior[1]
        if np.dot(axis, reference) < 0:
            axis = -axis
        self._axis = axis
        self._lobes_on = abs(float(np.dot(axis, self.prior[1]))) < 0.5
        self._y_data = axis if self._swing_sign() >= 0 else -axis
        return self._rebuild()

    def _swing_sign(self) -> int:
        """+1 if the segment's y is +axis, -1 if -axis (see the module docstring)."""
        assert self._axis is not None
        prior_dot = float(np.dot(self._axis, self.prior[1]))
        if abs(prior_dot) >= 0.5:
            return 1 if prior_dot > 0 else -1
        # Toes pitching up is negative rate about y (left): the long swing lobes are negative.
        pos, neg = self._lobes_pos, self._lobes_neg
        if pos.count >= 5 and neg.count >= 5:
            pos_mean, neg_mean = pos.samples / pos.count, neg.samples / neg.count
            if neg_mean > 1.4 * pos_mean:
                return 1
            if pos_mean > 1.4 * neg_mean:
                return -1
        return 1 if prior_dot >= 0 else -1

    def _far_off(self) -> bool:
        """True when the evidence says the strap sits far from nominal (beyond the prior)."""
        if self._clusters:
            return angle_deg(self._z, self.prior[2]) > self.flat_cone_deg
        return self._y_data is not None and abs(float(np.dot(self._y_data, self.prior[2]))) > 0.5

    def _rebuild(self) -> bool:
        far = self._far_off()
        y = self.prior[1]
        if self._y_data is not None and (
                far or angle_deg(self._y_data, self.prior[1]) <= MAX_AXIS_FROM_PRIOR_DEG):
            y = self._y_data
        z = self._z
        if not self._clusters and far and self._y_data is not None:
            # The swing axis lies along the prior's vertical: the strap is far off nominal and
            # no flat standing has been seen yet. The mean specific force over the swings,
            # made perpendicular to the swing axis, is the best vertical we have.
            mean = self._acc_sum - np.dot(self._acc_sum, y) * y
            if _norm(mean) > 0:
                z = mean / _norm(mean)
        new = orthonormal(y, z)
        # Ignore refinements under a degree: each change is a (small) step in every angle.
        cos = (float(np.trace(new @ self.rotation.T)) - 1.0) / 2.0
        if math.degrees(math.acos(max(-1.0, min(1.0, cos)))) < MIN_CHANGE_DEG:
            return False
        self.rotation = new
        return True
