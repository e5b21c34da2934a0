"""From the leg's motion to ideal IMU samples at the output rate.

``apply_layers`` adds the person's continuous small motions (tremor of the foot, sway of the leg)
on top of the generators' motion; ``mirror`` turns the right leg into a left one; ``render`` puts
the sensor on the foot or the shank (with its mounting offset and strap), derives specific force
and angular rate at the internal rate and averages them down to the output samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensord.model import FloatArray, Placement
from sensord.sim import rotation as rot
from sensord.sim.body import SHANK_TO_ANKLE_SENSOR, Body, LegTrack
from sensord.sim.curves import band_noise, lowpass_noise, moving_average
from sensord.sim.imu import (
    body_rate,
    specific_force,
    strap_displacement,
    window_average,
    world_acceleration,
)


@dataclass(frozen=True, slots=True)
class Strap:
    """The strap's spring: natural frequency (Hz) and damping ratio (see imu.strap_displacement)."""

    natural_hz: float = 25.0
    damping: float = 0.35

    @classmethod
    def random(cls, rng: np.random.Generator, placement: Placement) -> Strap:
        """On the instep the sensor sits on a thin layer over the bones (stiff); on the shin the
        heel pad, ankle joint and calf soft tissue between the floor and the sensor soak up
        more of a heel strike (softer and better damped), so the shank sees 2-5 g, not 10."""
        if placement == "instep":
            return cls(float(rng.uniform(18.0, 32.0)), float(rng.uniform(0.25, 0.5)))
        return cls(float(rng.uniform(9.0, 14.0)), float(rng.uniform(0.5, 0.7)))


@dataclass(frozen=True, slots=True)
class Rendered:
    """Ideal IMU output and the truth pose at the output sample times.

    ``acc_m_s2`` and ``gyro_rad_s`` (n, 3) are in the mounted sensor's axes; ``q_sensor`` (n, 4)
    is the mounted sensor's orientation, ``q_nominal`` (n, 4) that of the nominal frame of the
    placement (foot frame for instep, ankle-sensor frame for ankle), ``q_foot`` and ``q_shank``
    (n, 4) the segments' (shank: anatomical frame), ``p_sensor`` (n, 3) the sensor position,
    ``p_ankle`` (n, 3) the ankle joint centre (m).
    """

    t_s: FloatArray
    acc_m_s2: FloatArray
    gyro_rad_s: FloatArray
    q_sensor: FloatArray
    q_nominal: FloatArray
    q_foot: FloatArray
    q_shank: FloatArray
    p_sensor: FloatArray
    p_ankle: FloatArray


def apply_layers(track: LegTrack, dt_s: float, rng: np.random.Generator, tremor_hz: float
                 ) -> LegTrack:
    """Adds foot tremor and leg sway with the per-sample levels the generators set.

    Levels and pivots are smoothed over about 0.4 s first, so a level that changes between
    segments fades instead of jumping. Tremor is narrow-band around ``tremor_hz`` (physiological
    tremor and the shaking of a loaded band, 6-12 Hz), mostly about the foot's flexion axis; sway
    is low-pass (below about 0.7 Hz) and rotates the leg about the generator's pivot, taking the
    foot along as much as ``foot_follows`` says (0 when the foot is planted).
    """
    n = len(track)
    width = max(1, round(0.4 / dt_s))
    tremor = moving_average(track.tremor_rad, width)
    sway = moving_average(track.sway_rad, width)
    pivot = moving_average(track.sway_pivot, width)
    follows = np.clip(moving_average(track.foot_follows, width), 0.0, 1.0)

    tremor_noise = band_noise(rng, n, dt_s, tremor_hz, 1.2, dims=3) * np.array([0.4, 1.0, 0.35])
    slow_tremor = band_noise(rng, n, dt_s, 0.5 * tremor_hz, 1.5, dims=3) * 0.4
    sway_noise = lowpass_noise(rng, n, dt_s, 0.7, dims=3) * np.array([0.7, 1.0, 0.5])

    tremor_vec = (tremor_noise + slow_tremor) * tremor[:, None]
    q_foot = rot.mul(track.q_foot, rot.from_small_rotvec(tremor_vec))
    q_shank = rot.mul(track.q_shank, rot.from_small_rotvec(0.25 * tremor_vec))

    sway_vec = sway_noise * sway[:, None]
    q_sway = rot.from_small_rotvec(sway_vec)
    p_ankle = pivot + rot.rotate(q_sway, track.p_ankle - pivot)
    q_shank = rot.mul(q_sway, q_shank)
    q_foot = rot.mul(rot.from_small_rotvec(sway_vec * follows[:, None]), q_foot)
    return LegTrack(p_ankle, q_shank, q_foot)


def sensor_pose(track: LegTrack, body: Body, placement: Placement
                ) -> tuple[FloatArray, FloatArray]:
    """The nominal sensor frame's orientation (n, 4) and the sensor's position (n, 3)."""
    if placement == "instep":
        q = track.q_foot
        p = track.p_ankle + rot.rotate(q, np.array(body.instep_offset_m))
        return q, p
    q = rot.mul(track.q_shank, SHANK_TO_ANKLE_SENSOR)
    p = track.p_ankle + rot.rotate(track.q_shank, np.array(body.ankle_offset_m))
    return q, p


def render(track: LegTrack, body: Body, placement: Placement, *, dt_s: float, factor: int,
           q_mount: FloatArray, strap: Strap | None) -> Rendered:
    """Ideal samples every ``factor`` internal samples, the first at the track's first sample.

    ``q_mount`` (4,) is the sensor's rotation from the nominal frame (its axes in the nominal
    frame); ``strap=None`` makes the sensor rigid on the bone.
    """
    pad = factor + 2
    n = len(track)
    idx = np.concatenate((np.zeros(pad, dtype=np.int64), np.arange(n),
                          np.full(pad + factor, n - 1, dtype=np.int64)))
    q_nom, p = sensor_pose(track, body, placement)
    q_nom = q_nom[idx]
    p = p[idx]
    q_foot = track.q_foot[idx]
    q_shank = track.q_shank[idx]
    p_ankle = track.p_ankle[idx]
    q_s = rot.mul(q_nom, q_mount)
    accel = world_acceleration(p, dt_s)
    if strap is not None:
        p = p + strap_displacement(accel, dt_s, strap.natural_hz, strap.damping)
        accel = world_acceleration(p, dt_s)
    f = specific_force(q_s, accel)
    w = body_rate(q_s, dt_s)
    count = (n - 1) // factor + 1
    centres = pad + factor * np.arange(count)
    return Rendered(
        t_s=np.arange(count, dtype=np.float64) * (factor * dt_s),
        acc_m_s2=window_average(f, centres, factor),
        gyro_rad_s=window_average(w, centres, factor),
        q_sensor=q_s[centres],
        q_nominal=q_nom[centres],
        q_foot=q_foot[centres],
        q_shank=q_shank[centres],
        p_sensor=p[centres],
        p_ankle=p_ankle[centres],
    )
