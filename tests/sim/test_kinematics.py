"""The IMU model: specific force and body rate derived from poses, with the contract's signs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.sim import rotation as rot
from sensord.sim.body import Body, LegTrack
from sensord.sim.curves import Key, keyframes
from sensord.sim.imu import GRAVITY_M_S2, body_rate, specific_force, world_acceleration
from sensord.sim.render import render, sensor_pose
from sensord.sim.state import Context, Style, standing_pose

DT = 1e-3


def _integrate(q0: np.ndarray, gyro: np.ndarray, dt: float) -> np.ndarray:
    """Strapdown integration of body rates (n, 3) from q0: the inverse of what we test."""
    out = np.empty((gyro.shape[0] + 1, 4))
    out[0] = q0
    steps = rot.from_rotvec(gyro * dt)
    q = q0
    for i, dq in enumerate(steps):
        q = rot.mul(q, dq)
        out[i + 1] = q
    return out


def _still_track(q: np.ndarray, n: int) -> LegTrack:
    return LegTrack(np.zeros((n, 3)), np.tile(q, (n, 1)), np.tile(q, (n, 1)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3))
def test_still_sensor_reads_gravity_up_and_no_rotation(rotvec: list[float]) -> None:
    q = rot.from_rotvec(np.array(rotvec))
    q_s = np.tile(q, (50, 1))
    p = np.zeros((50, 3))
    acc = specific_force(q_s, world_acceleration(p, DT))
    gyro = body_rate(q_s, DT)
    # +9.81 along whichever sensor axis points up: the world's up vector in sensor axes
    up_in_sensor = rot.rotate_inverse(q, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(acc, np.tile(GRAVITY_M_S2 * up_in_sensor, (50, 1)), atol=1e-9)
    np.testing.assert_allclose(gyro, 0.0, atol=1e-12)


def test_level_sensor_reads_plus_g_on_z() -> None:
    q_s = rot.identity(10)
    acc = specific_force(q_s, world_acceleration(np.zeros((10, 3)), DT))
    np.testing.assert_allclose(acc[:, 2], 9.81)
    np.testing.assert_allclose(acc[:, :2], 0.0, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("rate", [1.5, -2.0])
def test_rotation_about_a_known_axis_gives_that_rate(axis: int, rate: float) -> None:
    """Right-handed about the sensor axes: a positive turn about +z (x toward y) reads +gz."""
    t = np.arange(200) * DT
    unit = np.zeros(3)
    unit[axis] = 1.0
    tilt = rot.from_rotvec(np.array([0.3, -0.2, 0.5]))
    # the sensor, tilted, spins about its own axis: q(t) = tilt * exp(rate t axis)
    q = rot.mul(tilt, rot.from_rotvec(np.outer(rate * t, unit)))
    gyro = body_rate(q, DT)
    expected = np.zeros(3)
    expected[axis] = rate
    np.testing.assert_allclose(gyro, np.tile(expected, (200, 1)), atol=1e-9)


def test_turning_toes_left_is_positive_about_z() -> None:
    """The instep frame (x toes, y left, z up): toes swinging toward the left read +gz;
    toes going up read -gy (a positive turn about y, the left axis, points the toes down)."""
    t = np.arange(100) * DT
    yaw_left = rot.rot_z(0.8 * t)
    assert body_rate(yaw_left, DT)[50, 2] == pytest.approx(0.8)
    toes_up = rot.rot_y(-0.8 * t)
    assert body_rate(toes_up, DT)[50, 1] == pytest.approx(-0.8)
    x_axis_end = rot.rotate(toes_up[-1], np.array([1.0, 0.0, 0.0]))
    assert x_axis_end[2] > 0.0  # the toes did go up


def test_circular_motion_reads_centripetal_force() -> None:
    """A sensor whirled on a horizontal 0.5 m arm at 2 rad/s, x pointing outward, feels
    omega^2 r inward (-x) besides gravity: the kinematics produce inertial forces exactly."""
    n = 4000
    t = np.arange(n) * DT
    omega, radius = 2.0, 0.5
    q = rot.rot_z(omega * t)
    p = radius * np.stack((np.cos(omega * t), np.sin(omega * t), np.zeros(n)), axis=1)
    acc = specific_force(q, world_acceleration(p, DT))[1:-1]
    np.testing.assert_allclose(acc[:, 0], -(omega**2) * radius, atol=1e-5)
    np.testing.assert_allclose(acc[:, 1], 0.0, atol=1e-5)
    np.testing.assert_allclose(acc[:, 2], GRAVITY_M_S2, atol=1e-9)


def _smooth_rotation_track(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = round(seconds / DT)
    t = np.arange(n) * DT
    knots = np.arange(0.0, seconds + 0.5, 0.5)
    vec = np.stack([keyframes([Key(k, float(v)) for k, v in zip(knots, rng.uniform(-1.2, 1.2,
                                                                                   knots.size),
                                                                 strict=True)], t)
                    for _ in range(3)], axis=1)
    q = rot.make_continuous(rot.from_rotvec(vec))
    pos = np.stack([keyframes([Key(k, float(v)) for k, v in zip(knots, rng.uniform(-0.3, 0.3,
                                                                                   knots.size),
                                                                 strict=True)], t)
                    for _ in range(3)], axis=1)
    return q, pos


def test_integrating_the_output_gyro_reproduces_the_orientation() -> None:
    """Ideal samples at 100 Hz from a tumbling sensor: strapdown integration of the gyro
    recovers the true orientation to within a fraction of a degree after 8 s."""
    q, pos = _smooth_rotation_track(8.0, seed=4)
    track = LegTrack(pos, q, q)
    body = Body()
    out = render(track, body, "instep", dt_s=DT, factor=10, q_mount=rot.identity(), strap=None)
    # samples are averages over a period centred on their time: between two samples the
    # sensor turned by the mean of the two (trapezoid rule)
    mid = 0.5 * (out.gyro_rad_s[1:] + out.gyro_rad_s[:-1])
    q_est = _integrate(out.q_sensor[0], mid, 0.01)
    err = np.degrees(rot.angle_between(q_est, out.q_sensor))
    assert err.max() < 0.5, err.max()
    # and the rate really moved: this is no trivial still track
    assert np.degrees(np.abs(out.gyro_rad_s)).max() > 60.0


def test_output_accelerometer_matches_the_analytic_specific_force() -> None:
    """For a sensor shaken and turned sinusoidally, R^T (p'' + g) with the analytic p''."""
    n = 3000
    t = np.arange(n) * DT
    w = np.array([3.0, 5.0, 7.0])
    amp = np.array([0.2, 0.1, 0.05])
    pos = amp * np.sin(np.outer(t, w))
    accel = -(w**2) * pos
    q = rot.from_rotvec(0.6 * np.sin(np.outer(t, [1.3, 2.1, 0.7])))
    track = LegTrack(pos, q, q)
    body = Body(instep_offset_m=(0.0, 0.0, 0.0))
    out = render(track, body, "instep", dt_s=DT, factor=1, q_mount=rot.identity(), strap=None)
    f = rot.rotate_inverse(q, accel + np.array([0.0, 0.0, GRAVITY_M_S2]))
    np.testing.assert_allclose(out.acc_m_s2[2:-2], f[2:-2], atol=1e-4)


def test_mounting_rotates_the_readings_into_the_sensor_axes() -> None:
    """A mounted sensor reads the nominal frame's vectors rotated by the mounting's inverse:
    ``v_nominal = M v_sensor`` with M's columns the sensor axes in the nominal frame."""
    q, pos = _smooth_rotation_track(3.0, seed=9)
    track = LegTrack(pos, q, q)
    body = Body()
    mount = rot.from_rotvec(np.array([0.2, -0.3, 0.25]))
    plain = render(track, body, "instep", dt_s=DT, factor=5, q_mount=rot.identity(), strap=None)
    mounted = render(track, body, "instep", dt_s=DT, factor=5, q_mount=mount, strap=None)
    m = rot.to_matrix(mount)
    np.testing.assert_allclose(mounted.gyro_rad_s @ m.T, plain.gyro_rad_s, atol=1e-9)
    np.testing.assert_allclose(mounted.acc_m_s2 @ m.T, plain.acc_m_s2, atol=1e-9)


def test_ankle_sensor_axes_follow_the_contract() -> None:
    """Standing upright: the ankle sensor's x points up the shank (+9.81 on ax), z forward,
    y to the wearer's right."""
    ctx = Context(Body(), Style(toe_out_deg=0.0), DT)
    pose = standing_pose(ctx, (0.0, 0.0), 0.0, 0.0, lean_fwd_deg=0.0, lean_lat_deg=0.0)
    q, _ = sensor_pose(pose.hold(1), ctx.body, "ankle")
    axes = rot.to_matrix(q[0])
    np.testing.assert_allclose(axes[:, 0], [0.0, 0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(axes[:, 2], [1.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(axes[:, 1], [0.0, -1.0, 0.0], atol=1e-9)
    q_i, _ = sensor_pose(pose.hold(1), ctx.body, "instep")
    np.testing.assert_allclose(rot.to_matrix(q_i[0])[:, 2], [0.0, 0.0, 1.0], atol=1e-9)
