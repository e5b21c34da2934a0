"""Motion sources: continuous in time, looping, from recordings, the built-in pumps and the
simulated routine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.errors import InputError
from sensord.model import ImuBlock
from sensord.virtual.motion import G_M_S2, MotionSource, load_motion
from tests.ble.support import WALK


def _ramp() -> MotionSource:
    t = np.arange(0.0, 1.0, 0.1)
    values = np.column_stack((t, 2 * t, -t))
    return MotionSource.from_block("ramp", ImuBlock.from_arrays(t, values, values * 10))


def test_samples_between_source_samples_are_interpolated_and_the_loop_closes() -> None:
    motion = _ramp()
    assert motion.period_s == pytest.approx(1.0)
    acc, gyro = motion.sample(np.array([0.05, 0.9, 0.95, 1.05, 2.05]))
    np.testing.assert_allclose(acc[:, 0], [0.05, 0.9, 0.45, 0.05, 0.05])
    np.testing.assert_allclose(gyro, acc * 10)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 500.0), min_size=1, max_size=50))
def test_interpolation_matches_numpy_periodic_interp(times: list[float]) -> None:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.001, 0.02, 200))
    block = ImuBlock.from_arrays(t, rng.normal(size=(200, 3)), rng.normal(size=(200, 3)))
    motion = MotionSource.from_block("random", block)
    query = np.asarray(times)
    acc, _ = motion.sample(query)
    for axis in range(3):
        expected = np.interp(query, motion.t_s, motion.acc_m_s2[:, axis], period=motion.period_s)
        np.testing.assert_allclose(acc[:, axis], expected, atol=1e-9)


def test_recordings_and_the_built_in_motion_load(shared_data: Path) -> None:
    walk = load_motion(str(shared_data / WALK))
    assert 38 < walk.period_s < 40
    pumps = load_motion(None)
    acc, gyro = pumps.sample(np.linspace(0, 20, 500))
    np.testing.assert_allclose(np.linalg.norm(acc, axis=1), G_M_S2, rtol=1e-4)
    assert np.abs(gyro[:, 1]).max() > 0.3


def test_the_routine_comes_from_the_simulator() -> None:
    motion = load_motion("routine", side="left", seed=3)
    assert motion.period_s > 300  # a whole session of the routine
    with pytest.raises(InputError):
        load_motion("routine", side="middle")


def test_a_source_needs_two_distinct_times() -> None:
    with pytest.raises(InputError):
        MotionSource.from_block("one", ImuBlock.from_arrays([0.0, 0.0], np.zeros((2, 3)),
                                                            np.zeros((2, 3))))
