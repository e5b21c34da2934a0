"""Changes of posture: sitting down and standing up (foot planted, the shank rocking forward
over it as the body's weight moves onto the feet), lying down on a mat and getting up again
(the leg folded under, set down and stretched out through a few intermediate poses)."""

from __future__ import annotations

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot
from sensord.sim.body import LegPose, LegTrack, foot_quat, shank_quat
from sensord.sim.moves import Channels, D, lean_of, move_leg, move_through, planted, shank_yaw
from sensord.sim.postures import lying_state, seated_state
from sensord.sim.state import Chunk, Context, SegmentRecord, State, standing_pose


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _frame(heading: float) -> tuple[FloatArray, FloatArray]:
    c, s = np.cos(heading), np.sin(heading)
    return np.array([c, s, 0.0]), np.array([-s, c, 0.0])


def _chunk(ctx: Context, track: LegTrack, end: State, kind: str, posture: str) -> Chunk:
    n = len(track)
    track.tremor_rad = np.full(n, 0.01 * D)
    track.sway_rad = np.full(n, 0.2 * ctx.style.sway_deg * D)
    track.sway_pivot = track.p_ankle.copy()
    track.foot_follows = np.zeros(n)
    chunk = Chunk(track, end)
    chunk.segments.append(SegmentRecord("transition", 0.0, n * ctx.dt_s, None, posture,
                                        (("kind", kind),)))
    return chunk


def _rock(ctx: Context, pose: LegPose, end_shank: FloatArray, duration_s: float,
          peak_beta: float) -> LegTrack:
    """The planted foot, the shank rocking forward to ``peak_beta`` and on to ``end_shank``."""
    n = ctx.samples(duration_s)
    t = ctx.times(n)
    b0, g0 = lean_of(pose.q_shank)
    b1, g1 = lean_of(end_shank)
    ch = Channels()
    ch.key("beta", 0.0, b0)
    ch.key("beta", 0.4 * duration_s, peak_beta, None)
    ch.key("beta", duration_s, b1)
    ch.key("gamma", 0.0, g0)
    ch.key("gamma", duration_s, g1)
    zeros = np.zeros(n)
    track = planted(ctx.body, pose, "ball", d_pitch=zeros, d_roll=zeros, d_yaw=zeros,
                    beta=ch.eval("beta", t), gamma=ch.eval("gamma", t),
                    yaw_shank=shank_yaw(pose.q_shank))
    # finish exactly on the target shank (its yaw may differ slightly)
    w = np.clip((t - 0.6 * duration_s) / (0.4 * duration_s), 0.0, 1.0)[:, None]
    track.q_shank = rot.slerp(track.q_shank, np.broadcast_to(end_shank, track.q_shank.shape),
                              w[:, 0] ** 2 * (3 - 2 * w[:, 0]))
    return track


def sit_down(ctx: Context, state: State, rng: np.random.Generator) -> Chunk:
    end = seated_state(ctx, state.xy, state.heading_rad, state.floor_z, rng, foot=state.pose)
    track = _rock(ctx, state.pose, end.pose.q_shank, _u(rng, 1.8, 3.0), _u(rng, 15.0, 25.0) * D)
    end = end.moved(track.last())
    return _chunk(ctx, track, end, "sit_down", "seated")


def stand_up(ctx: Context, state: State, rng: np.random.Generator) -> Chunk:
    parts: list[LegTrack] = []
    pose = state.pose
    fwd, left = _frame(state.heading_rad)
    if rng.random() < 0.5:
        # feet drawn back under the chair first
        back = LegPose(pose.p_ankle - fwd * _u(rng, 0.04, 0.1), pose.q_shank, pose.q_foot)
        parts.append(move_leg(ctx, pose, back, _u(rng, 0.5, 0.9), 0.01))
        pose = back
    xy_np = pose.p_ankle[:2] + ctx.style.step_half_width_m * left[:2]
    xy = (float(xy_np[0]), float(xy_np[1]))
    target_shank = shank_quat(shank_yaw(pose.q_shank), 2.0 * D, 1.0 * D)
    parts.append(_rock(ctx, pose, target_shank, _u(rng, 1.5, 2.5), _u(rng, 18.0, 28.0) * D))
    track = LegTrack.concat(parts)
    end = State(track.last(), "standing", xy, state.heading_rad, state.floor_z)
    return _chunk(ctx, track, end, "stand_up", "standing")


