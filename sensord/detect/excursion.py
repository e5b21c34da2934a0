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

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final, overload

import numpy as np
from numpy.typing import NDArray

from sensord.dsp.frontend import Features
from sensord.dsp.history import (
    History,
    RotationLog,
    median,
    nanargmax,
    nanmean,
    pitch_deg,
    runs,
    sliding_extremes,
    sliding_range,
    where_true,
)
from sensord.dsp.resample import GRID_DT_S, GRID_RATE_HZ
from sensord.model import FloatArray

BASELINE_LAG: Final = 10  # baseline window ends 0.2 s before the sample it judges
BASELINE_LEN: Final = 21  # and spans 0.4 s (odd: its median is one sample, exactly)
BASELINE_STEADY_DEG: Final = 1.5  # the baseline window's pitch range must stay under this
_KEEP: Final = 3000  # 60 s: the longest excursion we follow
#: Searches look this far ahead at a time, so batch work stays linear in the samples.
SPAN: Final = 500
HOLD_TOL_FRACTION: Final = 0.25
MIN_SAMPLES: Final = 30  # 0.6 s: the quickest point-and-return we report
MAX_START_RATE_RAD_S: Final = 3.0
#: Plateaus inside an excursion (re-anchoring): steady for this long, and this far apart.
PLATEAU_LEN: Final = 21
WRONG_WAY_DEG: Final = 3.0
TURN_WINDOW: Final = 250
#: Gaps up to this many samples (2 s) are bridged with unknown samples instead of a restart.
MAX_BRIDGED_GAP: Final = 100  # 5 s: how long after a rep the next may start without settling
REANCHOR_MIN_DEG: Final = 5.0
REANCHOR_FRACTION: Final = 0.3
HOLD_TOL_MIN_DEG: Final = 0.8
_FIRST_LOOK: Final = 128  # samples an open excursion's end is first sought in
_SINGLE_CANDIDATES: Final = 2  # start candidates judged one at a time, before any batch
_FIRST_CANDIDATES: Final = 8  # then judged this many at a time (then four times as many)
_BASELINE_WINDOW: Final = np.arange(BASELINE_LEN)
_CACHE_RESTART: Final = 1000  # the open pitch cache starts afresh this far behind
_LEVEL_MARGIN_DEG: Final = 1e-6


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


@dataclass(frozen=True, slots=True)
class _Back:
    """The last excursion's return: the next rep may start before the foot settles home."""

    end: int
    home: float
    roll: float
    rotation: FloatArray
    amplitude: float


@dataclass(slots=True)
class _Open:
    start: int  # first sample beyond start_deg
    baseline: float
    roll: float
    rotation: FloatArray  # the mounting estimate the whole excursion is measured through
    opened: int = -1  # where the first (before any re-anchoring) excursion began

    def __post_init__(self) -> None:
        if self.opened < 0:
            self.opened = self.start


