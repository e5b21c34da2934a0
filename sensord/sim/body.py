"""The body: segment geometry, the leg's state over time, forward kinematics and mirroring.

Frames (world: X forward at the session start, Y left, Z up):

- foot: the instep sensor's nominal frame of CONTRACTS.md section 1 (x toward the toes, y to the
  wearer's left, z up out of the top of the foot), with its origin at the ankle joint centre.
  Standing flat, the foot frame is level.
- shank (anatomical): origin at the ankle joint centre, z up along the shank toward the knee,
  x anterior (out of the shin), y to the wearer's left. Standing upright it is level too, so the
  ankle joint angles are the rotation between the two.
- ankle sensor: x up the shank, y to the wearer's right, z anterior (CONTRACTS.md section 1),
  i.e. the anatomical shank frame with its axes relabelled (``SHANK_TO_ANKLE_SENSOR``).

Motions are built for a RIGHT leg and mirrored (``mirror``) for a left one: a mirror through the
sagittal plane keeps each frame right-handed with y to the wearer's left, negates the x and z
components of angular rate and the y component of specific force. Signs that the contract defines
in the foot's own frame (a circle's direction) flip under mirroring, so the circle generator
compensates for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot

#: Columns: the ankle sensor's x, y, z axes in the anatomical shank frame.
SHANK_TO_ANKLE_SENSOR: Final = rot.from_matrix(
    np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
)
_MIRROR_Q: Final = np.array([1.0, -1.0, 1.0, -1.0])
_MIRROR_P: Final = np.array([1.0, -1.0, 1.0])


@dataclass(frozen=True, slots=True)
class Body:
    """One simulated person's leg geometry (metres), scaled from standing height.

    Proportions follow the usual anthropometric tables (thigh and shank about 0.245 of height,
    ankle joint about 0.04 above the floor, foot about 0.15 of height long). The instep sensor
    sits a few cm in front of and above the ankle joint, the ankle sensor on the shin 10-15 cm
    above it.
    """

    height_m: float = 1.75
    thigh_m: float = 0.43
    shank_m: float = 0.43
    ankle_height_m: float = 0.075
    hip_half_width_m: float = 0.09
    heel_back_m: float = 0.055
    ball_forward_m: float = 0.14
    toe_forward_m: float = 0.20
    instep_offset_m: tuple[float, float, float] = (0.055, 0.0, 0.015)
    ankle_offset_m: tuple[float, float, float] = (0.035, 0.0, 0.12)

    @classmethod
    def random(cls, rng: np.random.Generator) -> Body:
        height = float(rng.uniform(1.55, 1.95))
        k = height / 1.75
        return cls(
            height_m=height,
            thigh_m=0.245 * height,
            shank_m=0.246 * height,
            ankle_height_m=0.075 * k,
            hip_half_width_m=0.09 * k,
            heel_back_m=0.055 * k,
            ball_forward_m=0.14 * k,
            toe_forward_m=0.20 * k,
            instep_offset_m=(float(rng.uniform(0.04, 0.07)) * k, float(rng.uniform(-0.01, 0.01)),
                             float(rng.uniform(0.0, 0.03)) * k),
            ankle_offset_m=(float(rng.uniform(0.025, 0.04)), float(rng.uniform(-0.01, 0.01)),
                            float(rng.uniform(0.10, 0.15))),
        )

    @property
    def heel(self) -> FloatArray:
        """The heel's contact point in the foot frame."""
        return np.array([-self.heel_back_m, 0.0, -self.ankle_height_m])

    @property
    def ball(self) -> FloatArray:
        """The ball of the foot (metatarsal heads) in the foot frame: the forefoot pivot."""
        return np.array([self.ball_forward_m, 0.0, -self.ankle_height_m])

    @property
    def toe(self) -> FloatArray:
        """The tip of the toes in the foot frame (the toes are not a separate segment here)."""
        return np.array([self.toe_forward_m, 0.0, -self.ankle_height_m + 0.01])

    @property
    def standing_hip_height_m(self) -> float:
        return self.thigh_m + self.shank_m + self.ankle_height_m


@dataclass(frozen=True, slots=True)
class Joints:
    """A leg configuration (rad): hip flexion, abduction, internal rotation; knee flexion;
    ankle plantarflexion, inversion, adduction."""

    hip: tuple[float, float, float]
    knee: float
    ankle: tuple[float, float, float]

    def arrays(self, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        return (np.tile(np.array(self.hip), (n, 1)), np.full(n, self.knee),
                np.tile(np.array(self.ankle), (n, 1)))


@dataclass(slots=True)
class LegTrack:
    """The leg over time: ankle joint position (n, 3) and shank and foot orientations (n, 4).

    Plus the levels the session's shared random processes are applied with (``Motion`` in
    ``sensord.sim.motion``): foot tremor and leg sway amplitudes (rad), the point the leg sways
    about, and how much of that sway the foot shares (0 when the foot is planted on the floor).
    """

    p_ankle: FloatArray
    q_shank: FloatArray
    q_foot: FloatArray
    tremor_rad: FloatArray = field(default_factory=lambda: np.zeros(0))
    sway_rad: FloatArray = field(default_factory=lambda: np.zeros(0))
    sway_pivot: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))
    foot_follows: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = self.p_ankle.shape[0]
        if self.tremor_rad.shape[0] != n:
            self.tremor_rad = np.zeros(n)
        if self.sway_rad.shape[0] != n:
            self.sway_rad = np.zeros(n)
        if self.sway_pivot.shape[0] != n:
            self.sway_pivot = self.p_ankle.copy()
        if self.foot_follows.shape[0] != n:
            self.foot_follows = np.zeros(n)

    def __len__(self) -> int:
        return int(self.p_ankle.shape[0])

    @classmethod
    def concat(cls, tracks: list[LegTrack]) -> LegTrack:
        return cls(
            np.concatenate([t.p_ankle for t in tracks]),
            rot.make_continuous(np.concatenate([t.q_shank for t in tracks])),
            rot.make_continuous(np.concatenate([t.q_foot for t in tracks])),
            np.concatenate([t.tremor_rad for t in tracks]),
            np.concatenate([t.sway_rad for t in tracks]),
            np.concatenate([t.sway_pivot for t in tracks]),
            np.concatenate([t.foot_follows for t in tracks]),
        )

    def last(self) -> LegPose:
        return LegPose(self.p_ankle[-1].copy(), self.q_shank[-1].copy(), self.q_foot[-1].copy())


