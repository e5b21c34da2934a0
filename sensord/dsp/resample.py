"""Resampling onto the pipeline's fixed 50 Hz grid, with gap handling.

Wearables deliver 25-400 Hz with jitter and lost packets. Every later stage runs on one fixed
grid (sample ``k`` sits at ``t = k * GRID_DT_S``), so filters and detectors have one set of
constants and block boundaries cannot move anything.

Method: each grid value is the mean of the piecewise-linear input over the grid cell
``[t_k - dt/2, t_k + dt/2)``, computed from the running (trapezoidal) integral of the input. For
a faster input that is a boxcar anti-alias filter; for a slower one, linear interpolation. The
running integral is carried across blocks with the same sequence of additions a single block
would make, so the output is bit-identical however the input is split.

Gaps: input intervals longer than ``gap_s`` are counted; up to ``bridge_s`` they are bridged (the
cells inside are interpolated and flagged ``valid=False``); longer ones break the grid: no cell
is invented inside, and the next cell starts a new segment (its index jumps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sensord.dsp.history import where_true
from sensord.model import FloatArray

GRID_RATE_HZ: Final = 50.0
GRID_DT_S: Final = 1.0 / GRID_RATE_HZ
#: A time step going backwards by more than this is a clock reset, not a stray sample.
CLOCK_RESET_S: Final = 1.0
#: A shared all-valid flag run (read-only) for chunks without a bridged cell.
_ALL_VALID: Final = np.ones(65536, dtype=bool)
_ALL_VALID.flags.writeable = False
#: Room for staged samples before the stage grows: the pipeline's chunk of a recording (a live
#: pass holds a few dozen). The stage and the running integral's buffer are kept between
#: passes: fresh large arrays would fault their pages in again on every pass.
STAGE_SAMPLES: Final = 4096


@dataclass(frozen=True, slots=True)
class GridChunk:
    """Consecutive grid samples of one unbroken segment.

    ``k0`` is the absolute grid index of the first sample (time ``k0 * GRID_DT_S``);
    ``acc_m_s2``/``gyro_rad_s`` are (n, 3); ``valid`` (n,) is False where a gap was bridged.
    """

    k0: int
    acc_m_s2: FloatArray
    gyro_rad_s: FloatArray
    valid: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.acc_m_s2.shape[0])

    @property
    def t_s(self) -> FloatArray:
        return (self.k0 + np.arange(len(self), dtype=np.float64)) * GRID_DT_S


@dataclass(slots=True)
class ResamplerStats:
    """Counters for the stream-health view (all since the pipeline started)."""

    samples_in: int = 0
    samples_dropped: int = 0  # out of order or repeated timestamps
    gaps: int = 0  # input intervals longer than gap_s
    gap_s: float = 0.0  # total time inside those intervals
    breaks: int = 0  # gaps too long to bridge
    clock_resets: int = 0


class Resampler:
    """Streaming resampler onto the 50 Hz grid (see the module docstring)."""

    def __init__(self, *, gap_s: float = 0.1, bridge_s: float = 0.5) -> None:
        self._gap_s = gap_s
        self._bridge_s = bridge_s
        self.stats = ResamplerStats()
        # The last accepted input sample and the running integral at it (None: no segment yet).
        self._t_last = -math.inf
        self._v_last: FloatArray | None = None
        self._c_last: FloatArray = np.zeros(6)
        self._k_next = 0  # next grid cell to emit in the current segment
        self._c_left: FloatArray | None = None  # running integral at that cell's left edge
        # The last input interval longer than gap_s, [from, to): a cell completed by a later
        # call may have its centre in it (bridged cells are flagged by their centre's interval).
        self._gap_from = -math.inf
        self._gap_to = -math.inf
        # Samples staged for the next ``flush``, from column 1: column 0 is left for the
        # carried sample, so the usual case needs no concatenation.
        self._stage_t: FloatArray = np.empty(STAGE_SAMPLES + 1)
        self._stage_v: FloatArray = np.empty((6, STAGE_SAMPLES + 1))
        self._staged = 0
        self._cum: FloatArray = np.empty((6, STAGE_SAMPLES + 1))  # the running integral's

    def stage(self, t_s: FloatArray, acc_m_s2: FloatArray, gyro_rad_s: FloatArray) -> None:
        """Keeps input samples for the next ``flush`` (a few small copies, no pass)."""
        n = t_s.shape[0]
        lo = self._staged + 1
        hi = lo + n
        if hi > self._stage_t.shape[0]:
            size = max(2 * self._stage_t.shape[0], hi)
            grown_t, grown_v = np.empty(size), np.empty((6, size))
            grown_t[:lo], grown_v[:, :lo] = self._stage_t[:lo], self._stage_v[:, :lo]
            self._stage_t, self._stage_v = grown_t, grown_v
        self._stage_t[lo:hi] = t_s
        self._stage_v[:3, lo:hi] = acc_m_s2.T
        self._stage_v[3:, lo:hi] = gyro_rad_s.T
        self._staged += n

    def flush(self, piece: int) -> list[GridChunk]:
        """Feeds the staged samples, ``piece`` at a time; returns the completed cells."""
        n, self._staged = self._staged, 0
        out: list[GridChunk] = []
        for lo in range(0, n, piece):
            hi = min(n, lo + piece)
            # The sample before the piece is spent: its column takes the carried one.
            tt, vv = self._stage_t[lo:hi + 1], self._stage_v[:, lo:hi + 1]
            if self._v_last is not None:
                tt[0] = self._t_last
                vv[:, 0] = self._v_last
            self.stats.samples_in += hi - lo
            self._feed_values(tt, vv, out)
        if self._stage_t.shape[0] > STAGE_SAMPLES + 1 or self._cum.shape[1] > STAGE_SAMPLES + 1:
            # (After a pass larger than a chunk: back to the usual size.)
            self._stage_t = np.empty(STAGE_SAMPLES + 1)
            self._stage_v = np.empty((6, STAGE_SAMPLES + 1))
            self._cum = np.empty((6, STAGE_SAMPLES + 1))
        return out

    def feed(
        self, t_s: FloatArray, acc_m_s2: FloatArray, gyro_rad_s: FloatArray
    ) -> list[GridChunk]:
        """Consumes input samples; returns the grid cells that became complete."""
        n = t_s.shape[0]
        if n == 0:
            return []
        # (Through the stage: channel-major (6, n), running sums along contiguous rows are
        # several times faster; anything staged before goes first.)
        self.stage(t_s, acc_m_s2, gyro_rad_s)
        return self.flush(self._staged)

    def _feed_values(self, tt: FloatArray, vv: FloatArray, out: list[GridChunk]) -> None:
        """Feeds samples ``tt[1:]``, ``vv[:, 1:]`` (channel-major (6, n)); column 0 holds the
        carried sample when a segment is open (else it is not read)."""
        if self._v_last is not None:
            # The usual case, in fewer steps: the segment goes on, time strictly increases and
            # no interval breaks the grid (the general path below gives the same result).
            dt = tt[1:] - tt[:-1]
            # (The ufuncs' own reductions: the same extremes without the method wrappers.)
            longest = float(np.maximum.reduce(dt))
            if float(np.minimum.reduce(dt)) > 0.0 and longest <= self._bridge_s:
                if longest > self._gap_s:
                    long_gaps = dt > self._gap_s
                    self.stats.gaps += int(np.count_nonzero(long_gaps))
                    self.stats.gap_s += float(dt[long_gaps].sum())
                self._emit(tt, vv, dt, out, longest)
                return
        t_s, values = tt[1:], vv[:, 1:]
        n = t_s.shape[0]
        lo = 0
        while lo < n:
            t = t_s[lo:]
            # A step back by more than CLOCK_RESET_S restarts the stream at that sample.
            hi = n
            if float(t.min()) < self._t_last - CLOCK_RESET_S or (
                    t.shape[0] > 1 and float(np.diff(t).min()) < -CLOCK_RESET_S):
                running = np.maximum.accumulate(np.concatenate(([self._t_last], t)))[:-1]
                resets = where_true(running - t > CLOCK_RESET_S)
                hi = lo + int(resets[0]) if resets.size else n
            if hi > lo:  # (nothing before the reset when it is the first sample left)
                self._feed_monotonic(t_s[lo:hi], values[:, lo:hi], out)
            if hi < n:
                self.stats.clock_resets += 1
                self._end_segment()
                self._t_last = -math.inf
            lo = hi

    def _feed_monotonic(self, t: FloatArray, v: FloatArray, out: list[GridChunk]) -> None:
        """Feeds samples (``v`` channel-major (6, n)) with no clock reset among them."""
        steps = np.diff(t)
        if t[0] <= self._t_last or (steps.size and float(steps.min()) <= 0.0):
            running = np.maximum.accumulate(np.concatenate(([self._t_last], t)))[:-1]
            keep = t > running
            self.stats.samples_dropped += int(keep.size - np.count_nonzero(keep))
            t, v = t[keep], v[:, keep]
        while t.shape[0]:
            if self._v_last is None:
                self._start_segment(float(t[0]), v[:, 0])
                t, v = t[1:], v[:, 1:]
                continue
            tt = np.concatenate(([self._t_last], t))
            vv = np.concatenate((self._v_last[:, None], v), axis=1)
            dt = tt[1:] - tt[:-1]
            stop = dt.shape[0]
            if float(dt.max()) > self._gap_s:
                breaks = where_true(dt > self._bridge_s)
                stop = int(breaks[0]) if breaks.size else dt.shape[0]
                inside = dt[:stop]
                long_gaps = inside > self._gap_s
                self.stats.gaps += int(np.count_nonzero(long_gaps))
                self.stats.gap_s += float(inside[long_gaps].sum())
            inside_dt = dt[:stop]
            self._emit(tt[: stop + 1], vv[:, : stop + 1], inside_dt, out,
                       float(inside_dt.max()) if stop else 0.0)
            if stop == dt.shape[0]:
                return
            self.stats.gaps += 1
            self.stats.gap_s += float(dt[stop])
            self.stats.breaks += 1
            self._end_segment()
            t, v = t[stop:], v[:, stop:]

    def _start_segment(self, t0: float, v0: FloatArray) -> None:
        self._t_last = t0
        self._v_last = v0.copy()
        self._c_last = np.zeros(6)
        self._k_next = math.ceil(t0 / GRID_DT_S + 0.5)
        self._c_left = None
        self._gap_from = self._gap_to = -math.inf

    def _end_segment(self) -> None:
        self._v_last = None
        self._c_last = np.zeros(6)
        self._c_left = None
        self._gap_from = self._gap_to = -math.inf

    def _emit(
        self, tt: FloatArray, vv: FloatArray, dt: FloatArray, out: list[GridChunk],
        longest: float,
    ) -> None:
        """Emits the complete grid cells covered by samples ``tt`` (tt[0] is the carried one);
        ``vv`` is channel-major (6, n); ``longest`` is the longest interval in ``dt``."""
        if tt.shape[0] < 2:
            return
        # The running integral: the carried one, then dt * (v0 + v1) * 0.5 per interval (the
        # increments written in place after it, the same operations in the same order).
        if self._cum.shape[1] < vv.shape[1]:
            self._cum = np.empty(vv.shape)
        cum = self._cum[:, :vv.shape[1]]
        cum[:, 0] = self._c_last
        increments = cum[:, 1:]
        np.add(vv[:, 1:], vv[:, :-1], out=increments)
        increments *= dt
        increments *= 0.5
        np.add.accumulate(cum, axis=1, out=cum)  # (cumsum's own loop, without its wrapper)
        if self._c_left is None:
            # The segment's first left edge lies at or after its first sample: integrate up to
            # it as soon as a sample beyond it arrives (later calls no longer hold the interval).
            left = (self._k_next - 0.5) * GRID_DT_S
            if tt[-1] < left:
                self._carry(tt, vv, cum)
                return
            self._c_left = self._integral_at(np.array([left]), tt, vv, dt, cum)[:, 0]
        k_last = math.floor(tt[-1] / GRID_DT_S - 0.5)
        gaps = dt > self._gap_s if longest > self._gap_s else None
        if k_last >= self._k_next:
            # Right edges of the new cells; the first left edge is the previous right edge.
            # (k + 0.5 is exact in a float: the same edges as adding 0.5 to each index.)
            halves = np.arange(self._k_next + 0.5, k_last + 1.0)
            c_right = self._integral_at(halves * GRID_DT_S, tt, vv, dt, cum)
            # Cell means, written sample-major (m, 6) through a channel-major view: each is
            # the difference of its edges' integrals, the first from the carried left edge.
            m = c_right.shape[1]
            samples = np.empty((m, 6))
            cells = samples.T
            np.subtract(c_right[:, :1], self._c_left[:, None], out=cells[:, :1])
            np.subtract(c_right[:, 1:], c_right[:, :-1], out=cells[:, 1:])
            cells *= GRID_RATE_HZ
            if (gaps is None and self._k_next * GRID_DT_S >= self._gap_to
                    and m <= _ALL_VALID.shape[0]):
                valid = _ALL_VALID[:m]
            else:
                valid = self._valid(tt, dt, gaps, m)
            out.append(GridChunk(self._k_next, samples[:, :3], samples[:, 3:], valid))
            self._k_next = k_last + 1
            self._c_left = c_right[:, -1].copy()
        self._carry(tt, vv, cum)
        if gaps is not None:
            last_gap = int(where_true(gaps)[-1])
            self._gap_from, self._gap_to = float(tt[last_gap]), float(tt[last_gap + 1])

    def _valid(
        self, tt: FloatArray, dt: FloatArray, gaps: NDArray[np.bool_] | None, m: int
    ) -> NDArray[np.bool_]:
        """Flags of the ``m`` cells from ``_k_next``: a cell is bridged (invalid) when its
        centre lies inside a gap. The centre of a cell completed now may lie before this
        call's first interval (up to one cell earlier): that gap, if any, is the carried one."""
        centres = np.arange(self._k_next, self._k_next + m, dtype=np.float64) * GRID_DT_S
        valid = np.ones(m, dtype=bool)
        if gaps is not None:
            cidx = np.searchsorted(tt, centres, side="right") - 1
            inside = cidx >= 0
            valid[inside] = ~gaps[np.minimum(cidx[inside], dt.shape[0] - 1)]
        if self._k_next * GRID_DT_S < self._gap_to:
            # (The carried gap ended at or before tt[0]: only centres before it can lie in it.)
            valid &= ~((centres >= self._gap_from) & (centres < self._gap_to))
        return valid

    def _carry(self, tt: FloatArray, vv: FloatArray, cum: FloatArray) -> None:
        self._t_last = float(tt[-1])
        self._v_last = vv[:, -1].copy()
        self._c_last = cum[:, -1].copy()

    @staticmethod
    def _integral_at(
        edges: FloatArray, tt: FloatArray, vv: FloatArray, dt: FloatArray, cum: FloatArray
    ) -> FloatArray:
        """The running integral at ``edges`` (all inside ``[tt[0], tt[-1]]``), shape (6, m)."""
        # The interval (tt[i], tt[i + 1]] holding each edge: an edge exactly on a sample is
        # the end of the interval before it, whether or not a later sample has arrived yet, so
        # the same arithmetic runs in one big block and in many small ones.
        idx = tt.searchsorted(edges, side="left")
        idx -= 1
        np.maximum(idx, 0, out=idx)
        np.minimum(idx, tt.shape[0] - 2, out=idx)
        h = edges - tt.take(idx)
        frac = h / dt.take(idx)
        # cum + h * (v0 + (v0 + frac * (v1 - v0))) * 0.5, in place on the gathered v1 (the
        # same operations in the same order; ``take`` gathers several times faster than
        # indexing a small array).
        v0 = vv.take(idx, axis=1)
        result: FloatArray = vv.take(idx + 1, axis=1)  # the samples after
        result -= v0
        result *= frac
        result += v0
        result += v0
        result *= h
        result *= 0.5
        result += cum.take(idx, axis=1)
        return result
