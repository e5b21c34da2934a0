"""Seated: sitting still and fidgeting, foot tapping, a swinging crossed leg, and resisted
plantar flexion with the leg extended and a band around the forefoot."""

from __future__ import annotations

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot
from sensord.sim.body import Joints, LegPose, LegTrack
from sensord.sim.curves import moving_average
from sensord.sim.moves import (
    Channels,
    D,
    foot_yaw,
    hold_interval,
    lean_of,
    move_leg,
    planted,
)
from sensord.sim.postures import chain, hip_centre, pose_of
from sensord.sim.state import Chunk, Context, RepRecord, SegmentRecord, SetRecord, State


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _levels(track: LegTrack, *, tremor: float, sway: float, follows: float,
            pivot: FloatArray | None = None) -> LegTrack:
    n = len(track)
    track.tremor_rad = np.full(n, tremor)
    track.sway_rad = np.full(n, sway)
    track.sway_pivot = track.p_ankle.copy() if pivot is None else np.broadcast_to(
        pivot, (n, 3)).copy()
    track.foot_follows = np.full(n, follows)
    return track


def _seconds(ctx: Context, track: LegTrack) -> float:
    return len(track) * ctx.dt_s


def _still(ctx: Context, pose: LegPose, duration_s: float, rng: np.random.Generator,
           lean_deg: float = 2.5) -> LegTrack:
    """The foot flat and still, the shank leaning a little differently now and then."""
    n = ctx.samples(duration_s)
    t = ctx.times(n)
    beta0, gamma0 = lean_of(pose.q_shank)
    ch = Channels()
    ch.key("beta", 0.0, beta0)
    ch.key("gamma", 0.0, gamma0)
    tk = _u(rng, 1.0, 4.0)
    while tk < duration_s - 1.5:
        ch.key("beta", tk, beta0 + _u(rng, -lean_deg, lean_deg) * D)
        ch.key("gamma", tk, gamma0 + _u(rng, -lean_deg, lean_deg) * D)
        tk += _u(rng, 3.0, 9.0)
    ch.key("beta", duration_s, beta0)
    ch.key("gamma", duration_s, gamma0)
    zeros = np.zeros(n)
    return planted(ctx.body, pose, "ball", d_pitch=zeros, d_roll=zeros, d_yaw=zeros,
                   beta=ch.eval("beta", t), gamma=ch.eval("gamma", t))


def sit(ctx: Context, state: State, duration_s: float, rng: np.random.Generator, *,
        activity: str = "sit", extra: tuple[tuple[str, object], ...] = ()) -> Chunk:
    """Sitting with the foot on the floor: small leans of the shank, once in a while the foot
    slid a few cm (and, for the ``other_leg`` activity, the same while the other leg works)."""
    parts: list[LegTrack] = []
    pose = state.pose
    left = duration_s
    if duration_s > 12.0 and rng.random() < 0.4:
        first = _u(rng, 0.3, 0.7) * duration_s
        parts.append(_still(ctx, pose, first, rng))
        target = _slid(pose, rng, 0.03, 0.08)
        move_s = _u(rng, 0.6, 1.0)
        parts.append(move_leg(ctx, parts[-1].last(), target, move_s, _u(rng, 0.005, 0.015)))
        pose = target
        left -= first + move_s
    parts.append(_still(ctx, pose, max(left, 0.5), rng))
    track = _levels(LegTrack.concat(parts), tremor=0.005 * D, sway=0.3 * ctx.style.sway_deg * D,
                    follows=0.0)
    chunk = Chunk(track, state.moved(track.last()))
    chunk.segments.append(SegmentRecord(activity, 0.0, _seconds(ctx, track), None, "seated",
                                        extra))
    return chunk


def _slid(pose: LegPose, rng: np.random.Generator, lo: float, hi: float) -> LegPose:
    """The flat foot slid along the floor (forward or back) and turned a little."""
    yaw = foot_yaw(pose.q_foot)
    dist = _u(rng, lo, hi) * (1.0 if rng.random() < 0.5 else -1.0)
    p = pose.p_ankle + dist * np.array([np.cos(yaw), np.sin(yaw), 0.0])
    q_foot = rot.mul(rot.rot_z(_u(rng, -8.0, 8.0) * D), pose.q_foot)
    return LegPose(p, pose.q_shank, q_foot)


