"""The shortcuts the pipeline takes for speed give the same bits as what they replace.

Events are identical for any block split only if every stage computes the same numbers for a
sample whatever the block size; these helpers stand in for numpy functions on that promise.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sensord.detect.ankle_circle import principal_spreads
from sensord.detect.excursion import ExcursionDetector, PitchTrack
from sensord.detect.gait import STEP_ENTRIES, _rotations
from sensord.dsp.frontend import FrontEnd
from sensord.dsp.history import (
    History,
    RotationLog,
    rotate,
    sliding_extremes,
    sliding_max,
    sum3,
    where_true,
)
from sensord.dsp.mounting import MountingEstimator, _cross, _norm, angle_deg, orthonormal
from sensord.dsp.resample import Resampler
from sensord.dsp.windows import RunningSums
from sensord.sim import SimSpec, simulate

FINITE = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(values=arrays(np.float64, st.tuples(st.integers(1, 300), st.just(3)), elements=FINITE))
def test_three_term_sums_equal_numpy_reductions(values: np.ndarray) -> None:
    np.testing.assert_array_equal(sum3(values), values.sum(axis=1))
    np.testing.assert_array_equal(np.sqrt(sum3(values * values)),
                                  np.linalg.norm(values, axis=1))


@settings(max_examples=50, deadline=None)
@given(
    values=arrays(np.float64, st.tuples(st.integers(1, 400), st.just(3)), elements=FINITE),
    angles=st.tuples(FINITE, FINITE, FINITE),
)
def test_rotation_is_the_same_for_few_and_many_vectors(
    values: np.ndarray, angles: tuple[float, float, float]
) -> None:
    matrix = np.linalg.qr(np.array([angles, (1.0, 2.0, 3.0), (0.5, -1.0, 2.0)]))[0]
    whole = rotate(values, matrix)  # many vectors: one output axis at a time
    for row in range(0, values.shape[0], 7):  # few vectors: the broadcast matrix
        np.testing.assert_array_equal(rotate(values[row:row + 7], matrix), whole[row:row + 7])


@settings(max_examples=50, deadline=None)
@given(
    values=arrays(np.float64, st.integers(1, 300),
                  elements=st.floats(-1e3, 1e3, allow_infinity=False) | st.just(math.nan)),
    width=st.integers(1, 40),
)
def test_sliding_extremes_are_the_window_max_and_min(values: np.ndarray, width: int) -> None:
    top, bottom = sliding_extremes(values, width)
    if values.shape[0] < width:
        assert top.shape == (0,)
        return
    windows = np.lib.stride_tricks.sliding_window_view(values, width)
    np.testing.assert_array_equal(top, windows.max(axis=1))
    np.testing.assert_array_equal(bottom, windows.min(axis=1))
    np.testing.assert_array_equal(sliding_max(values, width), windows.max(axis=1))


@settings(max_examples=50, deadline=None)
@given(
    gyro=arrays(np.float64, st.tuples(st.integers(1, 300), st.just(3)),
                elements=st.floats(-8.0, 8.0)),
    sizes=st.lists(st.integers(1, 90), min_size=1, max_size=20),
)
def test_swing_sums_add_sample_after_sample(gyro: np.ndarray, sizes: list[int]) -> None:
    acc = gyro[::-1] * 3.0 + 1.0
    split = MountingEstimator()
    lo = 0
    for size in [*sizes, gyro.shape[0]]:
        split.add_fast(gyro[lo:lo + size], acc[lo:lo + size])
        lo += size
    speed2 = np.einsum("ij,ij->i", gyro, gyro)
    fast = (speed2 > split.fast_rad_s**2) & (speed2 < 20.0**2)
    rates = gyro[fast]
    outer = (rates[:, :, None] * rates[:, None, :]).reshape(-1, 9)
    zero = np.zeros((1, 3))
    np.testing.assert_array_equal(
        split._acc_sum, np.cumsum(np.concatenate((zero, acc[fast])), axis=0)[-1])
    np.testing.assert_array_equal(
        split._fast_cov.reshape(9),
        np.cumsum(np.concatenate((np.zeros((1, 9)), outer)), axis=0)[-1])
    assert split._fast_count == int(fast.sum())


@settings(max_examples=50, deadline=None)
@given(
    gyro=arrays(np.float64, st.tuples(st.integers(1, 300), st.just(3)),
                elements=st.floats(-8.0, 8.0)),
    cuts=st.lists(st.integers(0, 300), max_size=8),
)
def test_staged_swings_taken_in_pieces_equal_the_pieces_added(
        gyro: np.ndarray, cuts: list[int]) -> None:
    acc = gyro[::-1] * 3.0 + 1.0
    n = gyro.shape[0]
    stops = sorted({min(c, n) for c in cuts} | {n})
    staged, pieces = MountingEstimator(), MountingEstimator()
    staged.stage_swings(gyro, acc)
    lo = 0
    for stop in stops:
        staged.take_swings(stop)
        pieces.add_fast(gyro[lo:stop], acc[lo:stop])
        lo = stop
        np.testing.assert_array_equal(staged._acc_sum, pieces._acc_sum)
        np.testing.assert_array_equal(staged._fast_cov, pieces._fast_cov)
        assert staged._fast_count == pieces._fast_count


@settings(max_examples=50, deadline=None)
@given(a=arrays(np.float64, 3, elements=FINITE), b=arrays(np.float64, 3, elements=FINITE))
def test_vector_helpers_equal_numpy(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(_cross(a, b), np.cross(a, b))
    assert _norm(a) == np.linalg.norm(a)
    mask = a > 0
    np.testing.assert_array_equal(where_true(mask), np.flatnonzero(mask))


def _orthonormal_in_numpy(y_axis: np.ndarray, z_axis: np.ndarray) -> np.ndarray:
    z = z_axis / np.linalg.norm(z_axis)
    y = y_axis - np.dot(y_axis, z) * z
    if np.linalg.norm(y) < 0.2:
        y = np.cross(z, np.array([1.0, 0.0, 0.0]))
        if np.linalg.norm(y) < 0.2:
            y = np.cross(z, np.array([0.0, 1.0, 0.0]))
    y = y / np.linalg.norm(y)
    return np.array((np.cross(y, z), y, z))


@settings(max_examples=200, deadline=None)
@given(a=arrays(np.float64, 3, elements=FINITE), b=arrays(np.float64, 3, elements=FINITE),
       near=st.booleans())
def test_mounting_geometry_on_floats_equals_numpy(
        a: np.ndarray, b: np.ndarray, near: bool) -> None:
    """The frame and angles computed on plain floats are bit for bit numpy's (so the mounting
    estimate, and every angle the detectors see, is unchanged)."""
    assume(np.linalg.norm(a) > 1e-3 and np.linalg.norm(b) > 1e-3)
    if near:
        a = b * 2.0 + a * 1e-3  # y (nearly) along z: the fallback axes
    np.testing.assert_array_equal(orthonormal(a, b), _orthonormal_in_numpy(a, b))
    cos = float(np.dot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b))
    assert angle_deg(a, b) == math.degrees(math.acos(max(-1.0, min(1.0, cos))))


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 50), min_size=1, max_size=60), keep=st.integers(5, 80))
def test_history_buffers_hold_what_was_appended(sizes: list[int], keep: int) -> None:
    history = History(keep=keep)
    everything = np.arange(float(sum(sizes)))
    k = 0
    for size in sizes:
        history.append(k, x=everything[k:k + size], v=np.tile(everything[k:k + size, None], 3))
        k += size
        history.trim()
        np.testing.assert_array_equal(history.get("x"), everything[history.k_start:k])
        np.testing.assert_array_equal(history.get("v")[:, 2], everything[history.k_start:k])
        assert history.k_end - history.k_start == min(keep, k)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 50), min_size=1, max_size=40), keep=st.integers(5, 80),
       bounds=st.lists(st.tuples(st.integers(-20, 2100), st.integers(-20, 2100)), min_size=5,
                       max_size=5))
def test_history_get_clips_to_what_is_kept(
    sizes: list[int], keep: int, bounds: list[tuple[int, int]]
) -> None:
    history = History(keep=keep)
    k = 0
    for size in sizes:
        history.append(k, x=np.arange(k, k + size, dtype=float))
        k += size
        history.trim()
        for lo, hi in bounds:
            a = min(max(lo, history.k_start), k)
            b = min(max(hi, a), k)
            np.testing.assert_array_equal(history.get("x", lo, hi), np.arange(a, b, dtype=float))


@settings(max_examples=200, deadline=None)
@given(starts=st.lists(st.integers(0, 60), min_size=1, max_size=5, unique=True),
       lo=st.integers(-5, 70), hi=st.integers(-5, 75))
def test_the_one_estimate_over_a_stretch_is_the_one_segment(
    starts: list[int], lo: int, hi: int
) -> None:
    log = RotationLog()
    log.extend(tuple((start, np.eye(3) * (n + 1)) for n, start in enumerate(sorted(starts))))
    pieces = log.segments(lo, hi)
    assert log.only(lo, hi) is (pieces[0][2] if len(pieces) == 1 else None)


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 700), min_size=1, max_size=30), keep=st.integers(5, 300))
def test_running_sums_are_one_cumulative_sum_however_fed(sizes: list[int], keep: int) -> None:
    rng = np.random.default_rng(len(sizes) * 1000 + keep)
    everything = rng.normal(size=(sum(sizes), 4))
    whole = np.concatenate((np.zeros((1, 4)), np.cumsum(everything, axis=0)))
    sums = RunningSums(4, keep)
    k = 0
    for size in sizes:
        sums.append(everything[k:k + size])
        k += size
        np.testing.assert_array_equal(sums.run(sums.k_start, k - sums.k_start),
                                      everything[sums.k_start:k])
        np.testing.assert_array_equal(sums.cumulative(sums.k_start, k + 1),
                                      whole[sums.k_start:k + 1])
        sums.trim()


def test_front_end_pitch_is_the_pitch_detectors_compute() -> None:
    """The pitch track and the gait detector take the pitch from the front end wherever they
    look through the estimate it used; it must be exactly the pitch of the sensor-frame up
    vector through the mounting estimate in force there."""
    from sensord.dsp.history import pitch_deg  # noqa: PLC0415

    block = simulate(SimSpec(routine="everyday", seed=3, rate_hz=100.0)).block
    resampler, front = Resampler(), FrontEnd()
    checked = 0
    for start in range(0, len(block), 64):
        piece = block.slice(start, start + 64)
        for chunk in resampler.feed(piece.t_s, piece.acc_m_s2, piece.gyro_rad_s):
            for features in front.feed(chunk):
                bounds = [s - features.k0 for s, _ in features.rotations] + [len(features)]
                for (_, matrix), a, b in zip(
                        features.rotations, bounds[:-1], bounds[1:], strict=True):
                    np.testing.assert_array_equal(
                        pitch_deg(features.up_sensor[a:b], matrix), features.pitch_deg[a:b])
                    checked += b - a
    assert checked > 10_000


def test_detectors_sharing_a_track_find_what_separate_ones_find() -> None:
    block = simulate(SimSpec(routine="default", seed=4, rate_hz=100.0, loss=0.02)).block
    resampler, front = Resampler(), FrontEnd()
    def pair(track: PitchTrack | None) -> list[ExcursionDetector]:
        return [
            ExcursionDetector(start_deg=2.0, end_deg=1.5, min_amplitude_deg=12.0,
                              direction=-1, track=track),
            ExcursionDetector(start_deg=0.8, end_deg=0.6, min_amplitude_deg=1.0,
                              max_amplitude_deg=12.0, direction=1, track=track),
        ]

    together, alone = pair(PitchTrack()), pair(None)
    found: dict[str, list[object]] = {"together": [], "alone": []}
    for chunk in resampler.feed(block.t_s, block.acc_m_s2, block.gyro_rad_s):
        for features in front.feed(chunk):
            for detector in together:
                found["together"].extend(detector.update(features))
            for detector in alone:
                found["alone"].extend(detector.update(features))
    assert len(found["alone"]) > 20
    assert found["together"] == found["alone"]


@settings(max_examples=100, deadline=None)
@given(path=arrays(np.float64, st.tuples(st.integers(2, 200), st.just(2)),
                   elements=st.floats(-50.0, 50.0)))
def test_principal_spreads_are_the_roots_of_the_covariance_eigenvalues(path: np.ndarray) -> None:
    path = path - path.mean(axis=0)
    expected = np.sqrt(np.maximum(np.linalg.eigvalsh(path.T @ path / path.shape[0]), 0.0))
    minor, major = principal_spreads(path)
    assert minor <= major
    np.testing.assert_allclose((minor, major), expected, rtol=1e-6, atol=1e-5)
    flipped = path * np.array([1.0, -1.0])
    np.testing.assert_allclose(principal_spreads(flipped), (minor, major), rtol=1e-12, atol=1e-12)


def _rodrigues_entry_by_entry(vectors: np.ndarray) -> np.ndarray:
    angle = np.sqrt(vectors[:, 0] ** 2 + vectors[:, 1] ** 2 + vectors[:, 2] ** 2)
    k = vectors / np.where(angle > 1e-12, angle, 1.0)[:, None]
    s, c = np.sin(angle), np.cos(angle)
    t = 1.0 - c
    kx, ky, kz = k[:, 0], k[:, 1], k[:, 2]
    return np.stack([
        c + t * kx * kx, t * kx * ky - s * kz, t * kx * kz + s * ky,
        t * kx * ky + s * kz, c + t * ky * ky, t * ky * kz - s * kx,
        t * kx * kz - s * ky, t * ky * kz + s * kx, c + t * kz * kz,
    ])


@settings(max_examples=50, deadline=None)
@given(vectors=arrays(np.float64, st.tuples(st.integers(1, 80), st.just(3)),
                      elements=st.floats(-0.3, 0.3)))
def test_step_rotations_are_rodrigues_bit_for_bit(vectors: np.ndarray) -> None:
    """The strapdown steps (gait's climb test) are Rodrigues' matrices, the same products and
    sums as entry by entry, and rotations."""
    matrices = _rotations(vectors)
    row_major = np.empty_like(matrices)
    row_major[list(STEP_ENTRIES)] = matrices
    np.testing.assert_array_equal(row_major, _rodrigues_entry_by_entry(vectors))
    for m in row_major.T.reshape(-1, 3, 3):
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
