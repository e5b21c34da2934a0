"""Ankle circles: full turns of the toes' path, their direction and size.

Method (the notes' phase approach): the toes' velocity across the foot is
``v = omega_z - i * omega_y`` (segment frame: a point on the foot's long axis moves with
``omega x x``), so the toes' path turns exactly as the phase of ``v`` does. Phase steps are summed
only while ``|v|`` is clearly above zero (above a quarter of its recent peak and an absolute
floor), so back-and-forth pumping, whose phase flips by pi through zero speed, accumulates
nothing, while a circle or an ellipse accumulates 2 pi per turn. A positive turn about the foot's
+x axis is ``cw`` by the definition of CONTRACTS.md section 3 (seen from behind the heel, top of
the foot up), the same for both feet. A reversal (the phase running back by more than pi from its
extreme) starts counting the other way; a partial turn is never counted. The size is the mean of
the two principal angular diameters of the path integrated from the gyro over the turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from sensord.dsp.frontend import Features
from sensord.dsp.history import History, sliding_max, sum3, where_true
from sensord.dsp.resample import GRID_DT_S
from sensord.model import FloatArray

GATE_FLOOR_RAD_S: Final = 0.25
GATE_FRACTION: Final = 0.25
PEAK_WINDOW: Final = 75  # 1.5 s: the recent peak speed that scales the gate
IDLE_END: Final = 25  # 0.5 s without gated motion ends an episode
REVERSAL_RAD: Final = math.pi
MIN_CIRCLE_S: Final = 0.4
MAX_CIRCLE_S: Final = 5.0
#: Ankle circles are smooth: a turn with a swing-fast rotation or an impact is gait.
MAX_SPEED_RAD_S: Final = 5.0
MAX_IMPACT_M_S2: Final = 5.0
GRAVITY_M_S2: Final = 9.81
_KEEP: Final = 600
#: A break in the stream up to this many grid samples (the front end's edges included) does
#: not end a running circle: the turn is followed across it (see ``_bridge``).
MAX_BRIDGE: Final = 80
RATE_WINDOW: Final = 20  # samples over which the turning rate before a gap is measured


def _filled(n: int, value: float) -> FloatArray:
    """``np.full(n, value)`` as floats, without its wrapper's cost (called every block)."""
    out = np.empty(n)
    out.fill(value)
    return out


@dataclass(frozen=True, slots=True)
class Circle:
    """One full turn of the toes. ``aspect`` is minor/major principal diameter."""

    t_start: float
    t_end: float
    t_known: float
    direction: Literal["cw", "ccw"]
    size_deg: float
    aspect: float
    valid: bool


@dataclass(slots=True)
class _Episode:
    ref: int  # index of the last completed turn (or the episode start)
    ref_phase: float
    direction: int  # +1 cw, -1 ccw, 0 not yet known
    extreme: float  # furthest direction * (phase - ref_phase) reached since ref
    extreme_at: int