def _jiggle(ctx: Context, pose: LegPose, duration_s: float, rng: np.random.Generator
            ) -> LegTrack:
    """Leg jiggling: the heel bounces off the floor at 3.5-6 Hz, the forefoot stays down."""
    n = ctx.samples(duration_s)
    t = ctx.times(n)
    f = _u(rng, 3.5, 6.0)
    amp = _u(rng, 2.0, 7.0) * D
    env = np.clip(np.minimum(t, duration_s - t) / 0.4, 0.0, 1.0)
    phase = 2.0 * np.pi * f * t * (1.0 + 0.03 * np.sin(2 * np.pi * 0.3 * t))
    eps = 0.06
    shape = np.sqrt(np.sin(0.5 * phase) ** 2 + eps**2) - eps
    pitch = -amp * env * shape
    beta0, gamma0 = lean_of(pose.q_shank)
    zeros = np.zeros(n)
    return planted(ctx.body, pose, "ball", d_pitch=pitch, d_roll=zeros, d_yaw=zeros,
                   beta=beta0 + 0.3 * pitch, gamma=np.full(n, gamma0))


def _pivot_toes(ctx: Context, pose: LegPose, rng: np.random.Generator) -> LegTrack:
    """Toes turned in or out on the heel, held a moment, turned back."""
    hold = _u(rng, 1.0, 5.0)
    move = _u(rng, 0.5, 1.0)
    total = 2 * move + hold
    n = ctx.samples(total)
    t = ctx.times(n)
    ch = Channels()
    angle = _u(rng, 10.0, 25.0) * D * (1.0 if rng.random() < 0.5 else -1.0)
    ch.key("yaw", 0.0, 0.0)
    ch.key("yaw", move, angle)
    ch.key("yaw", move + hold, angle)
    ch.key("yaw", total, 0.0)
    beta0, gamma0 = lean_of(pose.q_shank)
    zeros = np.zeros(n)
    return planted(ctx.body, pose, "heel", d_pitch=zeros, d_roll=zeros, d_yaw=ch.eval("yaw", t),
                   beta=np.full(n, beta0), gamma=np.full(n, gamma0))


def _tuck(ctx: Context, pose: LegPose, rng: np.random.Generator) -> LegTrack:
    """The foot tucked back under the chair, resting on its toes, then brought forward again.

    A long, single plantarflexed hold while sitting: an everyday look-alike of a plantar
    flexion rep that must not be counted.
    """
    yaw = foot_yaw(pose.q_foot)
    fwd = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    back = LegPose(pose.p_ankle - _u(rng, 0.12, 0.25) * fwd, pose.q_shank, pose.q_foot)
    pitch = -_u(rng, 25.0, 50.0) * D
    beta = _u(rng, 20.0, 35.0) * D
    tucked = planted(ctx.body, back, "ball", d_pitch=np.array([pitch]),
                     d_roll=np.array([_u(rng, 0, 8) * D]), d_yaw=np.zeros(1),
                     beta=np.array([beta]), gamma=np.array([lean_of(pose.q_shank)[1]])).last()
    go = move_leg(ctx, pose, tucked, _u(rng, 0.8, 1.3), _u(rng, 0.02, 0.05))
    stay = tucked.hold(ctx.samples(_u(rng, 4.0, 20.0)))
    back_out = move_leg(ctx, tucked, pose, _u(rng, 0.8, 1.3), _u(rng, 0.02, 0.05))
    return LegTrack.concat([go, stay, back_out])


def fidget(ctx: Context, state: State, duration_s: float, rng: np.random.Generator) -> Chunk:
    """Restless sitting: bouts of leg jiggling, feet slid about, toes turned in and out, the
    foot tucked under the chair, with still moments between."""
    parts: list[LegTrack] = []
    pose = state.pose
    home = state.pose
    elapsed = 0.0
    tucked = False
    while elapsed < duration_s - 1.0:
        pause = _still(ctx, pose, _u(rng, 0.5, 3.0), rng, lean_deg=1.5)
        parts.append(pause)
        roll = rng.random()
        if roll < 0.35:
            part = _jiggle(ctx, pose, _u(rng, 2.0, 8.0), rng)
        elif roll < 0.6:
            target = _slid(home, rng, 0.0, 0.15)
            part = move_leg(ctx, pose, target, _u(rng, 0.6, 1.2), _u(rng, 0.005, 0.02))
            pose = target
        elif roll < 0.8:
            part = _pivot_toes(ctx, pose, rng)
        elif not tucked and rng.random() < 0.6:
            part = _tuck(ctx, pose, rng)
            tucked = True
        else:
            part = _still(ctx, pose, _u(rng, 1.0, 3.0), rng, lean_deg=4.0)
        parts.append(part)
        elapsed += _seconds(ctx, pause) + _seconds(ctx, part)
    if not np.allclose(pose.p_ankle, home.p_ankle):
        parts.append(move_leg(ctx, pose, home, _u(rng, 0.6, 1.0), 0.01))
    if not parts:  # too short to fidget: a moment of sitting
        parts.append(_still(ctx, pose, max(duration_s, 0.1), rng))
    track = _levels(LegTrack.concat(parts), tremor=0.01 * D, sway=0.3 * ctx.style.sway_deg * D,
                    follows=0.0)
    chunk = Chunk(track, state.moved(track.last()))
    chunk.segments.append(SegmentRecord("fidget", 0.0, _seconds(ctx, track), None, "seated"))
    return chunk


