"""simulate(): determinism, clock, packet loss, sensor errors, scripts, files, streaming."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sensord.errors import InputError
from sensord.recording import read_recording
from sensord.sim import (
    SCRIPT_NAMES,
    Script,
    Segment,
    SimSpec,
    Simulation,
    simulate,
    stream_blocks,
)
from sensord.sim import rotation as rot
from sensord.sim.sensor import ACC_LSB_M_S2, ACC_RANGE_M_S2, GYRO_LSB_RAD_S, finish

SHORT = Script("short", (
    Segment("stand", duration_s=3.0),
    Segment("walk", duration_s=8.0),
    Segment("toe_press", reps=2, params={"hold_s": 4.0}),
    Segment("stand", duration_s=2.0),
))


def test_same_seed_same_session_other_seed_other_session() -> None:
    spec = SimSpec(routine=SHORT, seed=5, loss=0.02)
    a, b = simulate(spec), simulate(spec)
    np.testing.assert_array_equal(a.block.t_s, b.block.t_s)
    np.testing.assert_array_equal(a.block.acc_m_s2, b.block.acc_m_s2)
    np.testing.assert_array_equal(a.block.gyro_rad_s, b.block.gyro_rad_s)
    assert json.dumps(a.truth.to_json_dict()) == json.dumps(b.truth.to_json_dict())
    c = simulate(dataclasses.replace(spec, seed=6))
    assert c.truth.to_json_dict() != a.truth.to_json_dict()
    assert len(c.block) != len(a.block) or not np.array_equal(c.block.acc_m_s2, a.block.acc_m_s2)


@pytest.mark.parametrize("rate", [50.0, 104.0, 200.0])
def test_device_clock_is_exactly_regular(rate: float) -> None:
    sim = simulate(SimSpec(routine=SHORT, seed=1, rate_hz=rate))
    t = sim.block.t_s
    assert t[0] == 0.0
    np.testing.assert_allclose(np.diff(t), 1.0 / rate, rtol=1e-9)
    assert sim.meta.rate_hz == rate
    assert sim.truth.lost_samples == 0


def test_packet_loss_drops_whole_packets_to_the_requested_fraction(
        sim_of: Callable[[SimSpec], Simulation]) -> None:
    spec = SimSpec(routine="walk", seed=3, loss=0.02, packet_samples=10)
    sim = sim_of(spec)
    total = sim.trace.t_s.size
    lost = total - len(sim.block)
    assert lost == sim.truth.lost_samples
    packets = -(-total // 10)
    assert sim.truth.extra["loss"]["lost_packets"] == round(0.02 * packets)
    assert lost / total == pytest.approx(0.02, abs=0.004)
    t = sim.block.t_s
    assert t[0] == 0.0
    steps = np.round(np.diff(t) * spec.rate_hz).astype(int)
    assert set(np.unique(steps)) - {1} <= {10 * k + 1 for k in range(1, 20)}
    assert (steps > 1).sum() >= 1
    # the kept samples are the ideal samples at those times, untouched
    np.testing.assert_array_equal(sim.trace.t_s[sim.trace.keep], t)


def test_sensor_errors_bias_noise_and_quantisation(
        sim_of: Callable[[SimSpec], Simulation]) -> None:
    sim = sim_of(SimSpec(routine="walk", seed=3, loss=0.02, packet_samples=10))
    sensor = sim.truth.sensor
    assert sensor is not None
    # standing still at the start: the gyro reads its bias, the ideal gyro reads ~0
    still = sim.block.t_s < 2.0
    bias = np.array(sensor["gyro_bias_rad_s"])
    assert np.all(np.abs(bias) >= np.radians(0.5) - 1e-9)
    assert np.all(np.abs(bias) <= np.radians(2.0) + 1e-9)
    measured = sim.block.gyro_rad_s[still].mean(axis=0)
    np.testing.assert_allclose(measured, bias, atol=np.radians(0.15))
    # white noise near the configured level (plus sway of a standing person)
    spread = np.degrees(sim.block.gyro_rad_s[still].std(axis=0))
    assert np.all(spread > 0.05)
    assert np.all(spread < 1.0)
    # int16 counts
    counts = sim.block.acc_m_s2 / ACC_LSB_M_S2
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)
    counts = sim.block.gyro_rad_s / GYRO_LSB_RAD_S
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)


def test_saturation_clips_at_the_sensor_range() -> None:
    acc = np.array([[200.0, -200.0, 9.81]])
    gyro = np.array([[40.0, -40.0, 0.1]])
    for quantized in (False, True):
        a, g = finish(acc, gyro, quantized=quantized)
        assert abs(a[0, 0]) <= ACC_RANGE_M_S2 + 1e-9
        assert a[0, 0] == pytest.approx(ACC_RANGE_M_S2, rel=1e-3)
        assert g[0, 1] == pytest.approx(-np.radians(2000.0), rel=1e-3)


def test_noise_off_is_the_ideal_sensor(sim_of: Callable[[SimSpec], Simulation]) -> None:
    sim = sim_of(SimSpec(routine="walk", seed=3, noise=False, mounting_max_deg=0.0))
    assert sim.truth.sensor is None
    np.testing.assert_array_equal(sim.block.gyro_rad_s, sim.trace.gyro_rad_s)
    still = sim.block.t_s < 0.3
    np.testing.assert_allclose(sim.block.acc_m_s2[still].mean(axis=0), [0.0, 0.0, 9.81],
                               atol=0.05)


def test_gyro_integrates_to_the_true_orientation_through_walking(
        sim_of: Callable[[SimSpec], Simulation]) -> None:
    """The whole chain (gait model, layers, mounting, strap, averaging) stays kinematically
    consistent: 3 s of strapdown integration of the ideal 200 Hz gyro through heel strikes and
    600 deg/s swings lands within 3 degrees of the true orientation."""
    sim = sim_of(SimSpec(routine="walk", seed=4, rate_hz=200.0, noise=False))
    tr = sim.trace
    dt = 1.0 / 200.0
    for start in (5.0, 17.0, 31.0):
        i0 = int(start * 200)
        i1 = i0 + 600
        q = tr.q_sensor[i0]
        for i in range(i0, i1):
            q = rot.mul(q, rot.from_rotvec(0.5 * (tr.gyro_rad_s[i] + tr.gyro_rad_s[i + 1]) * dt))
        err = float(np.degrees(rot.angle_between(q, tr.q_sensor[i1])))
        assert err < 3.0, (start, err)


def test_custom_script_gets_its_posture_changes() -> None:
    script = Script("custom", (
        Segment("sit", duration_s=4.0),
        Segment("plantar_flexion", reps=3, params={"hold_s": 5.0, "amplitude_deg": 30.0}),
        Segment("walk", duration_s=6.0),
        Segment("ankle_circle", reps=4, direction="ccw"),
    ))
    sim = simulate(SimSpec(routine=script, seed=2, rate_hz=50.0))
    kinds = [dict(s.extra).get("kind") for s in sim.truth.segments if s.activity == "transition"]
    assert kinds == ["stand_up", "lie_down"]
    assert [(s.exercise, s.reps, s.direction) for s in sim.truth.sets] == [
        ("plantar_flexion", 3, None), ("ankle_circle", 4, "ccw")]
    holds = [r.hold_s for r in sim.truth.reps if r.exercise == "plantar_flexion"]
    assert all(h is not None and 3.0 <= h <= 7.0 for h in holds)
    assert sim.truth.routine == "custom"


@pytest.mark.parametrize("bad", [
    {"activity": "dance", "duration_s": 3.0},
    {"activity": "walk"},
    {"activity": "plantar_flexion", "reps": 0},
    {"activity": "ankle_circle", "reps": 3, "direction": "sideways"},
    {"activity": "transition"},
])
def test_bad_segments_are_input_errors(bad: dict[str, object]) -> None:
    with pytest.raises(InputError):
        Segment(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [
    ("rate_hz", 10.0), ("rate_hz", float("nan")), ("side", "middle"), ("placement", "wrist"),
    ("loss", 0.9), ("mounting_max_deg", -1.0), ("seed", -3), ("routine", "yoga"),
])
def test_bad_specs_are_input_errors(field: str, value: object) -> None:
    spec = dataclasses.replace(SimSpec(routine=SHORT), **{field: value})
    with pytest.raises(InputError):
        simulate(spec)


EXPECTED_SETS = {
    "walk": [],
    "everyday": [],
    "plantar_flexion": ["plantar_flexion"],
    "ankle_circle": ["ankle_circle", "ankle_circle"],
    "toe_press": ["toe_press"],
    "toe_walk": ["toe_walk"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SETS))
def test_builtin_scripts(name: str, sim_of: Callable[[SimSpec], Simulation]) -> None:
    sim = sim_of(SimSpec(routine=name, seed=8, rate_hz=50.0))
    assert [s.exercise for s in sim.truth.sets] == EXPECTED_SETS[name]
    activities = {s.activity for s in sim.truth.segments}
    if name == "everyday":
        assert not sim.truth.reps
        assert activities >= {"walk", "stairs_up", "stairs_down", "stand", "weight_shift",
                              "sit", "fidget", "foot_tap", "leg_swing", "lie", "transition"}
        assert 3 * 60 <= sim.truth.duration_s <= 10 * 60
    if name == "walk":
        assert len(sim.truth.steps) >= 40
        assert {s.exercise for s in sim.truth.steps} == {"walk"}


def test_script_names_cover_the_brief() -> None:
    assert set(SCRIPT_NAMES) == {"default", "everyday", "mixed", "plantar_flexion",
                                 "ankle_circle", "toe_press", "toe_walk", "walk"}


def test_mixed_interleaves_everyday_activity_with_the_routine(
        sim_of: Callable[[SimSpec], Simulation]) -> None:
    sim = sim_of(SimSpec(routine="mixed", seed=9, rate_hz=50.0, side="left"))
    assert {s.exercise for s in sim.truth.sets} == {"plantar_flexion", "ankle_circle",
                                                    "toe_press", "toe_walk"}
    activities = [s.activity for s in sim.truth.segments]
    assert "fidget" in activities
    assert "stairs_up" in activities


def test_write_produces_a_readable_recording(tmp_path: Path) -> None:
    sim = simulate(SimSpec(routine=SHORT, seed=2, rate_hz=100.0, side="left",
                           placement="ankle"))
    csv, truth = tmp_path / "s.csv", tmp_path / "s.json"
    sim.write(csv, truth)
    rec = read_recording(csv)
    assert rec.meta.placement == "ankle"
    assert rec.meta.side == "left"
    assert rec.meta.rate_hz == 100.0
    assert rec.meta.device == "sensord-sim"
    assert rec.meta.started_at is not None
    np.testing.assert_allclose(rec.block.t_s, sim.block.t_s, atol=1e-6)
    np.testing.assert_allclose(rec.block.acc_m_s2, sim.block.acc_m_s2, atol=1e-6)
    np.testing.assert_allclose(rec.block.gyro_rad_s, sim.block.gyro_rad_s, atol=1e-6)
    assert json.loads(truth.read_text())["side"] == "left"


def test_stream_continues_the_clock_across_sessions() -> None:
    spec = SimSpec(routine=Script("tiny", (Segment("stand", duration_s=2.0),
                                           Segment("walk", duration_s=4.0))), rate_hz=50.0)
    blocks = list(stream_blocks(spec, block_samples=12, count=2))
    assert all(1 <= len(b) <= 12 for b in blocks)
    t = np.concatenate([b.t_s for b in blocks])
    np.testing.assert_allclose(np.diff(t), 1.0 / 50.0, atol=1e-9)
    first = simulate(spec)
    second = simulate(dataclasses.replace(spec, seed=spec.seed + 1))
    assert t.size == len(first.block) + len(second.block)
    np.testing.assert_array_equal(np.concatenate([b.acc_m_s2 for b in blocks])[:len(first.block)],
                                  first.block.acc_m_s2)


TIMED = ("walk", "stand", "weight_shift", "sit", "fidget", "foot_tap", "leg_swing", "lie",
         "rest", "other_leg")
COUNTED = ("plantar_flexion", "ankle_circle", "toe_press", "toe_walk", "stairs_up",
           "stairs_down")


@pytest.mark.parametrize("activity", TIMED + COUNTED)
def test_every_activity_runs_alone_even_tiny(activity: str) -> None:
    """Each generator on its own, as short as allowed, on a left foot: no crash, a session
    that starts at rest, and the counts asked for."""
    seg = (Segment(activity, duration_s=0.5) if activity in TIMED
           else Segment(activity, reps=1, params={"bout_min_s": 4.0, "bout_max_s": 5.0}))
    sim = simulate(SimSpec(routine=Script("tiny", (seg,)), side="left", rate_hz=50.0, seed=5))
    assert np.isfinite(sim.block.acc_m_s2).all()
    assert np.isfinite(sim.block.gyro_rad_s).all()
    if activity in ("plantar_flexion", "toe_press", "toe_walk"):
        assert len(sim.truth.reps) == 1
    if activity == "ankle_circle":
        assert len(sim.truth.reps) == 2  # one each way
    assert sim.truth.segments[-1].t_end == pytest.approx(sim.truth.duration_s, abs=0.05)


@pytest.mark.parametrize("routine", ["walk", "toe_walk", "everyday"])
def test_accelerometer_integrates_to_the_true_displacement(
        routine: str, sim_of: Callable[[SimSpec], Simulation]) -> None:
    """Translation is as consistent as rotation: the ideal specific force, turned to the world
    with the true orientation and gravity removed, integrates twice to the sensor's true path
    (strap wobble, impacts and all) within about a centimetre per second of motion."""
    sim = sim_of(SimSpec(routine=routine, seed=6, rate_hz=200.0, noise=False))
    tr = sim.trace
    dt = 1.0 / 200.0
    a_world = rot.rotate(tr.q_sensor, tr.acc_m_s2) - np.array([0.0, 0.0, 9.81])
    moving = np.flatnonzero(np.linalg.norm(tr.gyro_rad_s, axis=1) > 2.0)
    assert moving.size > 400
    for i0 in moving[:: max(1, moving.size // 8)][:8]:
        i1 = min(i0 + 200, tr.t_s.size - 2)
        v0 = (tr.p_sensor[i0 + 1] - tr.p_sensor[i0 - 1]) / (2 * dt)
        v = v0 + np.cumsum(0.5 * (a_world[i0:i1] + a_world[i0 + 1:i1 + 1]), axis=0) * dt
        p = tr.p_sensor[i0] + np.cumsum(np.vstack((v0, v[:-1])) + v, axis=0)[:] * 0.5 * dt
        true_v = (tr.p_sensor[i1 + 1] - tr.p_sensor[i1 - 1]) / (2 * dt)
        assert np.linalg.norm(v[-1] - true_v) < 0.05, (tr.t_s[i0], v[-1], true_v)
        assert np.linalg.norm(p[-1] - tr.p_sensor[i1]) < 0.02, (tr.t_s[i0], p[-1],
                                                                tr.p_sensor[i1])