def _kneeling(ctx: Context, xy: FloatArray, heading: float, floor_z: float) -> LegPose:
    """Kneeling on the mat: shin along the floor, top of the foot on the floor."""
    fwd, left = _frame(heading)
    w = ctx.style.step_half_width_m
    knee = np.array([xy[0], xy[1], floor_z + 0.05]) + 0.15 * fwd - w * left
    ankle = knee - ctx.body.shank_m * fwd + np.array([0.0, 0.0, 0.02])
    shank = rot.from_matrix(np.stack((-np.array([0, 0, 1.0]), left, fwd), axis=1))
    toes = -np.cos(20 * D) * fwd - np.sin(20 * D) * np.array([0, 0, 1.0])
    top = np.cross(toes, left)
    foot = rot.from_matrix(np.stack((toes, left, top), axis=1))
    return LegPose(ankle, shank, foot)


def _hook(ctx: Context, pelvis_xy: FloatArray, heading: float, floor_z: float,
          rng: np.random.Generator) -> LegPose:
    """Sitting or lying on the floor with the knee bent and the foot flat in front."""
    fwd, left = _frame(heading)
    w = ctx.style.step_half_width_m
    p = np.array([pelvis_xy[0], pelvis_xy[1], floor_z + ctx.body.ankle_height_m]) \
        + _u(rng, 0.45, 0.6) * fwd - w * left
    yaw = heading - _u(rng, 0.0, 10.0) * D
    return LegPose(p, shank_quat(yaw, -_u(rng, 30.0, 50.0) * D, _u(rng, -3.0, 5.0) * D),
                   foot_quat(yaw, 0.0, 0.0))


def lie_down(ctx: Context, state: State, rng: np.random.Generator) -> Chunk:
    """Standing to lying on the back: kneel, sit on the mat with knees bent, lie back and
    stretch the legs out."""
    fwd, _ = _frame(state.heading_rad)
    xy = np.array(state.xy)
    pelvis_xy = xy + _u(rng, -0.1, 0.2) * fwd[:2]
    lying, joints = lying_state(ctx, (float(pelvis_xy[0]), float(pelvis_xy[1])),
                                state.heading_rad, state.floor_z, rng)
    steps = [
        (_kneeling(ctx, xy, state.heading_rad, state.floor_z), _u(rng, 1.0, 1.6),
         _u(rng, 0.05, 0.12), _u(rng, 0.3, 1.0)),
        (_hook(ctx, pelvis_xy, state.heading_rad, state.floor_z, rng), _u(rng, 1.2, 2.0),
         _u(rng, 0.1, 0.2), _u(rng, 0.5, 1.5)),
        (lying.pose, _u(rng, 1.0, 1.8), _u(rng, 0.0, 0.03), 0.0),
    ]
    track = move_through(ctx, steps, state.pose)
    return _chunk(ctx, track, lying.moved(track.last(), joints), "lie_down", "lying")


def get_up(ctx: Context, state: State, rng: np.random.Generator) -> Chunk:
    """Lying to standing: knee drawn up, roll to kneeling or a half-kneel, stand up."""
    heading = state.heading_rad
    fwd, _ = _frame(heading)
    pelvis_xy = np.array(state.xy)
    stand_xy = pelvis_xy + _u(rng, 0.1, 0.35) * fwd[:2]
    hook = _hook(ctx, pelvis_xy, heading, state.floor_z, rng)
    if rng.random() < 0.5:
        middle = _kneeling(ctx, stand_xy, heading, state.floor_z)
    else:
        # half-kneel on the other knee, this foot flat in front, shank upright
        p = hook.p_ankle + _u(rng, 0.1, 0.25) * fwd
        middle = LegPose(p, shank_quat(heading, _u(rng, 0.0, 12.0) * D, 0.0), hook.q_foot)
    xy = (float(stand_xy[0]), float(stand_xy[1]))
    standing = standing_pose(ctx, xy, heading, state.floor_z)
    steps = [
        (hook, _u(rng, 1.0, 1.6), _u(rng, 0.0, 0.03), _u(rng, 0.3, 1.0)),
        (middle, _u(rng, 1.2, 2.0), _u(rng, 0.05, 0.15), _u(rng, 0.3, 1.0)),
        (standing, _u(rng, 1.2, 2.0), _u(rng, 0.03, 0.08), 0.0),
    ]
    track = move_through(ctx, steps, state.pose)
    end = State(track.last(), "standing", xy, heading, state.floor_z)
    return _chunk(ctx, track, end, "get_up", "standing")