def foot_tap(ctx: Context, state: State, duration_s: float, rng: np.random.Generator) -> Chunk:
    """Tapping the toes at 2-4 Hz with the heel down, in bursts; each tap lands with a slap."""
    n = ctx.samples(duration_s)
    t = ctx.times(n)
    f0 = _u(rng, 2.0, 4.0)
    amp0 = _u(rng, 8.0, 20.0) * D
    # bursts of 3-10 s with short pauses
    env = np.zeros(n)
    tk = 0.3
    while tk < duration_s - 1.0:
        length = min(_u(rng, 3.0, 10.0), duration_s - 0.5 - tk)
        env += np.clip(np.minimum(t - tk, tk + length - t) / 0.15, 0.0, 1.0)
        tk += length + _u(rng, 0.5, 2.0)
    freq = f0 * (1.0 + 0.04 * np.sin(2 * np.pi * 0.2 * t + _u(rng, 0, 6)))
    phase = np.cumsum(freq) * ctx.dt_s
    u = phase - np.floor(phase)
    up, down = 0.42, 0.78
    rise = 0.5 * (1.0 - np.cos(np.pi * u / up))
    fall = np.cos(0.5 * np.pi * (u - up) / (down - up))
    shape = np.where(u < up, rise, np.where(u < down, fall, 0.0))
    tap_amp = amp0 * (1.0 + 0.15 * np.sin(2 * np.pi * 0.37 * t + _u(rng, 0, 6)))
    pitch = moving_average(np.clip(shape, 0.0, None) * tap_amp * env,
                           max(1, round(0.004 / ctx.dt_s)))
    beta0, gamma0 = lean_of(state.pose.q_shank)
    zeros = np.zeros(n)
    track = planted(ctx.body, state.pose, "heel", d_pitch=pitch, d_roll=0.1 * pitch,
                    d_yaw=zeros, beta=np.full(n, beta0), gamma=np.full(n, gamma0))
    _levels(track, tremor=0.01 * D, sway=0.3 * ctx.style.sway_deg * D, follows=0.0)
    chunk = Chunk(track, state.moved(track.last()))
    chunk.segments.append(SegmentRecord("foot_tap", 0.0, _seconds(ctx, track), None, "seated"))
    return chunk


def leg_swing(ctx: Context, state: State, duration_s: float, rng: np.random.Generator
              ) -> Chunk:
    """The leg crossed over the other knee, the lower leg swinging like a pendulum at about
    1 Hz with the relaxed foot flopping behind it, now and then pausing."""
    crossed = Joints(
        hip=(_u(rng, 95.0, 110.0) * D, -_u(rng, 14.0, 24.0) * D, -_u(rng, 8.0, 20.0) * D),
        knee=_u(rng, 75.0, 100.0) * D,
        ankle=(_u(rng, 18.0, 35.0) * D, _u(rng, 3.0, 10.0) * D, _u(rng, 0.0, 8.0) * D),
    )
    start = pose_of(ctx, state, crossed)
    lead = move_leg(ctx, state.pose, start, _u(rng, 1.2, 2.0), _u(rng, 0.15, 0.3))
    swing_s = max(duration_s - 2 * 1.6, 2.0)
    n = ctx.samples(swing_s)
    t = ctx.times(n)
    f = _u(rng, 0.8, 1.5)
    amp = _u(rng, 5.0, 20.0) * D
    env = np.clip(np.minimum(t, swing_s - t) / 1.0, 0.0, 1.0)
    # pauses: the swing dies out and restarts
    if swing_s > 12.0 and rng.random() < 0.5:
        t_p = _u(rng, 0.3, 0.7) * swing_s
        env *= np.clip(np.abs(t - t_p) / 1.5 - 0.5, 0.0, 1.0)
    amp_t = amp * env * (1.0 + 0.2 * np.sin(2 * np.pi * 0.07 * t))
    phase = 2 * np.pi * f * t
    hip, knee, ankle = crossed.arrays(n)
    knee = knee + amp_t * np.sin(phase)
    ankle[:, 0] += 0.35 * amp_t * np.sin(phase - 1.2)
    ankle[:, 1] += 0.1 * amp_t * np.sin(phase - 0.8)
    hip[:, 2] += 0.1 * amp_t * np.sin(phase + 0.5)
    swing = chain(ctx, state, hip, knee, ankle)
    back = move_leg(ctx, swing.last(), state.pose, _u(rng, 1.2, 2.0), _u(rng, 0.15, 0.3))
    pivot = hip_centre(ctx, state)
    for part in (lead, swing, back):
        _levels(part, tremor=0.02 * D, sway=0.4 * ctx.style.sway_deg * D, follows=1.0,
                pivot=pivot)
    track = LegTrack.concat([lead, swing, back])
    chunk = Chunk(track, state.moved(track.last()))
    chunk.segments.append(SegmentRecord("leg_swing", 0.0, _seconds(ctx, track), None,
                                        "seated"))
    return chunk


