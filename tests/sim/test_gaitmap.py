"""Simulated walking against real foot-IMU walking (../shared/data/gaitmap_walk).

The real recordings (a healthy adult, one IMU on each shoe, 204.8 Hz, landings from motion
capture) set the yardstick: the simulator's heel-to-toe gait must show the same stride timing,
foot pitch range and rotation rates, and impacts of the same size, measured the same way. The
real sensors sit on the shoe near the heel, where impacts are harder than on the instep, so the
impact bound is a range rather than a match.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sensord.recording import read_recording
from sensord.sim import SimSpec, Simulation
from tests.sim.gaitmetrics import medians, strides


@pytest.fixture(scope="module")
def real(shared_data: Path) -> dict[str, float]:
    found = []
    for side in ("left", "right"):
        rec = read_recording(shared_data / "gaitmap_walk" / f"walk_2x20m_{side}.csv")
        truth = json.loads((shared_data / "gaitmap_walk" / f"walk_2x20m_{side}.truth.json")
                           .read_text())
        b = rec.block
        found += strides(b.t_s, b.acc_m_s2, b.gyro_rad_s, np.array(truth["landings_t"]))
    assert len(found) >= 40
    return medians(found)


@pytest.fixture(scope="module")
def simulated(sim_of: Callable[[SimSpec], Simulation]) -> dict[str, float]:
    found = []
    for seed, side in ((21, "left"), (22, "right")):
        sim = sim_of(SimSpec(routine="walk", seed=seed, side=side, rate_hz=204.8,
                             mounting_max_deg=0.0))
        landings = np.array([s.t for s in sim.truth.steps])
        b = sim.block
        found += strides(b.t_s, b.acc_m_s2, b.gyro_rad_s, landings)
    assert len(found) >= 60
    return medians(found)


def test_stride_timing_and_length(real: dict[str, float], simulated: dict[str, float]) -> None:
    assert simulated["time_s"] == pytest.approx(real["time_s"], rel=0.15)
    assert simulated["length_m"] == pytest.approx(real["length_m"], rel=0.2)


def test_foot_pitch_range(real: dict[str, float], simulated: dict[str, float]) -> None:
    # heel strike about +26 deg toes-up, push-off about -66 deg in the real walk
    assert simulated["pitch_max_deg"] == pytest.approx(real["pitch_max_deg"], abs=8.0)
    assert simulated["pitch_min_deg"] == pytest.approx(real["pitch_min_deg"], abs=10.0)


def test_rotation_rate_peaks(real: dict[str, float], simulated: dict[str, float]) -> None:
    # medio-lateral rate: push-off about +520 deg/s, swing about -340 deg/s
    assert simulated["gy_max_deg_s"] == pytest.approx(real["gy_max_deg_s"], rel=0.25)
    assert simulated["gy_min_deg_s"] == pytest.approx(real["gy_min_deg_s"], rel=0.25)
    # roll rates around toe-off and landing, same order of magnitude
    for name in ("gx_max_deg_s", "gx_min_deg_s"):
        ratio = simulated[name] / real[name]
        assert 0.6 < ratio < 1.6, (name, simulated[name], real[name])


def test_impacts(real: dict[str, float], simulated: dict[str, float]) -> None:
    # shoe near the heel (real) about 13 g; the strapped instep sees less, but a real impact
    ratio = simulated["impact_m_s2"] / real["impact_m_s2"]
    assert 0.3 < ratio < 1.2, (simulated["impact_m_s2"], real["impact_m_s2"])
    assert simulated["impact_m_s2"] > 3.0 * 9.81
