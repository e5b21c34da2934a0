"""Point-hold-return movements of the foot's pitch: the shared core of the hold exercises.

Method (after the notes' state machine for flexion holds): a trailing baseline is taken while the
pitch is steady; an excursion starts when the pitch leaves it by ``start_deg``; it ends when the
pitch is back within ``max(end_deg, end_fraction * amplitude)`` of the baseline. The hold is the
longest stretch of the excursion within ``hold_tol_deg`` of its plateau (the median of the part
beyond 70 % of the amplitude): the angle, smoothed over 0.26 s, not gyro stillness, because band
tremor (6-12 Hz) keeps the gyro busy while the foot is held. A rep counts only on a complete
return. Everything runs on the 50 Hz grid with decisions at fixed sample indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from sensord.dsp.frontend import Features
from sensord.dsp.history import History, RotationLog, pitch_deg
from sensord.dsp.resample import GRID_DT_S, GRID_RATE_HZ
from sensord.model import FloatArray

BASELINE_LAG: Final = 10  # baseline window ends 0.2 s before the sample it judges
BASELINE_LEN: Final = 21  # and spans 0.4 s (odd: its median is one sample, exactly)
BASELINE_STEADY_DEG: Final = 1.5  # the baseline window's pitch range must stay under this
_KEEP: Final = 3000  # 60 s: the longest excursion we follow
#: Searches look this far ahead at a time, so batch work stays linear in the samples.
SPAN: Final = 500
HOLD_TOL_FRACTION: Final = 0.1
HOLD_TOL_MIN_DEG: Final = 0.4


@dataclass(frozen=True, slots=True)
class Excursion:
    """A completed excursion of the pitch away from a steady baseline and back.

    ``amplitude_deg`` is signed (negative: toes went down). ``hold_s`` is the time within
    ``hold_tol_deg`` of the plateau. ``baseline_deg`` is the pitch before it, ``roll_deg`` the
    roll there. ``tremor_rad_s`` is the RMS gyro during the hold (a held, loaded foot trembles).
    """

    t_start: float
    t_end: float
    t_known: float
    amplitude_deg: float
    plateau_deg: float
    baseline_deg: float
    roll_deg: float
    hold_s: float
    hold_start: float
    hold_end: float
    tremor_rad_s: float
    valid: bool


@dataclass(slots=True)
class _Open:
    start: int  # first sample beyond start_deg
    baseline: float
    roll: float
    rotation: FloatArray  # the mounting estimate the whole excursion is measured through


class ExcursionDetector:
    """Streaming excursion detection on the segment pitch (see the module docstring)."""

    def __init__(
        self, *, start_deg: float, end_deg: float, end_fraction: float = 0.3,
        hold_tol_deg: float = 3.0, min_amplitude_deg: float = 2.0, max_duration_s: float = 40.0,
    ) -> None:
        self.start_deg = start_deg
        self.end_deg = end_deg
        self.end_fraction = end_fraction
        self.hold_tol_deg = hold_tol_deg
        self.min_amplitude_deg = min_amplitude_deg
        self.max_samples = int(max_duration_s * GRID_RATE_HZ)
        self._history = History(keep=_KEEP)
        self._rotations = RotationLog()
        self._scan = 0
        self._open: _Open | None = None

    def reset(self) -> None:
        self._history = History(keep=_KEEP)
        self._rotations.reset()
        self._open = None

    def _pitch(self, lo: int, hi: int) -> FloatArray:
        """Pitch over ``[lo, hi)`` through the open excursion's mounting estimate."""
        assert self._open is not None
        return pitch_deg(self._history.get("up", lo, hi), self._open.rotation)

    @property
    def open_since(self) -> float | None:
        """Start time of the excursion under way, if any."""
        return None if self._open is None else self._open.start * GRID_DT_S

    def running_hold_s(self) -> float | None:
        """The hold timer of the excursion under way (None when not holding)."""
        if self._open is None:
            return None
        h = self._history
        pitch = self._pitch(self._open.start, h.k_end)
        if pitch.shape[0] < 5:
            return None
        recent = pitch[-5:]
        if recent.max() - recent.min() > self.hold_tol_deg:
            return None
        level = float(np.median(recent))
        away = np.abs(pitch - level) > self.hold_tol_deg
        outside = np.flatnonzero(away)
        since = int(outside[-1]) + 1 if outside.size else 0
        return float((pitch.shape[0] - since) * GRID_DT_S)

    def update(self, features: Features) -> list[Excursion]:
        h = self._history
        if features.new_segment or h.k_end != features.k0:
            h.reset(features.k0)
            self._scan = features.k0 + BASELINE_LAG + BASELINE_LEN
            self._open = None
        h.append(
            features.k0,
            pitch=features.pitch_deg,
            up=features.up_sensor,
            roll=features.roll_deg,
            tremor=np.sum(features.gyro_rad_s**2, axis=1),
            valid=features.valid.astype(np.float64),
        )
        self._rotations.extend(features.rotations)
        found: list[Excursion] = []
        while True:
            if self._open is None:
                if not self._find_start():
                    break
            else:
                excursion, progressed = self._find_end()
                if excursion is not None:
                    found.append(excursion)
                if not progressed:
                    break
        keep_from = self._open.start - BASELINE_LAG - BASELINE_LEN if self._open else (
            self._scan - BASELINE_LAG - BASELINE_LEN)
        h.trim(keep_from)
        self._rotations.forget_before(h.k_start)
        return found

    def _find_start(self) -> bool:
        """Looks for the next excursion start from ``_scan``; True if one was found."""
        h = self._history
        while self._scan < h.k_end:
            lo = self._scan
            hi = min(h.k_end, lo + SPAN)
            span = BASELINE_LAG + BASELINE_LEN
            pitch = h.get("pitch", lo - span, hi)
            windows = np.lib.stride_tricks.sliding_window_view(pitch, BASELINE_LEN)
            # windows[i] is the baseline window of sample lo + i.
            base = windows[: hi - lo]
            top = base.max(axis=1)
            bottom = base.min(axis=1)
            current = pitch[span:]
            # Only samples beyond their window's range can be far from its median.
            maybe = ((top - bottom) < BASELINE_STEADY_DEG) & (
                (current > bottom + self.start_deg) | (current < top - self.start_deg))
            for i in np.flatnonzero(maybe).tolist():
                # A median, not a mean: order statistics are exact, so the level cannot depend
                # on how many samples are evaluated at once.
                level = float(np.median(base[i]))
                if abs(float(current[i]) - level) > self.start_deg:
                    start = lo + i
                    roll = float(np.mean(h.get("roll", start - span, start - BASELINE_LAG)))
                    rotation = self._rotations.at(start)
                    # The baseline again, through the estimate the excursion is measured with.
                    window = pitch_deg(
                        h.get("up", start - span, start - span + BASELINE_LEN), rotation)
                    self._open = _Open(start, float(np.median(window)), roll, rotation)
                    self._scan = start + 1
                    return True
            self._scan = hi
        return False

    def _find_end(self) -> tuple[Excursion | None, bool]:
        """Follows the open excursion; returns (completed excursion, whether it progressed)."""
        assert self._open is not None
        h = self._history
        start = self._open.start
        pitch = self._pitch(start, h.k_end)
        offset = pitch - self._open.baseline
        distance = np.abs(offset)
        amplitude = np.maximum.accumulate(distance)
        back = (distance < np.maximum(self.end_deg, self.end_fraction * amplitude)) & (
            amplitude >= self.min_amplitude_deg)
        back[0] = False
        hit = np.flatnonzero(back)
        if hit.size and hit[0] < self.max_samples:
            end = start + int(hit[0])
            excursion = self._measure(start, end)
            self._open = None
            # The next baseline must lie wholly after this excursion (else the tail of the
            # return would look like a new excursion away from the held level).
            self._scan = end + BASELINE_LAG + BASELINE_LEN
            return excursion, True
        if pitch.shape[0] >= self.max_samples:
            # Never came back: a change of posture, not a rep. Look again from here.
            self._open = None
            self._scan = start + self.max_samples
            return None, True
        # Dropped back below the start threshold without reaching the minimum amplitude.
        small = (distance < self.end_deg) & (amplitude < self.min_amplitude_deg)
        small[0] = False
        quit_at = np.flatnonzero(small)
        if quit_at.size:
            self._open = None
            self._scan = start + int(quit_at[0]) + 1
            return None, True
        return None, False

    def _measure(self, start: int, end: int) -> Excursion:
        assert self._open is not None
        h = self._history
        baseline = self._open.baseline
        pitch = self._pitch(start, end)
        offset = pitch - baseline
        peak = int(np.argmax(np.abs(offset)))
        amplitude = float(offset[peak])
        deep = np.abs(offset) >= 0.7 * abs(amplitude)
        plateau = float(np.median(pitch[deep]))
        # "Within a few degrees of the plateau": a few degrees of a 30 degree flexion, but a
        # proportionate fraction of a 4 degree press.
        tolerance = min(
            self.hold_tol_deg, max(HOLD_TOL_MIN_DEG, HOLD_TOL_FRACTION * abs(amplitude)))
        near = np.abs(pitch - plateau) <= tolerance
        # Longest run of samples near the plateau.
        edges = np.diff(np.concatenate(([0], near.astype(np.int8), [0])))
        run_starts = np.flatnonzero(edges == 1)
        run_ends = np.flatnonzero(edges == -1)
        lengths = run_ends - run_starts
        best = int(np.argmax(lengths))
        hold_lo, hold_hi = int(run_starts[best]), int(run_ends[best])
        tremor = h.get("tremor", start + hold_lo, start + hold_hi)
        # Leaving neutral: step back to where the pitch was within a third of start_deg.
        before = np.abs(self._pitch(start - BASELINE_LAG, start) - baseline)
        calm = np.flatnonzero(before < self.start_deg / 3.0)
        t_start = (start - BASELINE_LAG + int(calm[-1]) + 1 if calm.size else start) * GRID_DT_S
        valid = bool(h.get("valid", start, end + 1).min() > 0.5)
        return Excursion(
            t_start=t_start,
            t_end=end * GRID_DT_S,
            t_known=end * GRID_DT_S,
            amplitude_deg=amplitude,
            plateau_deg=plateau,
            baseline_deg=baseline,
            roll_deg=self._open.roll,
            hold_s=(hold_hi - hold_lo) * GRID_DT_S,
            hold_start=(start + hold_lo) * GRID_DT_S,
            hold_end=(start + hold_hi) * GRID_DT_S,
            tremor_rad_s=float(np.sqrt(np.mean(tremor))) if tremor.size else 0.0,
            valid=valid,
        )