class PitchTrack:
    """The samples the excursion detectors read, kept once for all of them.

    Per grid sample (absolute index): the sensor-frame up vector, roll, tremor (squared gyro
    rate), validity and the front end's pitch. As a sample arrives, the start test runs on it
    once for every reader (detector): its pitch through the mounting estimate in force at it
    against the extremes of its baseline window (the BASELINE_LEN samples ending BASELINE_LAG
    before it) seen through that same estimate; the samples that pass are listed per reader.
    That depends only on the samples, so any detector may read the result whenever. Short
    gaps are bridged with unknown (NaN) samples; longer ones start a new segment
    (``generation`` counts them).
    """

    def __init__(self) -> None:
        self.history = History(keep=_KEEP)
        self.rotations = RotationLog()
        self.generation = 0
        self.segment_start = 0
        self._last: Features | None = None
        self._keep_from: dict[int, int] = {}
        self._readers: list[_Reader] = []
        self._least_start_deg = math.inf  # the smallest start threshold of any reader
        self._gather: dict[tuple[int, int], NDArray[np.intp]] = {}

    def update(self, features: Features) -> None:
        """Takes a chunk of features (a chunk already taken is ignored)."""
        if features is self._last:
            return
        self._last = features
        h = self.history
        new_from = features.k0
        if h.k_end != features.k0:
            gap = features.k0 - h.k_end
            if h.k_end > h.k_start and 0 < gap <= MAX_BRIDGED_GAP:
                # A short gap in the stream (lost packets): the foot is probably still where it
                # was, so keep following the rep with the missing samples marked unknown (NaN)
                # rather than dropping a rep that was nearly done.
                new_from = h.k_end
                h.append(
                    h.k_end, up=np.full((gap, 3), np.nan), roll=np.full(gap, np.nan),
                    tremor=np.full(gap, np.nan), valid=np.zeros(gap), own=np.full(gap, np.nan),
                )
            else:
                h.reset(features.k0)
                self.rotations.reset()
                self._keep_from = dict.fromkeys(self._keep_from, features.k0)
                for spec in self._readers:
                    spec.found.clear()
                self.generation += 1
                self.segment_start = features.k0
        h.append(
            features.k0,
            up=features.up_sensor,
            roll=features.roll_deg,
            tremor=np.einsum("ij,ij->i", features.gyro_rad_s, features.gyro_rad_s),
            valid=features.valid,
            own=features.pitch_deg,
        )
        self.rotations.extend(features.rotations)
        self._baselines(new_from, h.k_end)

    def _baselines(self, lo: int, hi: int) -> None:
        """Each reader's start candidates among samples ``[lo, hi)`` (see ``_Reader``): the
        sample's pitch and the extremes of its baseline window, both through the estimate in
        force at the sample, tested once, as it arrives. Samples whose window reaches before
        the segment are never judged."""
        span = BASELINE_LAG + BASELINE_LEN
        h = self.history
        n = hi - lo
        if lo - span >= self.segment_start and self.rotations.only(lo - span, hi) is not None:
            # Nearly always: one estimate over the samples and their windows. Each sample's
            # pitch is then the front end's (through that estimate), and so is its window.
            pitch = h.get("own", lo - span, hi)
            if self._too_level(pitch):
                return
            top, bottom = sliding_extremes(
                pitch[:n + BASELINE_LEN - 1], BASELINE_LEN, self._gather)
            steady = (top - bottom) < BASELINE_STEADY_DEG
            if not steady.any():
                return  # no steady window: no candidate (the tremor test cannot add one)
            calm = steady & ~(h.get("tremor", lo, hi) > MAX_START_RATE_RAD_S**2)
            self._candidates(lo, pitch[span:], top, bottom, calm)
            return
        calm = np.zeros(n, dtype=bool)
        pieces = self.rotations.segments(lo, hi)
        for a, b, rotation in pieces:
            first = max(a, self.segment_start + span)
            if first >= b:
                continue
            pitch = pitch_deg(h.get("up", first - span, b), rotation)
            own = pitch[span:]
            top, bottom = sliding_extremes(pitch[:b - first + BASELINE_LEN - 1], BASELINE_LEN)
            # Only samples beyond their window's range can be far from its median; and a held
            # exercise starts slowly (strides and taps swing far faster).
            steady = ((top - bottom) < BASELINE_STEADY_DEG) & ~(
                h.get("tremor", first, b) > MAX_START_RATE_RAD_S**2)
            if first == lo and b == hi:
                whole: tuple[FloatArray, FloatArray, FloatArray] | None = (own, top, bottom)
                calm = steady
                break
            calm[first - lo:b - lo] = steady
            whole = None
        else:
            whole = None
        if whole is None:
            # Several estimates (or a segment's first samples): assemble, NaN where unjudged.
            own, top, bottom = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
            for a, b, rotation in pieces:
                first = max(a, self.segment_start + span)
                if first >= b:
                    continue
                pitch = pitch_deg(h.get("up", first - span, b), rotation)
                own[first - lo:b - lo] = pitch[span:]
                top[first - lo:b - lo], bottom[first - lo:b - lo] = sliding_extremes(
                    pitch[:b - first + BASELINE_LEN - 1], BASELINE_LEN)
        else:
            own, top, bottom = whole
        self._candidates(lo, own, top, bottom, calm)

    def _too_level(self, pitch: FloatArray) -> bool:
        """Whether the pitch over the samples and all their windows spans less than any
        reader's start threshold: then no sample is that far beyond its window's extremes (the
        usual case while the foot rests). The margin is far above rounding; a NaN never passes.
        """
        spread = float(np.maximum.reduce(pitch)) - float(np.minimum.reduce(pitch))
        return spread < self._least_start_deg - _LEVEL_MARGIN_DEG

    def _candidates(
        self, lo: int, own: FloatArray, top: FloatArray, bottom: FloatArray,
        calm: NDArray[np.bool_],
    ) -> None:
        """Each reader's start candidates from sample ``lo`` on (see ``_Reader``)."""
        if not calm.any():
            return  # nothing steady and slow: no candidate for anyone (the usual case)
        for reader in self._readers:
            if reader.direction > 0:
                beyond = own > bottom + reader.start_deg
            elif reader.direction < 0:
                beyond = own < top - reader.start_deg
            else:
                beyond = (own > bottom + reader.start_deg) | (own < top - reader.start_deg)
            found = where_true(calm & beyond)
            if found.size:
                reader.found.extend((found + lo).tolist())

    def pitch(self, lo: int, hi: int, rotation: FloatArray) -> FloatArray:
        """Pitch over ``[lo, hi)`` through ``rotation``. Where that is the estimate the front end
        used over the whole stretch, its own pitch is these very numbers (the same products
        and arctangent), already computed: a view of it, instead of computing them again."""
        if self.rotations.only(lo, hi) is rotation:
            return self.history.get("own", lo, hi)
        return pitch_deg(self.history.get("up", lo, hi), rotation)

    def register(self, reader: object, start_deg: float, direction: int) -> _Reader:
        """Adds a reader: nothing is forgotten before it says how far back it looks."""
        self._keep_from[id(reader)] = self.history.k_start
        self._least_start_deg = min(self._least_start_deg, start_deg)
        spec = _Reader(start_deg, direction)
        self._readers.append(spec)
        return spec

    def keep(self, reader: object, keep_from: int) -> None:
        """Records how far back ``reader`` still looks; forgets what no reader needs."""
        self._keep_from[id(reader)] = keep_from
        h = self.history
        least = min(self._keep_from.values())
        if least <= h.k_start:
            # No sample to forget (most calls: another reader still looks further back), so no
            # listed candidate either (every one listed since is a newer sample).
            self.rotations.forget_before(h.k_start)
            return
        h.trim(least)
        self.rotations.forget_before(h.k_start)
        for spec in self._readers:
            if spec.found and spec.found[0] < h.k_start:
                del spec.found[:bisect_left(spec.found, h.k_start)]


