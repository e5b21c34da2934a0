"""Circle direction (CONTRACTS.md section 3) checked from the kinematics, not from the labels.

``cw`` means the toes' path turns positively about the foot's own +x axis (from the wearer's
left toward the top of the foot), for both feet. The foot is simulated as a right foot and
mirrored for a left one, which flips that sense: this is the sign most likely to be wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sensord.sim import SimSpec, Simulation
from sensord.sim import rotation as rot

X = np.array([1.0, 0.0, 0.0])


def _turns(path_yz: np.ndarray) -> float:
    """Net number of turns of a 2-D path about its centroid (positive: +y toward +z)."""
    d = path_yz - path_yz.mean(axis=0)
    angle = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
    return float((angle[-1] - angle[0]) / (2.0 * np.pi))


def _mean_quat(q: np.ndarray) -> np.ndarray:
    q = rot.make_continuous(q)
    m = q.mean(axis=0)
    return m / np.linalg.norm(m)


def _toe_path(q_world: np.ndarray) -> np.ndarray:
    """The toes' direction seen in the mean foot frame over the samples, its (y, z) part."""
    mean = _mean_quat(q_world)
    u = rot.rotate(rot.mul(rot.conj(mean), q_world), X)
    return u[:, 1:]


def _reps(sim: Simulation) -> list[tuple[float, float, str]]:
    return [(r.t_start, r.t_end, r.direction or "") for r in sim.truth.reps
            if r.exercise == "ankle_circle"]


SPECS = [
    SimSpec(routine="ankle_circle", side=side, placement=placement, rate_hz=100.0, seed=seed,
            mounting_max_deg=mount, noise=False)
    for seed, (side, placement, mount) in enumerate(
        [(s, p, m) for s in ("right", "left") for p in ("instep", "ankle") for m in (0.0, 25.0)])
]


def _spec_id(spec: SimSpec) -> str:
    return f"{spec.side}-{spec.placement}-{spec.mounting_max_deg:g}"


@pytest.mark.parametrize("spec", SPECS, ids=_spec_id)
def test_circle_direction_from_the_foot_kinematics(
        spec: SimSpec, sim_of: Callable[[SimSpec], Simulation]) -> None:
    sim = sim_of(spec)
    tr = sim.trace
    reps = _reps(sim)
    assert len(reps) == 20
    assert [d for *_, d in reps] == ["cw"] * 10 + ["ccw"] * 10
    for t0, t1, direction in reps:
        sel = (tr.t_s >= t0) & (tr.t_s <= t1)
        turns = _turns(_toe_path(tr.q_foot[sel]))
        # one full turn each (the first and last circles start and end at the centre, so
        # they wind a little less about the path's centroid)
        expected = 1.0 if direction == "cw" else -1.0
        assert np.sign(turns) == expected, (t0, direction, turns)
        assert 0.6 < abs(turns) < 1.3, (t0, direction, turns)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.placement == "instep"],
                         ids=lambda s: f"{s.side}-{s.mounting_max_deg:g}")
def test_circle_direction_from_the_sensor_signals(
        spec: SimSpec, sim_of: Callable[[SimSpec], Simulation]) -> None:
    """The instep gyro, turned into the foot frame with the truth's mounting matrix and
    integrated over each circle, traces the toes' path in the labelled direction."""
    sim = sim_of(spec)
    block = sim.block
    m = np.array(sim.truth.mounting.matrix)
    gyro_foot = block.gyro_rad_s @ m.T
    dt = 1.0 / spec.rate_hz
    for t0, t1, direction in _reps(sim):
        sel = np.flatnonzero((block.t_s >= t0) & (block.t_s <= t1))
        steps = rot.from_rotvec(0.5 * (gyro_foot[sel[1:]] + gyro_foot[sel[:-1]]) * dt)
        q = [rot.identity()]
        for s in steps:
            q.append(rot.mul(q[-1], s))
        turns = _turns(_toe_path(np.array(q)))
        assert np.sign(turns) == (1.0 if direction == "cw" else -1.0), (t0, direction, turns)
        assert abs(turns) > 0.7


def test_mirroring_keeps_the_foot_frame_right_handed_with_y_left(
        sim_of: Callable[[SimSpec], Simulation]) -> None:
    """Standing still at the start, both feet have z up and x forward; the left foot's y
    (its lateral side) points to the wearer's left, like the right foot's (medial)."""
    for side in ("right", "left"):
        sim = sim_of(SimSpec(routine="walk", side=side, seed=3, noise=False,
                             mounting_max_deg=0.0))
        axes = rot.to_matrix(sim.trace.q_foot[0])
        assert np.linalg.det(axes) == pytest.approx(1.0)
        assert axes[2, 2] > 0.99
        assert axes[0, 0] > 0.95
        assert axes[1, 1] > 0.95
        # the left foot stands on the left of the body, the right foot on the right
        y = sim.trace.p_sensor[0, 1]
        assert (y > 0.0) == (side == "left")
