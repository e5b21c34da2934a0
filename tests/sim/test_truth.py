"""The truth agrees with the script and with the motion it describes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

import numpy as np
import pytest

from sensord.model import EXERCISES
from sensord.sim import SimSpec, Simulation, read_truth
from sensord.sim import rotation as rot

DEFAULT = SimSpec(routine="default", seed=11, rate_hz=100.0)
LEFT_ANKLE = SimSpec(routine="default", seed=12, rate_hz=50.0, side="left", placement="ankle",
                     loss=0.02)


@pytest.fixture(scope="module", params=[DEFAULT, LEFT_ANKLE], ids=["right-instep", "left-ankle"])
def session(request: pytest.FixtureRequest,
            sim_of: Callable[[SimSpec], Simulation]) -> Simulation:
    spec: SimSpec = request.param
    return sim_of(spec)


def test_default_routine_has_every_set_with_its_reps(session: Simulation) -> None:
    truth = session.truth
    sets = [(s.exercise, s.reps, s.direction) for s in truth.sets]
    assert sets == [
        ("plantar_flexion", 10, None), ("ankle_circle", 10, "cw"), ("ankle_circle", 10, "ccw"),
        ("toe_press", 10, None), ("toe_walk", 10, None),
    ]
    data = truth.to_json_dict()
    for i, s in enumerate(data["sets"]):
        reps = [r for r in data["reps"] if r["set"] == i]
        assert len(reps) == s["reps"]
        for r in reps:
            assert r["exercise"] == s["exercise"]
            assert r["direction"] == s["direction"]
            assert s["t_start"] <= r["t_start"] < r["t_end"] <= s["t_end"]
        starts = [r["t_start"] for r in reps]
        assert starts == sorted(starts)
        # reps do not overlap (circles follow each other without a gap)
        for a, b in itertools.pairwise(reps):
            assert a["t_end"] <= b["t_start"] + 1e-3
    assert 10 * 60 <= truth.duration_s <= 15 * 60


def test_holds_lie_inside_their_reps_and_are_about_five_seconds(session: Simulation) -> None:
    holds = []
    for r in session.truth.reps:
        if r.exercise in ("plantar_flexion", "toe_press"):
            assert r.hold_start is not None
            assert r.hold_end is not None
            assert r.hold_s is not None
            assert r.t_start < r.hold_start < r.hold_end < r.t_end
            assert r.hold_s == pytest.approx(r.hold_end - r.hold_start)
            assert 3.0 <= r.hold_s <= 7.5
            holds.append(r.hold_s)
        else:
            assert r.hold_s is None
    assert 4.0 <= float(np.median(holds)) <= 6.0


def test_segments_tile_the_session(session: Simulation) -> None:
    segs = session.truth.segments
    assert segs[0].t_start == 0.0
    for a, b in itertools.pairwise(segs):
        assert b.t_start == pytest.approx(a.t_end, abs=1e-6)
    assert segs[-1].t_end == pytest.approx(session.truth.duration_s, abs=0.05)
    # every rep falls in a segment of its exercise; no rep outside the routine's exercises
    for r in session.truth.reps:
        assert r.exercise in EXERCISES
        inside = [s for s in segs if s.t_start <= r.t_start and r.t_end <= s.t_end + 1e-6]
        assert inside, r
        assert inside[0].activity == r.exercise


def test_toe_walking_bouts_count_their_landings(session: Simulation) -> None:
    truth = session.truth
    bouts = [r for r in truth.reps if r.exercise == "toe_walk"]
    toe_steps = [s.t for s in truth.steps if s.exercise == "toe_walk"]
    assert len(toe_steps) == sum(r.steps or 0 for r in bouts)
    for r in bouts:
        inside = [t for t in toe_steps if r.t_start <= t <= r.t_end]
        assert len(inside) == r.steps
        assert r.steps is not None
        assert r.steps >= 5
        assert 8.0 <= r.t_end - r.t_start <= 24.0
    walk_steps = [s for s in truth.steps if s.exercise == "walk"]
    assert walk_steps, "the routine walks between the exercise stations"
    assert all(s.activity in ("walk", "stairs_up", "stairs_down") for s in walk_steps)


def _contact_points(sim: Simulation, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions of heel and ball at times ``t`` (interpolated from the trace)."""
    tr = sim.trace
    idx = np.clip(np.searchsorted(tr.t_s, t), 0, tr.t_s.size - 1)
    heel = np.array(sim.truth.extra["subject"]["heel_m"])
    ball = np.array(sim.truth.extra["subject"]["ball_m"])
    p = tr.p_ankle[idx]
    q = tr.q_foot[idx]
    return p + rot.rotate(q, heel), p + rot.rotate(q, ball)


def test_step_times_are_initial_contacts(session: Simulation) -> None:
    """At each step's ``t`` the lower of heel and ball arrives on the floor: it was moving
    just before and is still just after."""
    dt = 1.0 / session.truth.rate_hz
    for step in session.truth.steps:
        t = np.array([step.t - 0.04, step.t, step.t + 0.04, step.t + 0.04 + dt])
        heel, ball = _contact_points(session, t)
        which = heel if heel[1, 2] < ball[1, 2] else ball
        before = np.linalg.norm(which[1] - which[0]) / 0.04
        after = np.linalg.norm(which[3] - which[2]) / dt
        assert before > 0.1, (step, before)
        assert after < 0.05, (step, after)
        if step.activity in ("walk", "toe_walk"):
            assert which[1, 2] - which[2, 2] < 0.01  # it stays down


def test_truth_json_round_trip(session: Simulation, tmp_path_factory: pytest.TempPathFactory
                               ) -> None:
    path = tmp_path_factory.mktemp("truth") / "truth.json"
    session.truth.write(path)
    data = read_truth(path)
    assert data == json.loads(json.dumps(session.truth.to_json_dict()))
    for key in ("version", "routine", "seed", "side", "placement", "rate_hz", "duration_s",
                "mounting", "sensor", "loss", "segments", "sets", "reps", "steps"):
        assert key in data
    assert data["version"] == 1
    assert set(data["mounting"]) >= {"axis", "angle_deg", "matrix"}
    assert set(data["loss"]) >= {"fraction", "lost_samples"}
    m = np.array(data["mounting"]["matrix"])
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-5)
    assert data["mounting"]["angle_deg"] <= 25.0
    for rep in data["reps"]:
        assert set(rep) >= {"exercise", "set", "t_start", "t_end", "direction", "hold_s",
                            "hold_start", "hold_end", "size_deg", "steps"}
    for seg in data["segments"]:
        assert set(seg) >= {"activity", "exercise", "posture", "t_start", "t_end"}
    for step in data["steps"]:
        assert set(step) == {"t", "exercise", "activity"}


def test_circle_sizes_are_in_range(session: Simulation) -> None:
    sizes = [r.size_deg for r in session.truth.reps if r.exercise == "ankle_circle"]
    assert all(s is not None and 5.0 <= s <= 70.0 for s in sizes)
    assert 15.0 <= float(np.median([s for s in sizes if s is not None])) <= 55.0


def test_rep_set_keys_are_indices_into_sets(session: Simulation) -> None:
    truth = session.truth
    assert [s.key for s in truth.sets] == list(range(len(truth.sets)))
    for r in truth.reps:
        assert truth.sets[r.set_key].exercise == r.exercise
        assert truth.set_index(r) == r.set_key
