"""Building blocks the activity generators share.

- ``move_leg``: a goal-directed move of the whole leg from one pose to another in minimum-jerk
  time (the way people reposition a limb), lifting the foot off the floor on the way.
- ``planted``: the foot resting on the floor (or a ball), rotating about a contact point
  (heel, ball or the whole sole) while the shank leans over it.
- ``Channels``: named keyframe channels evaluated on a chunk's time grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot
from sensord.sim.body import Body, LegPose, LegTrack, foot_quat, shank_quat
from sensord.sim.curves import Key, bump, keyframes, min_jerk
from sensord.sim.state import Context

Pivot = Literal["heel", "ball"]
D: Final = np.pi / 180.0


def move_leg(ctx: Context, a: LegPose, b: LegPose, duration_s: float, lift_m: float = 0.0
             ) -> LegTrack:
    """Moves the leg from pose ``a`` to pose ``b`` with a minimum-jerk profile.

    The ankle travels on a straight line raised by ``lift_m`` in the middle; shank and foot turn
    along the shortest rotation. Starts and ends at rest, so moves chain without jerks.
    """
    n = ctx.samples(duration_s)
    s = ctx.times(n) / (n * ctx.dt_s)
    w = min_jerk(s)
    p = a.p_ankle + (b.p_ankle - a.p_ankle) * w[:, None]
    p[:, 2] += lift_m * bump(s)
    q_shank = rot.slerp(np.broadcast_to(a.q_shank, (n, 4)), np.broadcast_to(b.q_shank, (n, 4)), w)
    q_foot = rot.slerp(np.broadcast_to(a.q_foot, (n, 4)), np.broadcast_to(b.q_foot, (n, 4)), w)
    return LegTrack(p, q_shank, q_foot)


def move_through(ctx: Context, poses: Sequence[tuple[LegPose, float, float, float]],
                 start: LegPose) -> LegTrack:
    """Chains moves: each entry is (target pose, move time s, lift m, hold time s)."""
    parts: list[LegTrack] = []
    current = start
    for pose, move_s, lift_m, hold_s in poses:
        parts.append(move_leg(ctx, current, pose, move_s, lift_m))
        if hold_s > 0.0:
            parts.append(pose.hold(ctx.samples(hold_s)))
        current = pose
    return LegTrack.concat(parts)


def shank_yaw(q_shank: FloatArray) -> float:
    """Compass direction of the shank's anterior axis (rad)."""
    x_axis = rot.rotate(q_shank, np.array([1.0, 0.0, 0.0]))
    return float(np.arctan2(x_axis[1], x_axis[0]))


def foot_yaw(q_foot: FloatArray) -> float:
    x_axis = rot.rotate(q_foot, np.array([1.0, 0.0, 0.0]))
    return float(np.arctan2(x_axis[1], x_axis[0]))


def planted(body: Body, base: LegPose, pivot: Pivot, *, d_pitch: FloatArray,
            d_roll: FloatArray, d_yaw: FloatArray, beta: FloatArray, gamma: FloatArray,
            yaw_shank: float | None = None) -> LegTrack:
    """The foot on a support, rotating about its ``pivot`` point as it is in ``base``.

    ``d_pitch`` (toes up positive), ``d_roll`` and ``d_yaw`` (n,) rotate the foot relative to
    ``base`` (rad); ``beta`` (knee forward of the ankle) and ``gamma`` (knee lateral) (n,) set
    the shank's lean (rad) about the ankle joint.
    """
    r = body.heel if pivot == "heel" else body.ball
    anchor = base.p_ankle + rot.rotate(base.q_foot, r)
    q_foot = rot.mul(base.q_foot, foot_quat(d_yaw, d_pitch, d_roll))
    p = anchor - rot.rotate(q_foot, r)
    yaw = shank_yaw(base.q_shank) if yaw_shank is None else yaw_shank
    q_shank = shank_quat(yaw, beta, gamma)
    return LegTrack(p, q_shank, q_foot)


def lean_of(q_shank: FloatArray) -> tuple[float, float]:
    """(beta, gamma) of a shank orientation built by ``shank_quat`` (rad), from its long axis."""
    z_axis = rot.rotate(q_shank, np.array([0.0, 0.0, 1.0]))
    yaw = shank_yaw(q_shank)
    c, s = np.cos(yaw), np.sin(yaw)
    fwd = z_axis[0] * c + z_axis[1] * s
    left = -z_axis[0] * s + z_axis[1] * c
    beta = float(np.arctan2(fwd, z_axis[2]))
    gamma = float(np.arcsin(np.clip(-left, -1.0, 1.0)))
    return beta, gamma


class Channels:
    """Named keyframe channels (values in rad or m) for one chunk."""

    def __init__(self) -> None:
        self._keys: dict[str, list[Key]] = {}

    def key(self, name: str, t_s: float, value: float, rate: float | None = 0.0,
            acc: float = 0.0) -> None:
        keys = self._keys.setdefault(name, [])
        if keys and t_s <= keys[-1].t_s + 1e-6:
            keys[-1] = Key(keys[-1].t_s, value, rate, acc)
            return
        keys.append(Key(t_s, value, rate, acc))

    def eval(self, name: str, t_s: FloatArray, default: float = 0.0) -> FloatArray:
        keys = self._keys.get(name)
        if not keys:
            return np.full(t_s.shape, default)
        return keyframes(keys, t_s)


def hold_interval(t_s: FloatArray, angle: FloatArray, *, rep: tuple[float, float],
                  hold: tuple[float, float], tol: float) -> tuple[float, float]:
    """The held part of a rep: the run of samples within ``tol`` of the plateau (the median of
    ``angle`` over the designed hold ``hold_in..hold_out``) that contains the designed hold,
    searched over the whole rep. This is the contract's ``hold_s`` (CONTRACTS.md section 3):
    time at the held position, movement in and out excluded. Returns (start, end) in s.
    """
    rep_start, rep_end = rep
    hold_in, hold_out = hold
    sel = (t_s >= rep_start) & (t_s <= rep_end)
    ts = t_s[sel]
    a = angle[sel]
    core = (ts >= hold_in) & (ts <= hold_out)
    plateau = float(np.median(a[core])) if core.any() else float(np.median(a))
    inside = np.abs(a - plateau) <= tol
    mid = int(np.searchsorted(ts, 0.5 * (hold_in + hold_out)))
    mid = min(max(mid, 0), ts.size - 1)
    if not inside[mid]:
        return float(ts[mid]), float(ts[mid])
    outside_before = np.flatnonzero(~inside[:mid])
    lo = int(outside_before[-1]) + 1 if outside_before.size else 0
    outside_after = np.flatnonzero(~inside[mid:])
    hi = mid + (int(outside_after[0]) - 1 if outside_after.size else ts.size - 1 - mid)
    return float(ts[lo]), float(ts[hi])
