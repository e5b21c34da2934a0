"""Lying on the back: resting, and ankle circles with the leg raised."""

from __future__ import annotations

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot
from sensord.sim.body import Joints, LegTrack, ankle_joint_quat
from sensord.sim.curves import min_jerk
from sensord.sim.moves import Channels, D
from sensord.sim.postures import chain, hip_centre, lying_joints, pose_of
from sensord.sim.state import Chunk, Context, RepRecord, SegmentRecord, SetRecord, State


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _joints_of(state: State, rng: np.random.Generator) -> Joints:
    return state.joints if state.joints is not None else lying_joints(rng)


def _joint_move(ctx: Context, state: State, a: Joints, b: Joints, duration_s: float
                ) -> LegTrack:
    """Minimum-jerk move in joint space (the natural way to raise or lower a limb)."""
    n = ctx.samples(duration_s)
    w = min_jerk(ctx.times(n) / (n * ctx.dt_s))[:, None]
    ha, ka, aa = a.arrays(n)
    hb, kb, ab = b.arrays(n)
    return chain(ctx, state, ha + (hb - ha) * w, ka + (kb - ka) * w[:, 0], aa + (ab - aa) * w)


def lie(ctx: Context, state: State, duration_s: float, rng: np.random.Generator, *,
        activity: str = "lie", extra: tuple[tuple[str, object], ...] = ()) -> Chunk:
    """Lying still-ish: the leg rolls in and out at the hip, the foot relaxes and tenses a
    little, the knee bends slightly now and then."""
    base = _joints_of(state, rng)
    n = ctx.samples(duration_s)
    t = ctx.times(n)
    ch = Channels()
    for name in ("rot", "pf", "knee"):
        ch.key(name, 0.0, 0.0)
    tk = _u(rng, 1.0, 4.0)
    while tk < duration_s - 2.0:
        ch.key("rot", tk, _u(rng, -8.0, 8.0) * D)
        ch.key("pf", tk, _u(rng, -6.0, 6.0) * D)
        ch.key("knee", tk, _u(rng, 0.0, 12.0) * D if rng.random() < 0.3 else 0.0)
        tk += _u(rng, 3.0, 10.0)
    for name in ("rot", "pf", "knee"):
        ch.key(name, duration_s, 0.0)
    hip, knee, ankle = base.arrays(n)
    hip[:, 2] += ch.eval("rot", t)
    knee += ch.eval("knee", t)
    hip[:, 0] += 0.5 * ch.eval("knee", t)
    ankle[:, 0] += ch.eval("pf", t)
    track = chain(ctx, state, hip, knee, ankle)
    track.tremor_rad = np.full(n, 0.005 * D)
    track.sway_rad = np.full(n, 0.1 * ctx.style.sway_deg * D)
    track.sway_pivot = np.broadcast_to(hip_centre(ctx, state), (n, 3)).copy()
    track.foot_follows = np.ones(n)
    chunk = Chunk(track, state.moved(track.last(), base))
    chunk.segments.append(SegmentRecord(activity, 0.0, n * ctx.dt_s, None, "lying", extra))
    return chunk


def _circles(ctx: Context, n_circles: int, turn: float, rng: np.random.Generator, *,
             period_s: float, size_deg: float) -> tuple[FloatArray, FloatArray,
                                                         list[tuple[float, float, float]]]:
    """Toe deviation angles (n, 2) (toward +y and +z of the neutral foot frame, rad) for
    ``n_circles`` circles turning in the sense ``turn`` (+1: +y toward +z).

    Circles are ellipses of varying size and period, the angular speed uneven within a circle,
    the centre drifting; the radius grows over the first third of a circle and shrinks over
    the last. Returns (times, deviations, per circle (t_start, t_end, size_deg)).
    """
    ratio = _u(rng, 0.6, 1.0)
    tilt = _u(rng, -30.0, 30.0) * D
    unevenness = _u(rng, 0.0, 0.25)
    skew = _u(rng, 0.0, 2.0 * np.pi)
    phase0 = _u(rng, 0.0, 2.0 * np.pi)
    periods = period_s * rng.uniform(0.88, 1.12, size=n_circles)
    sizes = size_deg * rng.uniform(0.88, 1.12, size=n_circles)
    total = float(periods.sum())
    n = ctx.samples(total)
    t = ctx.times(n)
    # phase: 2 pi per circle, with circle k taking periods[k] on average
    bounds = np.concatenate(([0.0], np.cumsum(periods)))
    k = np.clip(np.searchsorted(bounds, t, side="right") - 1, 0, n_circles - 1)
    frac = (t - bounds[k]) / periods[k]
    progress = k + frac  # circles done, uniform in time within a circle
    # uneven speed: warp the within-circle progress, keeping the circle boundaries fixed
    warp = progress + unevenness / (2 * np.pi) * (np.sin(2 * np.pi * progress + skew)
                                                  - np.sin(skew))
    phi = phase0 + turn * 2.0 * np.pi * warp
    size_t = np.interp(progress, np.arange(n_circles) + 0.5, sizes)
    ramp = min_jerk(progress / 0.35) * min_jerk((n_circles - progress) / 0.35)
    a = 0.5 * size_t * D * 2.0 / (1.0 + ratio) * ramp
    b = a * ratio
    u = a * np.cos(phi)
    v = b * np.sin(phi)
    dev = np.stack((u * np.cos(tilt) - v * np.sin(tilt), u * np.sin(tilt) + v * np.cos(tilt)), 1)
    drift = np.stack((np.sin(2 * np.pi * t / _u(rng, 8.0, 20.0) + _u(rng, 0, 6)),
                      np.sin(2 * np.pi * t / _u(rng, 8.0, 20.0) + _u(rng, 0, 6))), 1)
    dev = dev + _u(rng, 1.0, 3.0) * D * drift * ramp[:, None]
    info = []
    for i in range(n_circles):
        sel = (progress >= i) & (progress < i + 1)
        d = dev[sel] - dev[sel].mean(axis=0)
        # angular diameters along the principal axes of this circle's path
        _, vecs = np.linalg.eigh(d.T @ d)
        proj = d @ vecs
        extent = proj.max(axis=0) - proj.min(axis=0)
        info.append((float(bounds[i]), float(bounds[i + 1]), float(np.degrees(extent.mean()))))
    return t, dev, info


