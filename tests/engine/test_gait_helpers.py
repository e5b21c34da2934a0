"""The gait detector's shortcuts for speed give the same bits as the plain numpy they replace.

Strides are identical for any block split only if every number is; these compare the shortcuts
bit for bit with the straightforward computation.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sensord.detect.gait import (
    CONTACT_SEARCH,
    DECIDE_AFTER,
    GRAVITY_M_S2,
    MAX_LOBE,
    MAX_STRIDE_SAMPLES,
    MIN_LOBE,
    STEP_ENTRIES,
    SWING_ON_RAD_S,
    SWING_PEAK_RAD_S,
    TOE_CONTACT_LEAD,
    GaitDetector,
    _climb,
    _contact_lead,
    _level_row,
    _median,
    _rotations,
)
from sensord.dsp.history import median, runs
from sensord.dsp.resample import GRID_DT_S

#: Specific force around gravity (m/s^2) and angular rates of walking (rad/s).
ACC = st.floats(-30.0, 30.0, allow_nan=False)
GYRO = st.floats(-12.0, 12.0, allow_nan=False)
GRAVITY_UP = np.array([0.0, 0.0, GRAVITY_M_S2])


def _samples(max_n: int) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """(acc, gyro) of the same length, the first specific force well away from zero."""
    return st.integers(5, max_n).flatmap(lambda n: st.tuples(
        arrays(np.float64, (n, 3), elements=ACC).map(lambda a: a + GRAVITY_UP),
        arrays(np.float64, (n, 3), elements=GYRO))).filter(lambda s: bool(s[0][0].any()))


def _climb_by_numpy(acc: np.ndarray, gyro: np.ndarray) -> float:
    """The strapdown climb as plain numpy: orientation rows, then vertical force, velocity
    and height over whole arrays."""
    n = acc.shape[0]
    if n < 5:
        return 0.0
    steps = np.empty((9, n))
    steps[list(STEP_ENTRIES)] = _rotations(gyro * GRID_DT_S)
    row = np.array(_level_row(*acc[0].tolist()))
    rows = [row]
    for matrix in steps.T.reshape(-1, 3, 3)[:-1]:
        row = row[0] * matrix[0] + row[1] * matrix[1] + row[2] * matrix[2]
        rows.append(row)
    vertical = (np.array(rows) * acc).sum(axis=1) - GRAVITY_M_S2
    velocity = np.cumsum(vertical) * GRID_DT_S
    velocity -= np.arange(n) * (velocity[-1] / (n - 1))
    return float(velocity.sum() * GRID_DT_S)


@settings(max_examples=100, deadline=None)
@given(samples=_samples(MAX_STRIDE_SAMPLES + 1))
def test_climb_on_plain_floats_is_numpy_bit_for_bit(
    samples: tuple[np.ndarray, np.ndarray],
) -> None:
    acc, gyro = samples
    steps = _rotations(gyro[:-1] * GRID_DT_S).tolist()
    assert _climb(acc, steps) == _climb_by_numpy(acc, gyro)


@settings(max_examples=50, deadline=None)
@given(vectors=arrays(np.float64, st.tuples(st.integers(1, 300), st.just(3)),
                      elements=st.floats(-0.3, 0.3)),
       cuts=st.lists(st.integers(0, 300), max_size=6))
def test_step_rotations_of_a_whole_are_those_of_its_parts(
    vectors: np.ndarray, cuts: list[int],
) -> None:
    """Rotations are elementwise: spans may be computed together (``_climbs_m``)."""
    whole = _rotations(vectors)
    bounds = [0, *sorted(c for c in cuts if c < vectors.shape[0]), vectors.shape[0]]
    for a, b in itertools.pairwise(bounds):
        np.testing.assert_array_equal(_rotations(vectors[a:b]), whole[:, a:b])


@settings(max_examples=50, deadline=None)
@given(samples=_samples(400),
       spans=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 130)), max_size=8))
def test_climbs_of_many_spans_are_each_spans_climb(
    samples: tuple[np.ndarray, np.ndarray], spans: list[tuple[int, int]],
) -> None:
    acc, gyro = samples
    n = acc.shape[0]
    spans = [(first, min(first + length, n)) for first, length in spans if first < n]
    detector = GaitDetector()
    detector._history.append(0, acc=acc, gyro=gyro)
    expected = [_climb_by_numpy(acc[first:last], gyro[first:last]) for first, last in spans]
    assert detector._climbs_m(spans) == expected


@settings(max_examples=200, deadline=None)
@given(ml=arrays(np.float64, st.integers(2, 200), elements=st.sampled_from([-2.0, -0.5, 0.5])),
       bounds=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)))
def test_contact_lead_from_the_window_runs_is_that_of_the_stretch(
    ml: np.ndarray, bounds: tuple[float, float],
) -> None:
    """The lobe's longest run, from the runs of the whole window clipped to the stretch, is
    the one found by ``runs`` in the stretch alone."""
    swing_start, i = sorted(int(b * (ml.shape[0] - 1)) for b in bounds)
    starts, ends = runs(ml[swing_start:i + 1] < -SWING_ON_RAD_S)
    lobe_end = swing_start + int(ends[int(np.argmax(ends - starts))]) if starts.size else i
    expected = max(lobe_end - 4, i - TOE_CONTACT_LEAD, swing_start + 2)
    window = runs(ml < -SWING_ON_RAD_S)
    assert _contact_lead((window[0].tolist(), window[1].tolist()), swing_start, i) == expected


@settings(max_examples=300, deadline=None)
@given(values=st.lists(
    st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1.5, -1.5, math.nan, math.inf])),
    min_size=1, max_size=25))
def test_median_of_a_list_is_numpys_bit_for_bit(values: list[float]) -> None:
    with np.errstate(all="ignore"):  # (numpy warns where a sum of extremes overflows)
        expected = median(np.array(values))
        assert np.float64(_median(values)).tobytes() == np.float64(expected).tobytes()


def _lobe_contacts_one_by_one(
    ml: np.ndarray, speed: np.ndarray, *, final: bool
) -> list[tuple[int, int, int, str]]:
    """Heel-strike contacts as first written: each swing's peak speed on its own."""
    n = ml.shape[0]
    run_starts, run_ends = runs(ml < -SWING_ON_RAD_S)
    crossing_at = np.flatnonzero((ml[:-1] < 0.0) & (ml[1:] >= 0.0))
    at = crossing_at.searchsorted(run_ends - 1)
    out: list[tuple[int, int, int, str]] = []
    group = 0
    while group < run_starts.size:
        last = group
        while last + 1 < run_starts.size and at[last + 1] == at[group]:
            last += 1
        first_start, last_end, j = int(run_starts[group]), int(run_ends[last]), int(at[group])
        group = last + 1
        if first_start == 0 or last_end - first_start > MAX_LOBE:
            continue
        if not final and (j >= crossing_at.size or last_end + DECIDE_AFTER > n):
            return out
        if j >= crossing_at.size or crossing_at[j] > last_end - 1 + CONTACT_SEARCH:
            continue
        if last_end - first_start < MIN_LOBE:
            continue
        if float(speed[first_start:last_end].max()) < SWING_PEAK_RAD_S:
            continue
        out.append((int(crossing_at[j]), first_start, last_end + DECIDE_AFTER, "lobe"))
    return out


@settings(max_examples=200, deadline=None)
@given(ml=arrays(np.float64, st.integers(2, 300),
                 elements=st.sampled_from([-3.0, -1.0, -0.9, -0.5, 0.0, 0.5, 2.0, math.nan])),
       extra=st.floats(0.0, 1.0), final=st.booleans())
def test_swing_peaks_in_one_call_are_each_swings_maximum(
    ml: np.ndarray, extra: float, final: bool,
) -> None:
    speed = np.abs(ml) + extra * np.arange(ml.shape[0]) % 0.7
    contacts, _ = GaitDetector()._lobe_contacts(ml, speed, ml.shape[0], final=final)
    assert contacts == _lobe_contacts_one_by_one(ml, speed, final=final)