class CircleDetector:
    """Streaming circle counting (see the module docstring)."""

    def __init__(self) -> None:
        self._gather: dict[tuple[int, int], NDArray[np.intp]] = {}
        self._history = History(keep=_KEEP)
        self._phase = 0.0
        self._prev_v: complex | None = None
        self._prev_gate = False
        self._last_active = -(10**9)
        self._scan = 0
        self._episode: _Episode | None = None
        # The phase the toes are expected to turn from the last real sample to the first one
        # after a gap (set by ``_bridge``), to choose among the whole turns a gap could hide.
        self._expected_step: float | None = None

    def reset(self) -> None:
        """Forgets everything short-term (a break in the stream)."""
        self._history = History(keep=_KEEP)
        self._phase = 0.0
        self._prev_v = None
        self._prev_gate = False
        self._last_active = -(10**9)
        self._episode = None
        self._expected_step = None

    @property
    def turning(self) -> float:
        """Turns accumulated in the current episode since the last full circle (signed)."""
        if self._episode is None or self._episode.direction == 0:
            return 0.0
        h = self._history
        phase = h.get("phase", h.k_end - 1, h.k_end)
        if not phase.size:
            return 0.0
        return float((phase[0] - self._episode.ref_phase) / (2 * math.pi))

    def update(self, features: Features) -> list[Circle]:
        h = self._history
        broken = features.new_segment or h.k_end != features.k0
        if broken and not self._bridge(features.k0 - h.k_end):
            self.reset()
            h = self._history
            self._scan = features.k0
        gyro = features.gyro_lp_rad_s
        v = gyro[:, 2] - 1j * gyro[:, 1]
        speed = np.abs(v)
        valid = features.valid
        n = speed.shape[0]
        # (Counting is the cheapest all/any of a small flag array.)
        valid_all = np.count_nonzero(valid) == n
        if self._expected_step is None and not np.count_nonzero(speed > GATE_FLOOR_RAD_S):
            self._rest(v, valid, valid_all)
            # The cumulative sum of no steps: the carried phase (+ 0.0 as that sum would add,
            # which turns a -0.0 into 0.0). Nothing is gated: only bridged samples are alive.
            self._phase += 0.0
            phase = _filled(n, self._phase)
            alive_any = not valid_all
            alive = ~valid
        else:
            active, step = self._steps(h, v, speed, valid, valid_all)
            phase = np.concatenate(([self._phase], np.where(active, step, 0.0))).cumsum()[1:]
            self._phase = float(phase[-1])
            # A bridged gap does not end an episode by itself.
            alive = active if valid_all else active | ~valid
            alive_any = bool(np.count_nonzero(alive))
        if alive_any:
            # (The carried index lies before this block: it only fills the samples before
            # the first alive one.)
            idx = np.arange(features.k0, features.k0 + n)
            last_active = np.maximum.accumulate(np.where(alive, idx, self._last_active))
            self._last_active = int(last_active[-1])
        else:
            last_active = _filled(n, self._last_active)
        h.append(
            features.k0, speed=speed, phase=phase, last_active=last_active, gyro_lp=gyro,
            gyro=features.gyro_rad_s, force=features.acc_norm_m_s2,
        )
        if self._episode is None and self._scan >= features.k0 and not alive_any:
            # Nothing turning and no episode: no episode can start here.
            self._scan = h.k_end
            circles = []
        else:
            circles = self._follow()
        keep_from = self._episode.ref if self._episode else self._scan
        h.trim(max(min(keep_from, h.k_end - PEAK_WINDOW), h.k_end - _KEEP))
        return circles

    def _steps(
        self, h: History, v: NDArray[np.complex128], speed: FloatArray,
        valid: NDArray[np.bool_], valid_all: bool,
    ) -> tuple[NDArray[np.bool_], FloatArray]:
        """Which samples turn the phase (gated, from a gated real sample) and by how much."""
        # Recent peak speed (order statistic over a trailing window: exact for any split).
        past = h.get("speed", h.k_end - PEAK_WINDOW + 1, h.k_end)
        joined = np.concatenate((past, speed))
        if past.shape[0] == PEAK_WINDOW - 1:
            peaks = sliding_max(joined, PEAK_WINDOW, self._gather)
        elif joined.shape[0] >= PEAK_WINDOW:
            peaks = sliding_max(joined, PEAK_WINDOW)
            peaks = np.concatenate((np.maximum.accumulate(joined[: PEAK_WINDOW - 1]), peaks))
            peaks = peaks[past.shape[0]:]
        else:
            peaks = np.maximum.accumulate(joined)[past.shape[0]:]
        gate = speed > np.maximum(GATE_FLOOR_RAD_S, GATE_FRACTION * peaks)
        # Each sample turns from the last real (not bridged) one: across a short gap of lost
        # packets the phase takes the shortest way, instead of following the interpolated
        # chord (which may pass through zero speed and be gated out).
        n = v.shape[0]
        carried_v = self._prev_v if self._prev_v is not None else 0j
        if valid_all:
            prev_v = np.concatenate(([carried_v], v[:-1]))
            prev_gate = np.concatenate(([self._prev_gate], gate[:-1]))
            active = gate & prev_gate
            last_real = n - 1
        else:
            last_valid = np.maximum.accumulate(np.where(valid, np.arange(n), -1))
            ref = np.concatenate(([-1], last_valid[:-1]))
            prev_v = np.where(ref >= 0, v[np.maximum(ref, 0)], carried_v)
            prev_gate = np.where(ref >= 0, gate[np.maximum(ref, 0)], self._prev_gate)
            active = valid & gate & prev_gate
            last_real = int(last_valid[-1])
        turn = v * np.conj(prev_v)
        step: FloatArray = np.arctan2(turn.imag, turn.real)  # np.angle, without its wrapper
        if self._expected_step is not None and valid.any():
            # The first real sample after a break: of the phase steps the gap could hide (the
            # measured one plus whole turns), take the one nearest the turning rate before it.
            first = int(np.argmax(valid))
            turns = round((self._expected_step - float(step[first])) / (2 * math.pi))
            step[first] += 2 * math.pi * turns
            active[first] = True
            self._expected_step = None
        if last_real >= 0:
            self._prev_v = complex(v[last_real])
            self._prev_gate = bool(gate[last_real])
        return active, step

    def _rest(
        self, v: NDArray[np.complex128], valid: NDArray[np.bool_], valid_all: bool
    ) -> None:
        """``_steps`` of samples all at or below the gate's floor: none is gated, so none
        turns the phase (none is active), and the peak speed is not needed (most of a day is
        spent so)."""
        n = v.shape[0]
        if valid_all:
            last_real = n - 1
        else:
            real = where_true(valid)
            last_real = int(real[-1]) if real.size else -1
        if last_real >= 0:
            self._prev_v = complex(v[last_real])
            self._prev_gate = False

    def _bridge(self, gap: int) -> bool:
        """Carries a running circle across a short break in the stream (lost packets).

        The missing cells are filled as bridged (no motion, still "alive"), and the turn the toes
        made meanwhile is taken from both sides: the phase measured after the gap, plus the
        whole turns that make the advance closest to the turning rate before it. Counting goes
        on where the stream resumes; without a running circle there is nothing to carry.
        """
        h = self._history
        ep = self._episode
        if (ep is None or ep.direction == 0 or self._prev_v is None or not 0 < gap <= MAX_BRIDGE
                or h.k_end - h.k_start < RATE_WINDOW):
            return False
        phase = h.get("phase", h.k_end - RATE_WINDOW, h.k_end)
        rate = float(phase[-1] - phase[0]) / (RATE_WINDOW - 1)
        if rate * ep.direction <= 0.0:
            return False  # not turning the episode's way just before the gap
        self._expected_step = rate * (gap + 1)
        idx = h.k_end + np.arange(gap)
        still = np.zeros((gap, 3))
        h.append(
            h.k_end, speed=np.zeros(gap), phase=np.full(gap, self._phase),
            last_active=idx.astype(np.float64), gyro_lp=still, gyro=still,
            force=np.full(gap, GRAVITY_M_S2),
        )
        self._last_active = int(idx[-1])
        return True

    def _follow(self) -> list[Circle]:
        h = self._history
        out: list[Circle] = []
        if self._episode is not None and self._episode.ref < h.k_start:
            self._episode = None  # longer than anything we keep: not a circle
        self._scan = base = max(self._scan, h.k_start)
        if base >= h.k_end:
            return out
        # Samples since the last alive one (0: alive), and the phase, from where the scan
        # starts (it only moves on): fetched once, viewed window by window.
        since_all = np.arange(base, h.k_end) - h.get("last_active", base, h.k_end)
        phase_all = h.get("phase", base, h.k_end)
        while self._scan < h.k_end:
            lo, hi = self._scan, min(h.k_end, self._scan + 250)
            since = since_all[lo - base:hi - base]
            if self._episode is None:
                started = where_true(since == 0)
                if not started.size:
                    self._scan = hi
                    continue
                first = lo + int(started[0])
                self._episode = _Episode(
                    ref=first, ref_phase=float(phase_all[first - base]),
                    direction=0, extreme=0.0, extreme_at=first,
                )
                self._scan = first
                continue
            ep = self._episode
            rel = phase_all[lo - base:hi - base] - ep.ref_phase
            idle = where_true(since >= IDLE_END)
            idle_at = int(idle[0]) if idle.size else None
            if ep.direction == 0:
                turned = where_true(np.abs(rel) > math.pi / 2)
                at = int(turned[0]) if turned.size else None
                if at is not None and (idle_at is None or at < idle_at):
                    ep.direction = 1 if rel[at] > 0 else -1
                    ep.extreme, ep.extreme_at = abs(float(rel[at])), lo + at
                    self._scan = lo + at + 1
                    continue
                if idle_at is not None:
                    self._episode = None
                    self._scan = lo + idle_at
                    continue
                self._scan = hi
                continue
            signed = ep.direction * rel
            done = where_true(signed >= 2 * math.pi)
            back = self._reversals(signed, ep.extreme)
            events = [
                (int(done[0]), 0) if done.size else None,
                (int(back[0]), 1) if back.size else None,
                (idle_at, 2) if idle_at is not None else None,
            ]
            pending = [e for e in events if e is not None]
            if not pending:
                best = int(np.argmax(signed))
                if float(signed[best]) > ep.extreme:
                    ep.extreme, ep.extreme_at = float(signed[best]), lo + best
                self._scan = hi
                continue
            at, kind = min(pending)
            if kind == 0:
                end = lo + at
                out.append(self._measure(ep.ref, end, ep.direction))
                ep.ref, ep.ref_phase = end, ep.ref_phase + 2 * math.pi * ep.direction
                ep.extreme, ep.extreme_at = 0.0, end
                self._scan = end + 1
            elif kind == 1:
                peak_rel = signed[: at + 1]
                best = int(np.argmax(peak_rel))
                turn_at = lo + best if float(peak_rel[best]) >= ep.extreme else ep.extreme_at
                turn_phase = float(h.get("phase", turn_at, turn_at + 1)[0])
                self._episode = _Episode(
                    ref=turn_at, ref_phase=turn_phase, direction=-ep.direction,
                    extreme=0.0, extreme_at=turn_at,
                )
                self._scan = lo + at + 1
            else:
                self._episode = None
                self._scan = lo + at
        return out

    @staticmethod
    def _reversals(signed: FloatArray, extreme: float) -> NDArray[np.intp]:
        """Where ``signed`` falls more than REVERSAL_RAD below its running extreme (carried
        in as ``extreme``). Usually nowhere, which the overall extremes show without the
        running one: no sample lies below the highest extreme minus REVERSAL_RAD."""
        top = max(extreme, float(np.maximum.reduce(signed)))
        if float(np.minimum.reduce(signed)) >= top - REVERSAL_RAD:
            return np.empty(0, dtype=np.intp)
        running = np.maximum.accumulate(np.concatenate(([extreme], signed)))[1:]
        return where_true(signed < running - REVERSAL_RAD)

    def _measure(self, start: int, end: int, direction: int) -> Circle:
        h = self._history
        complete = start >= h.k_start
        start = max(start, h.k_start)
        gyro_lp = h.get("gyro_lp", start, end + 1)
        # The toes' path (integrated turn rates: sideways, forward), about its centre.
        path = np.cumsum(gyro_lp[:, 1:], axis=0)
        path *= GRID_DT_S
        path -= path.mean(axis=0)
        minor, major = principal_spreads(path)
        size = (math.degrees(2.0 * math.sqrt(2.0) * minor)
                + math.degrees(2.0 * math.sqrt(2.0) * major)) / 2.0
        aspect = minor / major if major > 0 else 0.0
        duration = (end - start) * GRID_DT_S
        gyro = h.get("gyro", start, end + 1)
        smooth = (
            float(np.sqrt(sum3(gyro * gyro)).max()) <= MAX_SPEED_RAD_S
            and float(np.abs(h.get("force", start, end + 1) - GRAVITY_M_S2).max())
            <= MAX_IMPACT_M_S2
        )
        # Samples bridged over a short gap (lost packets) are fine: the phase of a turn
        # survives a tenth of a second of interpolation; longer gaps restart the detector.
        valid = complete and smooth and MIN_CIRCLE_S <= duration <= MAX_CIRCLE_S
        return Circle(
            t_start=start * GRID_DT_S,
            t_end=end * GRID_DT_S,
            t_known=end * GRID_DT_S,
            direction="cw" if direction > 0 else "ccw",
            size_deg=size,
            aspect=aspect,
            valid=valid,
        )


def principal_spreads(path: FloatArray) -> tuple[float, float]:
    """The standard deviations of a centred 2-D path along its principal axes, smaller first:
    the roots of its covariance's eigenvalues, in closed form for a 2 x 2 symmetric matrix
    (a general solver costs tens of microseconds a circle). The sign of either coordinate
    changes neither."""
    u, v = path[:, 0], path[:, 1]
    count = path.shape[0]
    a, d, b = float(u.dot(u)) / count, float(v.dot(v)) / count, float(u.dot(v)) / count
    centre, spread = (a + d) / 2.0, math.hypot((a - d) / 2.0, b)
    return math.sqrt(max(centre - spread, 0.0)), math.sqrt(max(centre + spread, 0.0))