def ankle_circle_set(ctx: Context, state: State, reps: int, directions: tuple[str, ...],
                     rng: np.random.Generator, *, first_set_key: int = 0,
                     period_s: float | None = None, size_deg: float | None = None) -> Chunk:
    """Ankle circles lying on the back with the leg raised: ``reps`` circles per direction.

    Direction follows CONTRACTS.md section 3 in the foot's own frame: ``cw`` turns the toes'
    path positively about the foot's +x axis (toward the wearer's left, the top of the foot,
    the right, the sole) for either foot. Circles are built for a right leg that the session
    mirrors into a left one when needed, and mirroring reverses that sense, so a left-side
    session builds the opposite turn here.
    """
    style = ctx.style
    base = _joints_of(state, rng)
    raised = Joints(
        hip=(_u(rng, 60.0, 88.0) * D, _u(rng, 0.0, 8.0) * D, _u(rng, -8.0, 8.0) * D),
        knee=_u(rng, 15.0, 55.0) * D,
        ankle=(_u(rng, 0.0, 15.0) * D, _u(rng, 0.0, 5.0) * D, 0.0),
    )
    pivot = hip_centre(ctx, state)
    parts = [_joint_move(ctx, state, base, raised, _u(rng, 1.2, 2.2))]
    parts.append(pose_of(ctx, state, raised).hold(ctx.samples(_u(rng, 0.5, 1.5))))
    dt = ctx.dt_s
    t0 = sum(len(p) for p in parts) * dt
    chunk_reps: list[RepRecord] = []
    chunk_sets: list[SetRecord] = []
    mirror = -1.0 if ctx.side == "left" else 1.0
    period = period_s if period_s is not None else float(
        np.clip(_u(rng, 0.9, 2.2) / style.tempo, 0.8, 2.5))
    size = size_deg if size_deg is not None else _u(rng, 20.0, 45.0) * style.amplitude
    twist_gain = _u(rng, 0.2, 0.6)
    for j, direction in enumerate(directions):
        turn = (1.0 if direction == "cw" else -1.0) * mirror
        t, dev, info = _circles(ctx, reps, turn, rng, period_s=period * _u(rng, 0.92, 1.08),
                                size_deg=size * _u(rng, 0.9, 1.1))
        n = t.size
        h, k_, a_ = raised.arrays(n)
        base_leg = chain(ctx, state, h, k_, a_)
        u = np.stack((np.ones(n), np.tan(dev[:, 0]), np.tan(dev[:, 1])), axis=1)
        swing = rot.swing_to(u)
        # inversion couples with adduction at the subtalar joint (anatomical: right leg here)
        twist = rot.rot_x(twist_gain * dev[:, 0])
        q_rel = rot.mul(swing, twist)
        neutral = ankle_joint_quat(a_[:, 0], a_[:, 1], a_[:, 2])
        base_leg.q_foot = rot.mul(base_leg.q_shank, rot.mul(neutral, q_rel))
        # a small reaction of the raised shank to the foot's motion
        react = rot.from_rotvec(-0.04 * rot.to_rotvec(q_rel))
        base_leg.q_shank = rot.mul(base_leg.q_shank, react)
        parts.append(base_leg)
        key = first_set_key + j
        for c0, c1, diam in info:
            chunk_reps.append(RepRecord("ankle_circle", key, t0 + c0, t0 + c1,
                                        direction=direction, size_deg=round(diam, 1)))
        chunk_sets.append(SetRecord("ankle_circle", t0 + info[0][0], t0 + info[-1][1], reps,
                                    direction, key))
        t0 += n * dt
        if j < len(directions) - 1:
            pause = pose_of(ctx, state, raised).hold(ctx.samples(_u(rng, 1.0, 4.0)))
            parts.append(pause)
            t0 += len(pause) * dt
    parts.append(_joint_move(ctx, state, raised, base, _u(rng, 1.2, 2.2)))
    track = LegTrack.concat(parts)
    n = len(track)
    track.tremor_rad = np.full(n, 0.04 * D)
    track.sway_rad = np.full(n, _u(rng, 0.5, 1.0) * style.sway_deg * D)
    track.sway_pivot = np.broadcast_to(pivot, (n, 3)).copy()
    track.foot_follows = np.ones(n)
    chunk = Chunk(track, state.moved(track.last(), base), [], chunk_sets, chunk_reps, [])
    chunk.segments.append(SegmentRecord("ankle_circle", 0.0, n * dt, "ankle_circle", "lying"))
    return chunk