def _extended_joints(ctx: Context, state: State, rng: np.random.Generator, *,
                     heel_down: bool) -> Joints:
    """The leg stretched out in front: heel resting on the floor, or held just above it."""
    knee = _u(rng, 0.0, 15.0) * D
    pf0 = _u(rng, -5.0, 10.0) * D
    rot_in = _u(rng, -6.0, 6.0) * D
    abd = _u(rng, 0.0, 8.0) * D
    target = state.floor_z + (0.004 if heel_down else _u(rng, 0.05, 0.2))
    flex = np.arange(20.0, 95.0, 0.25) * D
    n = flex.size
    hip = np.stack((flex, np.full(n, abd), np.full(n, rot_in)), axis=1)
    ankle = np.tile(np.array([pf0, 0.0, 0.0]), (n, 1))
    legs = chain(ctx, state, hip, np.full(n, knee), ankle)
    heel_z = legs.p_ankle[:, 2] + rot.rotate(legs.q_foot, ctx.body.heel)[:, 2]
    best = float(flex[int(np.argmin(np.abs(heel_z - target)))])
    return Joints((best, abd, rot_in), knee, (pf0, 0.0, 0.0))


def plantar_flexion_set(ctx: Context, state: State, reps: int, rng: np.random.Generator, *,
                        set_key: int = 0, hold_s: float | None = None,
                        amplitude_deg: float | None = None) -> Chunk:
    """Resisted plantar flexion: seated, leg extended, a band looped over the forefoot.

    Each rep points the toes 20-45 deg from neutral (minimum-jerk in about a second), holds
    for 3.5-7 s against the band (the angle sagging a little, the foot trembling at 6-12 Hz),
    and returns; pauses, tempo and amplitude vary from rep to rep, the neutral pose drifts.
    """
    style = ctx.style
    body = ctx.body
    dt = ctx.dt_s
    heel_down = bool(rng.random() < 0.6)
    # Loop the band: the foot comes up a little and is fiddled with, then the leg extends.
    pose0 = state.pose
    yaw = foot_yaw(pose0.q_foot)
    fwd = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    lifted = LegPose(pose0.p_ankle + fwd * _u(rng, 0.0, 0.08)
                     + np.array([0, 0, _u(rng, 0.02, 0.05)]), pose0.q_shank, pose0.q_foot)
    beta0, gamma0 = lean_of(pose0.q_shank)
    looped = planted(body, lifted, "heel", d_pitch=np.array([_u(rng, 5.0, 20.0) * D]),
                     d_roll=np.array([_u(rng, -5.0, 5.0) * D]), d_yaw=np.zeros(1),
                     beta=np.array([beta0]), gamma=np.array([gamma0])).last()
    joints = _extended_joints(ctx, state, rng, heel_down=heel_down)
    extended = pose_of(ctx, state, joints)
    lead = LegTrack.concat([
        move_leg(ctx, pose0, looped, _u(rng, 0.8, 1.4), 0.02),
        looped.hold(ctx.samples(_u(rng, 1.0, 3.0))),
        move_leg(ctx, looped, extended, _u(rng, 1.0, 1.8), 0.03),
        extended.hold(ctx.samples(_u(rng, 0.8, 2.0))),
    ])
    t_first = len(lead) * dt

    amp_set = amplitude_deg if amplitude_deg is not None else float(
        np.clip(_u(rng, 22.0, 42.0) * style.amplitude, 20.0, 45.0))
    hold_mean = hold_s if hold_s is not None else style.hold_s
    ch = Channels()
    ch.key("pf", 0.0, 0.0)
    ch.key("drift", 0.0, 0.0)
    ch.key("posture", 0.0, 0.0)
    designs: list[tuple[float, float, float, float, float]] = []
    tk = 0.0
    for i in range(reps):
        amp = float(np.clip(amp_set * _u(rng, 0.88, 1.12), 18.0, 48.0)) * D
        ramp_in = _u(rng, 0.5, 1.3) / style.tempo
        short = rng.random() < 0.12
        hold = _u(rng, 3.5, 4.3) if short else float(np.clip(rng.normal(hold_mean, 0.7), 3.5,
                                                            7.0))
        ramp_out = _u(rng, 0.5, 1.3) / style.tempo
        sag = _u(rng, 0.5, 3.0) * D
        start = tk
        ch.key("pf", start, 0.0)
        ch.key("pf", start + ramp_in, amp)
        ch.key("pf", start + ramp_in + hold, amp - sag)
        end = start + ramp_in + hold + ramp_out
        ch.key("pf", end, 0.0)
        designs.append((start, start + ramp_in, start + ramp_in + hold, end, amp))
        pause = _u(rng, 0.8, 3.0) / style.tempo
        if i < reps - 1 and rng.random() < 0.1:
            # adjusting the band between reps: a small wiggle, not a rep
            wig = _u(rng, 3.0, 6.0) * D
            ch.key("pf", end + 0.3 * pause + 0.3, wig)
            ch.key("pf", end + 0.3 * pause + 0.8, -0.5 * wig)
            ch.key("pf", end + 0.3 * pause + 1.2, 0.0)
            pause += 1.2
        tk = end + pause
        ch.key("drift", tk, _u(rng, -3.0, 3.0) * D)
        ch.key("posture", tk, _u(rng, -2.0, 2.0) * D)
    total = tk
    n = ctx.samples(total)
    t = ctx.times(n)
    pf = ch.eval("pf", t)
    drift = ch.eval("drift", t)
    hip, knee, ankle = joints.arrays(n)
    slow = ch.eval("posture", t)
    hip[:, 0] += slow
    knee += slow
    ankle[:, 0] += pf + drift
    ankle[:, 1] += 0.12 * pf
    ankle[:, 2] += 0.08 * pf
    reps_track = chain(ctx, state, hip, knee, ankle)
    hold_level = style.tremor_deg * _u(rng, 1.2, 1.8) * D
    reps_track.tremor_rad = 0.03 * D + hold_level * np.clip(pf / (amp_set * D), 0.0, 1.1)
    pivot = hip_centre(ctx, state)
    sway = (0.25 if heel_down else 1.0) * style.sway_deg * D
    reps_track.sway_rad = np.full(n, sway)
    reps_track.sway_pivot = np.broadcast_to(pivot, (n, 3)).copy()
    reps_track.foot_follows = np.ones(n)

    out = LegTrack.concat([
        move_leg(ctx, reps_track.last(), looped, _u(rng, 1.0, 1.6), 0.03),
        looped.hold(ctx.samples(_u(rng, 0.8, 2.0))),
        move_leg(ctx, looped, pose0, _u(rng, 0.8, 1.2), 0.02),
    ])
    for part in (lead, out):
        _levels(part, tremor=0.02 * D, sway=sway, follows=1.0, pivot=pivot)
    track = LegTrack.concat([lead, reps_track, out])
    chunk = Chunk(track, state.moved(track.last()))
    tol = 3.0 * D
    for start, hin, hout, end, amp in designs:
        h0, h1 = hold_interval(t, pf + drift, rep=(start, end), hold=(hin, hout), tol=tol)
        chunk.reps.append(RepRecord("plantar_flexion", set_key, t_first + start,
                                    t_first + end, hold_s=h1 - h0, hold_start=t_first + h0,
                                    hold_end=t_first + h1,
                                    amplitude_deg=round(float(np.degrees(amp)), 1)))
    chunk.sets.append(SetRecord("plantar_flexion", chunk.reps[0].t_start, chunk.reps[-1].t_end,
                                reps, None, set_key))
    chunk.segments.append(SegmentRecord("plantar_flexion", 0.0, _seconds(ctx, track),
                                        "plantar_flexion", "seated",
                                        (("heel_on_floor", heel_down),)))
    return chunk