@dataclass(slots=True)
class _Reader:
    """A detector's start test, applied by the track as samples arrive: ``found`` lists (in
    order, absolute) the samples that may open an excursion: steady baseline, slow, and
    beyond the baseline's range by ``start_deg`` the detector's way."""

    start_deg: float
    direction: int
    found: list[int] = field(default_factory=list)

    def between(self, lo: int, hi: int) -> list[int]:
        """The candidates in ``[lo, hi)``."""
        return self.found[bisect_left(self.found, lo):bisect_left(self.found, hi)]


class ExcursionDetector:
    """Streaming excursion detection on the segment pitch (see the module docstring)."""

    def __init__(
        self, *, start_deg: float, end_deg: float, end_fraction: float = 0.3,
        hold_tol_deg: float = 3.0, min_amplitude_deg: float = 2.0, max_duration_s: float = 15.0,
        direction: int = 0, max_amplitude_deg: float = 180.0, track: PitchTrack | None = None,
    ) -> None:
        #: Moving further than this is not the exercise (a change of posture): give up at once.
        self.max_amplitude_deg = max_amplitude_deg
        #: +1: only excursions that raise the pitch (toes up); -1: only lowering; 0: both. A
        #: one-way detector cannot lock onto the held pose as its home and count the returns.
        self.direction = direction
        self.start_deg = start_deg
        self.end_deg = end_deg
        self.end_fraction = end_fraction
        self.hold_tol_deg = hold_tol_deg
        self.min_amplitude_deg = min_amplitude_deg
        self.max_samples = int(max_duration_s * GRID_RATE_HZ)
        #: Detectors on the same features may share one track (see PitchTrack).
        self._track = track if track is not None else PitchTrack()
        self._reader = self._track.register(self, start_deg, direction)
        self._history = self._track.history
        self._rotations = self._track.rotations
        self._generation = -1
        self._scan = 0
        self._open: _Open | None = None
        self._back: _Back | None = None
        # Pitch through the open excursion's estimate, from ``_cache_lo`` on, as computed
        # so far: following a long hold costs the new samples only.
        self._cache_rotation: FloatArray | None = None
        self._cache_lo = 0
        self._cache: FloatArray = np.empty(0)
        # How far the open excursion has been followed without an end (samples from its
        # start), and the amplitude reached there.
        self._ends_for: _Open | None = None
        self._ends_done = 0
        self._ends_peak = 0.0
        self._plateaus_for: _Open | None = None
        self._steady: NDArray[np.bool_] = np.zeros(0, bool)
        self._levels: dict[int, float] = {}
        self._formed: list[int] = []
        self._gather: dict[tuple[int, int], NDArray[np.intp]] = {}  # window indices, by shape
        self._ranged = 0  # the pitch's range is known over the open excursion's first samples
        self._top, self._bottom = -math.inf, math.inf

    def _pitch(self, lo: int, hi: int) -> FloatArray:
        """Pitch over ``[lo, hi)`` through the open excursion's mounting estimate."""
        assert self._open is not None
        rotation = self._open.rotation
        h = self._history
        hi = min(hi, h.k_end)
        if self._rotations.only(lo, hi) is rotation:
            return h.get("own", lo, hi)  # the front end's own pitch (see PitchTrack.pitch)
        known = self._cache_lo + self._cache.shape[0]
        if (rotation is not self._cache_rotation or lo < self._cache_lo or known < lo
                or known < h.k_start or lo - self._cache_lo > _CACHE_RESTART):
            if lo < h.k_start or lo >= hi:
                return pitch_deg(h.get("up", lo, hi), rotation)
            self._cache_rotation, self._cache_lo, self._cache = rotation, lo, np.empty(0)
            known = lo
        if hi > known:
            more = pitch_deg(h.get("up", known, hi), rotation)
            self._cache = np.concatenate((self._cache, more))
        return self._cache[lo - self._cache_lo:max(lo, hi) - self._cache_lo]

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
        if np.isnan(recent).any() or recent.max() - recent.min() > self.hold_tol_deg:
            return None
        level = median(recent)
        away = np.abs(pitch - level) > self.hold_tol_deg
        outside = where_true(away)
        since = int(outside[-1]) + 1 if outside.size else 0
        return float((pitch.shape[0] - since) * GRID_DT_S)

    def update(self, features: Features) -> list[Excursion]:
        track = self._track
        track.update(features)
        if track.generation != self._generation:
            # A new segment (a break in the stream): start over.
            self._generation = track.generation
            self._scan = track.segment_start + BASELINE_LAG + BASELINE_LEN
            self._open = None
            self._back = None
            self._cache_rotation = None
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
        keep_from = self._open.opened - BASELINE_LAG - BASELINE_LEN if self._open else (
            self._scan - BASELINE_LAG - BASELINE_LEN)
        if self._back is not None:
            keep_from = min(keep_from, self._back.end)
        track.keep(self, keep_from)
        return found

    def _turnaround(self, lo: int, hi: int) -> int | None:
        """The first index in ``[lo, hi)`` where, coming back from the last rep, the foot turned
        and set off on the next one before settling home (short rests between reps)."""
        back = self._back
        if back is None or self.direction == 0:
            return None
        stop = min(hi, back.end + TURN_WINDOW)
        if stop <= lo:
            return None
        pitch = self._track.pitch(back.end, stop, back.rotation)
        into = self._into(pitch, back.home)  # (a one-way detector: the signed offset)
        closest = np.fmin.accumulate(into)
        near_home = closest <= max(self.end_deg, self.end_fraction * back.amplitude)
        turned = where_true(near_home & (into > closest + self.start_deg))
        first = int(turned.searchsorted(lo - back.end))  # the ones before lo were passed
        return back.end + int(turned[first]) if first < turned.shape[0] else None

    def _find_start(self) -> bool:
        """Looks for the next excursion start from ``_scan``; True if one was found."""
        h = self._history
        found = self._reader.found
        if self._back is None and (not found or found[-1] < self._scan):
            # No candidate left and no return to turn around from (most of the time): the
            # search below would pass every sample without a start.
            self._scan = max(self._scan, h.k_end)
            return False
        while self._scan < h.k_end:
            lo = self._scan
            hi = min(h.k_end, lo + SPAN)
            turn = self._turnaround(lo, hi)
            if turn is not None:
                hi = turn  # a steady-baseline start before it still wins
            # Each sample is judged against its baseline window through one mounting estimate
            # (the one in force at the sample), so a refined estimate is not a movement.
            for a, b, rotation in self._rotations.segments(lo, hi):
                start = self._steady_start(a, b, rotation)
                if start is not None:
                    self._scan = start + 1
                    return True
            if turn is not None:
                back = self._back
                assert back is not None
                self._open = _Open(turn, back.home, back.roll, back.rotation)
                self._back = None
                self._scan = turn + 1
                return True
            if self._back is not None and hi >= self._back.end + TURN_WINDOW:
                self._back = None
            self._scan = hi
        return False

    def _steady_start(self, lo: int, hi: int, rotation: FloatArray) -> int | None:
        """The first sample in ``[lo, hi)`` that leaves a steady baseline (opening it)."""
        listed = self._reader.between(lo, hi)
        if not listed:
            return None  # no candidate (the usual case)
        span = BASELINE_LAG + BASELINE_LEN
        pitch = self._track.pitch(listed[0] - span, listed[-1] + 1, rotation)
        leaving = self._first_leaving(listed, pitch)
        if leaving is None:
            return None
        start, level = leaving
        roll = nanmean(self._history.get("roll", start - span, start - BASELINE_LAG))
        self._open = _Open(start, level, roll, rotation)
        self._back = None
        return start

    def _first_leaving(self, listed: list[int], pitch: FloatArray) -> tuple[int, float] | None:
        """The first of the ``listed`` candidates that leaves its baseline, and that baseline's
        level (``pitch`` covers them and their windows, from the first window on).

        Each candidate is judged against the median of its baseline window (a median, not a
        mean: order statistics are exact, so the level cannot depend on how many samples are
        evaluated at once). The first that leaves is usually among the first few: the first
        one or two are judged one at a time with plain floats (one numpy call each), then a
        few at a time, the later ones only if needed: the same order statistic and difference
        either way.
        """
        span = BASELINE_LAG + BASELINE_LEN
        middle = BASELINE_LEN // 2
        first = listed[0]
        done = min(len(listed), _SINGLE_CANDIDATES)
        for k in range(done):
            at_k = listed[k] - first
            level = float(np.partition(pitch[at_k:at_k + BASELINE_LEN], middle)[middle])
            if self._beyond_start(float(pitch[at_k + span]) - level):
                return listed[k], level
        size = _FIRST_CANDIDATES
        while done < len(listed):
            at = np.array(listed[done:done + size]) - first
            windows = pitch[at[:, None] + _BASELINE_WINDOW]
            levels = np.partition(windows, middle, axis=1)[:, middle]
            leaves = where_true(self._beyond_start(pitch[at + span] - levels))
            if leaves.size:
                return first + int(at[leaves[0]]), float(levels[leaves[0]])
            done += size
            size *= 4
        return None

    @overload
    def _beyond_start(self, away: float) -> bool: ...
    @overload
    def _beyond_start(self, away: FloatArray) -> NDArray[np.bool_]: ...

    def _beyond_start(self, away: float | FloatArray) -> bool | NDArray[np.bool_]:
        """Whether a departure from the baseline (a float or an array of them) passes
        start_deg the detector's way (either way for a two-way detector)."""
        if self.direction > 0:
            return away > self.start_deg
        if self.direction < 0:
            return away < -self.start_deg
        return np.abs(away) > self.start_deg

    def _into(self, pitch: FloatArray, home: float) -> FloatArray:
        """How far into a rep each sample is from ``home``: the offset times the direction, in
        one call (negating a difference is exact: home - pitch is the same numbers as
        -(pitch - home)); its absolute value for a two-way detector."""
        if self.direction > 0:
            return pitch - home
        if self.direction < 0:
            return home - pitch
        return np.abs(pitch - home)

    def _find_end(self) -> tuple[Excursion | None, bool]:
        """Follows the open excursion; returns (completed excursion, whether it progressed)."""
        assert self._open is not None
        h = self._history
        start = self._open.start
        timeout = self._open.opened + self.max_samples - start
        # Nothing after the timeout can decide (it comes first): look no further. Every test
        # at a sample depends only on the samples up to it, so a first look at a shorter
        # stretch finds the same first event when it holds one (long stretches are common
        # in a batch, where an excursion's end has usually arrived already).
        stop = min(h.k_end, start + max(timeout, 0) + 1)
        if self._ends_for is not self._open:
            self._ends_for, self._ends_done, self._ends_peak = self._open, 0, 0.0
        # Samples already found undecided stay so: carry on after them.
        done = self._ends_done
        size = _FIRST_LOOK
        while True:
            hi = min(stop, start + done + size)
            looked = self._pitch(start + done, hi)
            events, amplitude = self._end_events(looked, done, timeout)
            if events or hi >= stop:
                break
            done = hi - start
            self._ends_done, self._ends_peak = done, float(amplitude[-1])
            size *= 4
        if not events and hi > start + done:
            self._ends_done, self._ends_peak = hi - start, float(amplitude[-1])
        at, kind = min(events) if events else (hi - start, -1)
        # (``at`` never passes the samples looked at: from the start, they hold the pitch up
        # to it already, the same numbers; the usual case in a batch.)
        pitch = looked[:at] if done == 0 else self._pitch(start, start + at)
        if self._reanchor(pitch, at):
            return None, True
        if kind == 0:
            end = start + at
            # Too quick to be a held rep (a stride, a tap): not worth measuring.
            excursion = self._measure(start, end, pitch) if end - start >= MIN_SAMPLES else None
            self._back = None if excursion is None else _Back(
                end, self._open.baseline, self._open.roll, self._open.rotation,
                float(amplitude[at - done]))
            self._open = None
            self._scan = end + 1
            return excursion, True
        if kind == 1:
            # Beyond the exercise's range: not a rep, but perhaps a change of posture (stepping
            # onto the ball) followed by a rep from the new posture before the range was
            # passed: look again from where the pitch first held still.
            opened = self._open.opened
            if (opened == start and self._plateaus_for is self._open
                    and self._steady.shape[0] == at - PLATEAU_LEN + 1):
                # The re-anchoring just judged these very windows (the excursion's, up to
                # ``at``): the first steady one starts the first plateau.
                first_steady = self._formed[0] if self._formed else None
            else:
                passed = pitch if opened == start else self._pitch(opened, start + at)
                steady = where_true(sliding_range(passed, PLATEAU_LEN) < BASELINE_STEADY_DEG) if (
                    passed.shape[0] >= PLATEAU_LEN) else np.empty(0, dtype=np.int64)
                first_steady = int(steady[0]) if steady.size else None
            self._open = None
            self._scan = opened + first_steady + PLATEAU_LEN if first_steady is not None else (
                start + at)
            self._scan = max(self._scan, opened + 1)
            return None, True
        if kind == 2:
            # Well past home the other way: not a rep.
            self._open = None
            self._scan = start + max(1, at)
            return None, True
        if kind == 3:
            self._open = None
            self._scan = start + at + 1
            return None, True
        if kind == 4:
            # Never came back: a change of posture, not a rep. Look again from where the new
            # posture first held still (the samples are kept), so reps made from it count.
            opened = self._open.opened
            steady = where_true(sliding_range(
                self._pitch(opened, opened + self.max_samples), PLATEAU_LEN) < BASELINE_STEADY_DEG)
            self._open = None
            self._scan = opened + (
                int(steady[0]) + PLATEAU_LEN if steady.size else self.max_samples)
            return None, True
        return None, False

    def _end_events(
        self, pitch: FloatArray, done: int, timeout: int
    ) -> tuple[list[tuple[int, int]], FloatArray]:
        """(first index, kind) of each way the open excursion can end within ``pitch``, its
        samples from index ``done`` on (the ones before had none), and the amplitude reached
        by each of them."""
        assert self._open is not None
        # Only movement the detector's way counts; going well past home the other way means
        # this was not a rep (a posture change the other way): give it up there.
        into = self._into(pitch, self._open.baseline)
        distance = np.abs(into) if self.direction else into
        beyond = np.fmax(into, 0.0)  # fmax: unknown samples are skipped (no NaN left)
        if done and beyond.shape[0] and self._ends_peak > beyond[0]:
            beyond[0] = self._ends_peak  # carried from the samples before
        amplitude = np.maximum.accumulate(beyond)
        # The amplitude never falls, so it reaches the minimum (and passes the maximum) at one
        # index: the samples before it can only be "small", the ones after only a return.
        grown = int(amplitude.searchsorted(self.min_amplitude_deg))
        skip = 0 if done else 1  # the excursion's first sample cannot end it
        events: list[tuple[int, int]] = []
        self._near_home(distance, amplitude, grown, skip, done=done, events=events)
        if grown < pitch.shape[0] and float(amplitude[-1]) > self.max_amplitude_deg:
            # (The amplitude only grows: it passes the maximum within these samples if and
            # only if their last one is beyond it.)
            over = int(amplitude.searchsorted(self.max_amplitude_deg, side="right"))
            events.append((done + over, 1))
        # (Only a sample beyond WRONG_WAY_DEG the other way can be one: usually none is, which
        # the smallest known sample shows in one call.)
        if float(np.fmin.reduce(into)) < -WRONG_WAY_DEG:
            share = self.end_fraction * amplitude
            wrong_way = where_true(into < -np.maximum(WRONG_WAY_DEG, share))
            if wrong_way.size:
                events.append((done + int(wrong_way[0]), 2))
        # Whatever happens first decides, judged only on samples up to that moment, so the
        # outcome does not depend on how many samples had arrived when this ran.
        if done + pitch.shape[0] > timeout:
            events.append((timeout, 4))
        return events, amplitude

    def _near_home(
        self, distance: FloatArray, amplitude: FloatArray, grown: int, skip: int, *,
        done: int, events: list[tuple[int, int]],
    ) -> None:
        """The first sample back near home: a small end (kind 3: within end_deg before the
        amplitude reached min_amplitude_deg, at ``grown``) or a return (kind 0: within
        ``max(end_deg, end_fraction * amplitude)`` after it, on a real sample). One search
        with each sample's own threshold finds both: a small end comes before any return."""
        n = distance.shape[0]
        if skip >= n:
            return
        if self.end_fraction >= 0.0 and self.end_fraction * float(amplitude[-1]) <= self.end_deg:
            # The amplitude never falls and scaling by a non-negative factor keeps its order
            # (rounding too), so no share exceeds end_deg: the threshold is end_deg throughout
            # (the usual case: small excursions, strides and taps).
            near = distance[skip:] < self.end_deg
        else:
            threshold = np.maximum(self.end_deg, self.end_fraction * amplitude[skip:])
            if grown > skip:
                threshold[:grown - skip] = self.end_deg  # the small end's, before the growth
            near = distance[skip:] < threshold
        hits = where_true(near)
        if not hits.size:
            return
        if skip + int(hits[0]) < grown:
            events.append((done + skip + int(hits[0]), 3))
            return
        # A return is seen on real samples: a dip of a small hold across samples bridged over
        # lost packets is not the foot coming home. The first sample near home is nearly
        # always real: only otherwise are they all looked at.
        assert self._open is not None
        first = self._open.start + done + skip
        valid = self._history.get("valid", first, first + n - skip)
        if not valid[hits[0]] > 0.5:
            hits = where_true(near & (valid > 0.5))
        if hits.size:
            events.append((done + skip + int(hits[0]), 0))

    def _reanchor(self, pitch: FloatArray, limit: int) -> bool:
        """Re-anchors the open excursion when it turns out to have been a change of posture.

        Within the excursion (before ``limit``, the return if any) plateaus form where the
        pitch stays steady for PLATEAU_LEN samples. A hold may drift, but a next plateau far
        from the previous one, and not back at the baseline, means the first move was a new
        posture (sitting down, stretching the leg out) and the movement from that posture is
        the rep: the excursion starts again from the previous plateau.
        """
        assert self._open is not None
        if limit < 2 * PLATEAU_LEN:
            return False
        # Which windows are steady, the plateaus' levels and the pitch's range are kept for the
        # open excursion as it grows (they depend on its samples only).
        if self._plateaus_for is not self._open:
            self._plateaus_for, self._steady, self._levels = self._open, np.zeros(0, bool), {}
            self._formed, self._ranged, self._top, self._bottom = [], 0, -math.inf, math.inf
        # Plateau levels lie within the pitch's range, so no jump between two of them can be
        # REANCHOR_MIN_DEG where the range is not (most excursions followed are small).
        if not self._wide(pitch, limit):
            return False
        formed = self._plateau_starts(pitch, limit)
        if len(formed) < 2:
            return False  # a jump needs two plateaus (the usual case: one hold)
        previous: float | None = None
        previous_at = 0
        middle = PLATEAU_LEN // 2
        for i in formed:
            level = self._levels.get(i)
            if level is None:
                level = float(np.partition(pitch[i:i + PLATEAU_LEN], middle)[middle])
                self._levels[i] = level
            if previous is not None:
                jump = abs(level - previous)
                needed = max(REANCHOR_MIN_DEG, REANCHOR_FRACTION * abs(
                    previous - self._open.baseline))
                home = abs(level - self._open.baseline) <= max(
                    self.end_deg, self.end_fraction * abs(previous - self._open.baseline))
                if jump > needed and not home:
                    after = pitch[previous_at:limit]
                    left = where_true(np.abs(after - previous) > self.start_deg)
                    if left.size:
                        start = self._open.start + previous_at + int(left[0])
                        self._open = _Open(start, previous, self._open.roll, self._open.rotation,
                                           self._open.opened)
                        return True
            previous = level
            previous_at = i + PLATEAU_LEN
        return False

    def _wide(self, pitch: FloatArray, limit: int) -> bool:
        """Whether ``pitch[:limit]`` spans more than REANCHOR_MIN_DEG (or holds a NaN, which
        fails the test and goes on). Once wide, always: so only new samples are looked at."""
        if self._ranged == limit:
            return self._top - self._bottom > REANCHOR_MIN_DEG
        if self._ranged > limit:
            seen = pitch[:limit]  # (never asked: the excursion's end only moves on)
            return not (float(np.maximum.reduce(seen)) - float(np.minimum.reduce(seen))
                        <= REANCHOR_MIN_DEG)
        if self._top - self._bottom > REANCHOR_MIN_DEG:
            return True
        part = pitch[self._ranged:limit]
        top, bottom = float(np.maximum.reduce(part)), float(np.minimum.reduce(part))
        self._ranged = limit
        if math.isnan(top) or math.isnan(bottom):
            self._top, self._bottom = math.inf, -math.inf
        else:
            self._top, self._bottom = max(self._top, top), min(self._bottom, bottom)
        return self._top - self._bottom > REANCHOR_MIN_DEG

    def _plateau_starts(self, pitch: FloatArray, limit: int) -> list[int]:
        """Where plateaus form in ``pitch[:limit]``: the first window of each run of steady
        windows (PLATEAU_LEN samples within BASELINE_STEADY_DEG). Windows are judged once."""
        windows = limit - PLATEAU_LEN + 1
        have = self._steady.shape[0]
        if have > windows:
            steady = self._steady[:windows]  # (never asked: the excursion's end only moves on)
            rising = steady & ~np.concatenate(([False], steady[:-1]))
            starts: list[int] = where_true(rising).tolist()
            return starts
        if have < windows:
            top, bottom = sliding_extremes(pitch[have:limit], PLATEAU_LEN, self._gather)
            fresh = (top - bottom) < BASELINE_STEADY_DEG
            before = bool(self._steady[-1]) if have else False
            if fresh[0] and not before:
                self._formed.append(have)
            # A run starts where a steady window follows an unsteady one (True > False).
            self._formed.extend((where_true(fresh[1:] > fresh[:-1]) + (have + 1)).tolist())
            self._steady = np.concatenate((self._steady, fresh))
        return self._formed

    def _measure(self, start: int, end: int, pitch: FloatArray) -> Excursion:
        """The completed excursion ``[start, end)``; ``pitch`` is its pitch (through the open
        excursion's estimate), already at hand."""
        assert self._open is not None
        h = self._history
        baseline = self._open.baseline
        offset = pitch - baseline
        distance = np.abs(offset)
        peak = int(np.argmax(distance))
        # argmax stops at the first NaN: a number where it stopped means no sample is unknown
        # (the usual case), else nanargmax finds the peak among the known ones.
        unknown = math.isnan(float(distance[peak]))
        if unknown:
            peak = nanargmax(distance)
        amplitude = float(offset[peak])
        deep = distance >= 0.7 * abs(amplitude)
        plateau = median(pitch[deep])
        # "Within a few degrees of the plateau": a few degrees of a 30 degree flexion, but a
        # proportionate fraction of a 4 degree press.
        tolerance = min(
            self.hold_tol_deg, max(HOLD_TOL_MIN_DEG, HOLD_TOL_FRACTION * abs(amplitude)))
        # Unknown samples (a short gap) inside the plateau count as held.
        near = np.abs(pitch - plateau) <= tolerance
        if unknown:
            near |= np.isnan(pitch)
        # Longest run of samples near the plateau.
        run_starts, run_ends = runs(near)
        if run_starts.size:
            best = int(np.argmax(run_ends - run_starts))
            hold_lo, hold_hi = int(run_starts[best]), int(run_ends[best])
        else:
            hold_lo = hold_hi = peak
        tremor = h.get("tremor", start + hold_lo, start + hold_hi)
        # Leaving neutral: step back to where the pitch was within a third of start_deg.
        # (BASELINE_LAG samples: plain floats, the same difference and absolute value as numpy
        # would take of each, looked at from the last one back.)
        before = self._track.pitch(start - BASELINE_LAG, start, self._open.rotation).tolist()
        calm_deg = self.start_deg / 3.0
        leaves = start
        for i in range(len(before) - 1, -1, -1):
            if abs(before[i] - baseline) < calm_deg:
                leaves = start - BASELINE_LAG + i + 1
                break
        t_start = leaves * GRID_DT_S
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
            tremor_rad_s=_rms(tremor),
            valid=valid,
        )


def _rms(tremor: FloatArray) -> float:
    """The RMS rate from squared rates: the root of their mean over the known samples (as
    ``nanmean`` gives it), 0 when none is known. One sum when every sample is known (the
    usual case) instead of a test for a known one and then the mean."""
    total = float(tremor.sum())
    if tremor.shape[0] and math.isfinite(total):
        return math.sqrt(total / int(tremor.shape[0]))
    return math.sqrt(nanmean(tremor)) if np.isfinite(tremor).any() else 0.0
