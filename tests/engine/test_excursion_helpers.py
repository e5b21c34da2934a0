"""The excursion detectors' shortcuts decide as the straightforward tests they replace.

Each shortcut skips numpy calls that cannot change a decision; these tests hold them against
the plain versions on random data (unknown samples included), bit for bit where numbers are
kept and event for event where only the first event decides.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sensord.detect.excursion import (
    BASELINE_LEN,
    BASELINE_STEADY_DEG,
    PLATEAU_LEN,
    WRONG_WAY_DEG,
    ExcursionDetector,
    _Open,
    _rms,
)
from sensord.dsp.history import nanmean, sliding_range, where_true

PITCH = st.one_of(st.floats(-40.0, 40.0, allow_nan=False), st.just(math.nan))


def _plain_end_events(
    detector: ExcursionDetector, pitch: np.ndarray, done: int, timeout: int, valid: np.ndarray,
) -> list[tuple[int, int]]:
    """The end tests one by one, as first written (``valid`` from the excursion's start)."""
    opened = detector._open
    assert opened is not None
    into = detector.direction * (pitch - opened.baseline) if detector.direction else np.abs(
        pitch - opened.baseline)
    distance = np.abs(into)
    beyond = np.fmax(into, 0.0)
    if done and beyond.shape[0] and detector._ends_peak > beyond[0]:
        beyond[0] = detector._ends_peak
    amplitude = np.maximum.accumulate(beyond)
    grown = int(amplitude.searchsorted(detector.min_amplitude_deg))
    share = detector.end_fraction * amplitude
    skip = 0 if done else 1
    events: list[tuple[int, int]] = []
    if grown < pitch.shape[0]:
        at = max(grown, skip)
        seen = valid[done + at:done + pitch.shape[0]] > 0.5
        back = where_true((distance[at:] < np.maximum(detector.end_deg, share[at:])) & seen)
        if back.size:
            events.append((done + at + int(back[0]), 0))
        over = int(amplitude.searchsorted(detector.max_amplitude_deg, side="right"))
        if over < pitch.shape[0]:
            events.append((done + over, 1))
    wrong_way = where_true(into < -np.maximum(WRONG_WAY_DEG, share))
    if wrong_way.size:
        events.append((done + int(wrong_way[0]), 2))
    if grown > skip:
        small = where_true(distance[skip:grown] < detector.end_deg)
        if small.size:
            events.append((done + skip + int(small[0]), 3))
    if done + pitch.shape[0] > timeout:
        events.append((timeout, 4))
    return events


@settings(max_examples=300, deadline=None)
@given(
    pitch=arrays(np.float64, st.integers(1, 60), elements=PITCH),
    done=st.integers(0, 5),
    direction=st.sampled_from([-1, 0, 1]),
    end_deg=st.floats(0.2, 3.0),
    end_fraction=st.floats(0.0, 0.6),
    min_amplitude_deg=st.floats(0.5, 10.0),
    max_amplitude_deg=st.floats(5.0, 30.0),
    baseline=st.floats(-5.0, 5.0),
    peak=st.floats(0.0, 12.0),
    timeout=st.integers(0, 80),
    invalid=st.lists(st.integers(0, 70), max_size=10),
)
# Near home by the share but not by end_deg before the minimum amplitude: not a small end.
@example(pitch=np.array([8.0, 2.0, 11.0]), done=0, direction=1, end_deg=1.0, end_fraction=0.5,
         min_amplitude_deg=10.0, max_amplitude_deg=30.0, baseline=0.0, peak=0.0, timeout=80,
         invalid=[])
def test_end_events_decide_as_the_plain_tests(
    pitch: np.ndarray, done: int, direction: int, end_deg: float, end_fraction: float,
    min_amplitude_deg: float, max_amplitude_deg: float, baseline: float, peak: float,
    timeout: int, invalid: list[int],
) -> None:
    detector = ExcursionDetector(
        start_deg=1.0, end_deg=end_deg, end_fraction=end_fraction,
        min_amplitude_deg=min_amplitude_deg, max_amplitude_deg=max_amplitude_deg,
        direction=direction)
    valid = np.ones(done + pitch.shape[0])
    valid[[i for i in invalid if i < valid.shape[0]]] = 0.0
    detector._history.append(0, valid=valid)
    detector._open = _Open(0, baseline, 0.0, np.eye(3))
    detector._ends_peak = peak if done else 0.0
    events, _ = detector._end_events(pitch, done, timeout)
    plain = _plain_end_events(detector, pitch, done, timeout, valid)
    # Only the first event decides (and whether there is one).
    assert (min(events) if events else None) == (min(plain) if plain else None)


@settings(max_examples=100, deadline=None)
@given(windows=arrays(np.float64, st.tuples(st.integers(1, 8), st.just(BASELINE_LEN)),
                      elements=PITCH))
def test_one_window_median_equals_the_batch(windows: np.ndarray) -> None:
    middle = BASELINE_LEN // 2
    batch = np.partition(windows, middle, axis=1)[:, middle]
    for row, level in zip(windows, batch, strict=True):
        single = float(np.partition(row, middle)[middle])
        assert single == level or (math.isnan(single) and math.isnan(level))


@settings(max_examples=200, deadline=None)
@given(tremor=arrays(np.float64, st.integers(0, 40), elements=st.one_of(
    st.floats(0.0, 50.0), st.just(math.nan))))
def test_rms_equals_the_root_of_the_nanmean(tremor: np.ndarray) -> None:
    plain = math.sqrt(nanmean(tremor)) if np.isfinite(tremor).any() else 0.0
    assert _rms(tremor) == plain


@settings(max_examples=200, deadline=None)
@given(
    pitch=arrays(np.float64, st.integers(PLATEAU_LEN, 200), elements=st.one_of(
        st.floats(-3.0, 3.0, allow_nan=False), st.just(math.nan))),
    cuts=st.lists(st.integers(PLATEAU_LEN, 200), max_size=5),
)
def test_plateau_starts_grown_piecewise_equal_the_plain_runs(
    pitch: np.ndarray, cuts: list[int],
) -> None:
    detector = ExcursionDetector(start_deg=1.0, end_deg=1.0)
    formed: list[int] = []
    for limit in [*sorted(c for c in cuts if c <= pitch.shape[0]), pitch.shape[0]]:
        formed = list(detector._plateau_starts(pitch, limit))
    steady = sliding_range(pitch, PLATEAU_LEN) < BASELINE_STEADY_DEG
    plain = where_true(steady & ~np.concatenate(([False], steady[:-1]))).tolist()
    assert formed == plain
