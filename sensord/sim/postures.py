"""The resting poses of the three postures, and the leg chain evaluated from a fixed pelvis.

Standing and seated, the foot rests flat on the floor and the shank stands over it (seated, the
pelvis sits on a chair behind the knee). Lying on the back, the legs lie along the floor with
the feet falling outward and pointing up-forward, relaxed in plantarflexion.
"""

from __future__ import annotations

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot
from sensord.sim.body import Joints, LegPose, LegTrack, foot_quat, leg_chain, shank_quat
from sensord.sim.moves import D
from sensord.sim.state import Context, State


def chain(ctx: Context, state: State, hip: FloatArray, knee: FloatArray,
          ankle: FloatArray) -> LegTrack:
    """Forward kinematics from the state's (fixed) pelvis for joint angle arrays."""
    assert state.pelvis_p is not None
    assert state.pelvis_q is not None
    n = knee.shape[0]
    return leg_chain(ctx.body, np.broadcast_to(state.pelvis_p, (n, 3)),
                     np.broadcast_to(state.pelvis_q, (n, 4)), hip=hip, knee=knee, ankle=ankle)


def pose_of(ctx: Context, state: State, joints: Joints) -> LegPose:
    hip, knee, ankle = joints.arrays(1)
    return chain(ctx, state, hip, knee, ankle).last()


def hip_centre(ctx: Context, state: State) -> FloatArray:
    assert state.pelvis_p is not None
    assert state.pelvis_q is not None
    return np.asarray(state.pelvis_p + rot.rotate(
        state.pelvis_q, np.array([0.0, -ctx.body.hip_half_width_m, 0.0])))


def seated_state(ctx: Context, xy: tuple[float, float], heading: float, floor_z: float,
                 rng: np.random.Generator, *, foot: LegPose | None = None) -> State:
    """Sitting on a chair with the foot flat on the floor (at ``foot`` if given)."""
    body = ctx.body
    c, s = np.cos(heading), np.sin(heading)
    fwd = np.array([c, s, 0.0])
    left = np.array([-s, c, 0.0])
    toe_out = ctx.style.toe_out_deg * D
    if foot is None:
        p = np.array([xy[0], xy[1], floor_z + body.ankle_height_m]) \
            - ctx.style.step_half_width_m * left
        q_foot = foot_quat(heading - toe_out, 0.0, 0.0)
    else:
        p, q_foot = foot.p_ankle, foot.q_foot
    beta = float(rng.uniform(-4.0, 10.0)) * D
    gamma = float(rng.uniform(-2.0, 4.0)) * D
    q_shank = shank_quat(heading - 0.5 * toe_out, beta, gamma)
    knee = p + rot.rotate(q_shank, np.array([0.0, 0.0, body.shank_m]))
    slope = float(rng.uniform(-3.0, 10.0)) * D
    hip = knee - body.thigh_m * (np.cos(slope) * fwd - np.sin(slope) * np.array([0, 0, 1.0]))
    pelvis_p = hip + body.hip_half_width_m * left
    pelvis_q = rot.mul(rot.rot_z(heading), rot.rot_y(float(rng.uniform(-8.0, 4.0)) * D))
    return State(LegPose(p, q_shank, q_foot), "seated", xy, heading, floor_z, pelvis_p,
                 pelvis_q)


def lying_joints(rng: np.random.Generator) -> Joints:
    """Legs along the floor, feet falling outward, relaxed in plantarflexion."""
    return Joints(
        hip=(float(rng.uniform(0.0, 6.0)) * D, float(rng.uniform(3.0, 10.0)) * D,
             -float(rng.uniform(8.0, 25.0)) * D),
        knee=float(rng.uniform(2.0, 10.0)) * D,
        ankle=(float(rng.uniform(22.0, 38.0)) * D, float(rng.uniform(2.0, 8.0)) * D, 0.0),
    )


def lying_state(ctx: Context, xy: tuple[float, float], heading: float, floor_z: float,
                rng: np.random.Generator) -> tuple[State, Joints]:
    """Lying on the back, pelvis at ``xy`` (on a mat), feet toward ``heading``."""
    pelvis_p = np.array([xy[0], xy[1], floor_z + float(rng.uniform(0.09, 0.12))])
    pelvis_q = rot.mul(rot.rot_z(heading), rot.rot_y(-0.5 * np.pi))
    joints = lying_joints(rng)
    state = State(LegPose(np.zeros(3), rot.identity(), rot.identity()), "lying", xy, heading,
                  floor_z, pelvis_p, pelvis_q, joints)
    return state.moved(pose_of(ctx, state, joints)), joints