@dataclass(frozen=True, slots=True)
class LegPose:
    """The leg at one instant: ankle joint position (3,), shank and foot orientations (4,)."""

    p_ankle: FloatArray
    q_shank: FloatArray
    q_foot: FloatArray

    def hold(self, n: int) -> LegTrack:
        """This pose, still, for ``n`` samples."""
        return LegTrack(
            np.repeat(self.p_ankle[None], n, axis=0),
            np.repeat(self.q_shank[None], n, axis=0),
            np.repeat(self.q_foot[None], n, axis=0),
        )


def foot_quat(yaw: FloatArray | float, pitch_up: FloatArray | float,
              roll: FloatArray | float) -> FloatArray:
    """Foot orientation from heading, pitch (toes up positive) and roll (rad).

    ``roll`` is a rotation about the foot's x axis; for the right foot positive roll lifts the
    medial edge (inversion).
    """
    return rot.from_euler_zyx(yaw, -np.asarray(pitch_up), roll)


def shank_quat(yaw: FloatArray | float, lean_fwd: FloatArray | float,
               lean_lat: FloatArray | float, axial: FloatArray | float = 0.0) -> FloatArray:
    """Shank orientation: ``lean_fwd`` tips the knee forward of the ankle, ``lean_lat`` tips the
    knee laterally (to the right for the right leg), ``axial`` rotates the shank about itself."""
    return rot.mul(rot.mul(rot.mul(rot.rot_z(yaw), rot.rot_y(lean_fwd)), rot.rot_x(lean_lat)),
                   rot.rot_z(axial))


def ankle_joint_quat(plantar: FloatArray | float, inversion: FloatArray | float,
                     adduction: FloatArray | float) -> FloatArray:
    """The foot relative to the shank for the right leg (rad): plantarflexion points the toes
    down, inversion turns the sole medially, adduction turns the toes medially."""
    return rot.mul(rot.mul(rot.rot_y(plantar), rot.rot_x(inversion)), rot.rot_z(adduction))


def leg_chain(body: Body, pelvis_p: FloatArray, pelvis_q: FloatArray, *, hip: FloatArray,
              knee: FloatArray, ankle: FloatArray) -> LegTrack:
    """Forward kinematics of the right leg.

    Shapes: ``pelvis_p`` (n, 3) hip-centre midpoint in the world, ``pelvis_q`` (n, 4) pelvis
    orientation (x anterior, y left, z cranial), ``hip`` (n, 3) flexion, abduction, internal
    rotation; ``knee`` (n,) flexion; ``ankle`` (n, 3) plantarflexion, inversion, adduction (rad).
    """
    hip_centre = pelvis_p + rot.rotate(pelvis_q, np.array([0.0, -body.hip_half_width_m, 0.0]))
    q_thigh = rot.mul(
        rot.mul(rot.mul(pelvis_q, rot.rot_y(-hip[:, 0])), rot.rot_x(-hip[:, 1])),
        rot.rot_z(hip[:, 2]),
    )
    p_knee = hip_centre + rot.rotate(q_thigh, np.array([0.0, 0.0, -body.thigh_m]))
    q_shank = rot.mul(q_thigh, rot.rot_y(knee))
    p_ankle = p_knee + rot.rotate(q_shank, np.array([0.0, 0.0, -body.shank_m]))
    q_foot = rot.mul(q_shank, ankle_joint_quat(ankle[:, 0], ankle[:, 1], ankle[:, 2]))
    return LegTrack(p_ankle, q_shank, q_foot)


def mirror_track(track: LegTrack) -> LegTrack:
    """The same motion done by the left leg (mirror through the world XZ plane)."""
    return LegTrack(
        track.p_ankle * _MIRROR_P,
        track.q_shank * _MIRROR_Q,
        track.q_foot * _MIRROR_Q,
        track.tremor_rad,
        track.sway_rad,
        track.sway_pivot * _MIRROR_P,
        track.foot_follows,
    )


def ankle_angles(q_shank: FloatArray, q_foot: FloatArray) -> FloatArray:
    """The right ankle's (plantarflexion, inversion, adduction) (..., 3) in rad, the inverse of
    ``ankle_joint_quat``: ``Ry(pf) Rx(inv) Rz(add)`` decomposed."""
    m = rot.to_matrix(rot.mul(rot.conj(q_shank), q_foot))
    inv = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    pf = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    add = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    return np.stack((pf, inv, add), axis=-1)
