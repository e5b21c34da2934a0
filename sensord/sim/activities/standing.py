"""Standing: still, shifting weight, and toe presses on a ball.

The standing foot is planted: it only moves when it is deliberately moved (a heel rise, a new
foothold, stepping onto the ball). The shank sways over it (postural sway, 0.3-1 deg below
1 Hz), which is all an ankle-worn sensor sees of quiet standing.
"""

from __future__ import annotations

import numpy as np

from sensord.model import FloatArray
from sensord.sim.body import LegPose, LegTrack, foot_quat
from sensord.sim.moves import Channels, D, foot_yaw, hold_interval, lean_of, move_leg, planted
from sensord.sim.state import Chunk, Context, RepRecord, SegmentRecord, SetRecord, State


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _with_levels(track: LegTrack, *, tremor_rad: float, sway_rad: float,
                 foot_follows: float = 0.0, pivot: FloatArray | None = None) -> LegTrack:
    n = len(track)
    track.tremor_rad = np.full(n, tremor_rad)
    track.sway_rad = np.full(n, sway_rad)
    track.sway_pivot = track.p_ankle.copy() if pivot is None else np.broadcast_to(
        pivot, (n, 3)).copy()
    track.foot_follows = np.full(n, foot_follows)
    return track


def _shifting(ctx: Context, base: LegPose, duration_s: float, rng: np.random.Generator, *,
              lat_deg: tuple[float, float], fwd_deg: tuple[float, float], period_s: tuple[
                  float, float], heel_rise: float) -> LegTrack:
    """The planted foot under a shank that leans from key to key; with probability
    ``heel_rise`` per unloading the heel lifts a few degrees off the floor."""
    n = ctx.samples(duration_s)
    t = ctx.times(n)
    beta0, gamma0 = lean_of(base.q_shank)
    ch = Channels()
    ch.key("beta", 0.0, beta0)
    ch.key("gamma", 0.0, gamma0)
    ch.key("pitch", 0.0, 0.0)
    tk = _u(rng, 0.3, 1.5)
    side = 1.0 if rng.random() < 0.5 else -1.0
    while tk < duration_s - 1.0:
        ch.key("beta", tk, _u(rng, *fwd_deg) * D)
        ch.key("gamma", tk, side * _u(rng, *lat_deg) * D + 1.0 * D)
        if side < 0 and rng.random() < heel_rise:
            # weight on the other leg: the heel comes up a little, then down again
            up = min(tk + _u(rng, 0.3, 0.6), duration_s - 0.8)
            ch.key("pitch", tk, 0.0)
            ch.key("pitch", up, -_u(rng, 2.0, 8.0) * D)
            ch.key("pitch", min(up + _u(rng, 0.4, 1.5), duration_s - 0.4), 0.0)
        side = -side
        tk += _u(rng, *period_s)
    end = duration_s
    ch.key("beta", end, _u(rng, 0.5, 3.0) * D)
    ch.key("gamma", end, _u(rng, 0.0, 2.0) * D)
    ch.key("pitch", end, 0.0)
    zeros = np.zeros(n)
    return planted(ctx.body, base, "ball", d_pitch=ch.eval("pitch", t), d_roll=zeros,
                   d_yaw=zeros, beta=ch.eval("beta", t), gamma=ch.eval("gamma", t))


def stand(ctx: Context, state: State, duration_s: float, rng: np.random.Generator, *,
          activity: str = "stand", extra: tuple[tuple[str, object], ...] = ()) -> Chunk:
    """Quiet standing: the foot still, the shank swaying and now and then leaning anew."""
    track = _shifting(ctx, state.pose, duration_s, rng, lat_deg=(0.0, 1.5), fwd_deg=(0.5, 3.5),
                      period_s=(2.0, 6.0), heel_rise=0.0)
    _with_levels(track, tremor_rad=0.01 * D, sway_rad=ctx.style.sway_deg * D)
    chunk = Chunk(track, State(track.last(), "standing", state.xy, state.heading_rad,
                               state.floor_z))
    chunk.segments.append(SegmentRecord(activity, 0.0, n_s(ctx, track), None, "standing",
                                        extra))
    return chunk


def n_s(ctx: Context, track: LegTrack) -> float:
    return len(track) * ctx.dt_s


def _new_foothold(ctx: Context, pose: LegPose, rng: np.random.Generator) -> LegPose:
    """The standing foot placed a few cm elsewhere, turned a little, flat."""
    angle = _u(rng, 0.0, 2.0 * np.pi)
    dist = _u(rng, 0.04, 0.12)
    yaw = foot_yaw(pose.q_foot)
    new_yaw = yaw + _u(rng, -10.0, 10.0) * D
    p = pose.p_ankle + np.array([dist * np.cos(angle), dist * np.sin(angle), 0.0])
    return LegPose(p, pose.q_shank, foot_quat(new_yaw, 0.0, 0.0))


def weight_shift(ctx: Context, state: State, duration_s: float, rng: np.random.Generator
                 ) -> Chunk:
    """Shifting weight from leg to leg: the shank leans 3-8 deg sideways every few seconds, the
    heel sometimes lifts a little as the leg unloads, and now and then the foot is set down
    somewhere else."""
    parts: list[LegTrack] = []
    pose = state.pose
    remaining = duration_s
    if duration_s > 8.0 and rng.random() < 0.6:
        first = _u(rng, 0.3, 0.6) * duration_s
        parts.append(_shifting(ctx, pose, first, rng, lat_deg=(3.0, 8.0), fwd_deg=(-1.0, 4.0),
                               period_s=(1.5, 4.0), heel_rise=0.5))
        pose = parts[-1].last()
        target = _new_foothold(ctx, pose, rng)
        move_s = _u(rng, 0.6, 0.9)
        parts.append(move_leg(ctx, pose, target, move_s, _u(rng, 0.02, 0.05)))
        pose = target
        remaining = duration_s - first - move_s
    parts.append(_shifting(ctx, pose, max(remaining, 1.0), rng, lat_deg=(3.0, 8.0),
                           fwd_deg=(-1.0, 4.0), period_s=(1.5, 4.0), heel_rise=0.5))
    track = _with_levels(LegTrack.concat(parts), tremor_rad=0.01 * D,
                         sway_rad=ctx.style.sway_deg * D)
    chunk = Chunk(track, State(track.last(), "standing", state.xy, state.heading_rad,
                               state.floor_z))
    chunk.segments.append(SegmentRecord("weight_shift", 0.0, n_s(ctx, track), None,
                                        "standing"))
    return chunk


def toe_press_set(ctx: Context, state: State, reps: int, rng: np.random.Generator, *,
                  set_key: int = 0, hold_s: float | None = None) -> Chunk:
    """Toe presses: standing, knees slightly bent, the forefoot on a small ball.

    Gripping the ball with the toes raises the forefoot and midfoot a little on it (1.5-5 deg
    of pitch, a touch of inversion), held still but tremulous for 3.5-7 s, then released.
    The signal is weak on purpose: that is what an IMU on the instep can feel of a toe grip.
    """
    style = ctx.style
    body = ctx.body
    dt = ctx.dt_s
    base = state.pose
    # Step onto the ball: the foot 8-18 cm forward, heel down, forefoot up on the ball.
    ball_pitch = _u(rng, 8.0, 16.0) * D
    yaw = foot_yaw(base.q_foot)
    fwd = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    flat_on = LegPose(base.p_ankle + fwd * _u(rng, 0.08, 0.18), base.q_shank, base.q_foot)
    bend = _u(rng, 8.0, 16.0) * D
    lean_lat = _u(rng, -1.0, 2.0) * D
    on_ball = planted(body, flat_on, "heel", d_pitch=np.array([ball_pitch]), d_roll=np.zeros(1),
                      d_yaw=np.zeros(1), beta=np.array([bend]),
                      gamma=np.array([lean_lat])).last()
    lead = move_leg(ctx, base, on_ball, _u(rng, 0.8, 1.2), _u(rng, 0.04, 0.07))
    settle = on_ball.hold(ctx.samples(_u(rng, 1.0, 2.5)))
    t_first = (len(lead) + len(settle)) * dt

    # The reps, as keyframes of extra pitch about the heel (the ball carries the forefoot).
    ch = Channels()
    ch.key("grip", 0.0, 0.0)
    ch.key("beta", 0.0, bend)
    tk = 0.0
    amp_set = _u(rng, 1.5, 5.0) * style.amplitude
    hold_mean = hold_s if hold_s is not None else style.hold_s
    designs: list[tuple[float, float, float, float, float]] = []
    for _ in range(reps):
        amp = amp_set * _u(rng, 0.8, 1.2) * D
        ramp_in = _u(rng, 0.3, 0.8) / style.tempo
        hold = float(np.clip(rng.normal(hold_mean, 0.8), 3.5, 7.0))
        ramp_out = _u(rng, 0.3, 0.8) / style.tempo
        start = tk
        ch.key("grip", start, 0.0)
        ch.key("grip", start + ramp_in, amp)
        drift = amp * _u(rng, -0.15, 0.1)
        ch.key("grip", start + ramp_in + hold, amp + drift)
        end = start + ramp_in + hold + ramp_out
        ch.key("grip", end, 0.0)
        ch.key("beta", start + ramp_in, bend + _u(rng, 0.0, 1.0) * D)
        ch.key("beta", end, bend + _u(rng, -0.5, 0.5) * D)
        designs.append((start, start + ramp_in, start + ramp_in + hold, end, amp))
        tk = end + _u(rng, 1.5, 4.0)
    total = tk
    n = ctx.samples(total)
    t = ctx.times(n)
    grip = ch.eval("grip", t)
    presses = planted(body, flat_on, "heel", d_pitch=ball_pitch + grip, d_roll=0.25 * grip,
                      d_yaw=np.zeros(n), beta=ch.eval("beta", t), gamma=np.full(n, lean_lat))
    # tremor grows with the grip; the loaded foot on a soft ball sways a little with the body
    tremor = (0.02 * D + style.tremor_deg * D * np.clip(grip / max(amp_set * D, 1e-6), 0, 1.2))
    presses.tremor_rad = tremor
    presses.sway_rad = np.full(n, style.sway_deg * D)
    presses.sway_pivot = presses.p_ankle.copy()
    presses.foot_follows = np.full(n, 0.15)

    off = move_leg(ctx, presses.last(), base, _u(rng, 0.8, 1.2), _u(rng, 0.04, 0.07))
    for part in (lead, settle, off):
        _with_levels(part, tremor_rad=0.01 * D, sway_rad=style.sway_deg * D)
    track = LegTrack.concat([lead, settle, presses, off])
    chunk = Chunk(track, State(track.last(), "standing", state.xy, state.heading_rad,
                               state.floor_z))
    tol = min(3.0 * D, 0.25 * amp_set * D)
    for start, hin, hout, end, amp in designs:
        h0, h1 = hold_interval(t, grip, rep=(start, end), hold=(hin, hout), tol=tol)
        chunk.reps.append(RepRecord("toe_press", set_key, t_first + start, t_first + end,
                                    hold_s=h1 - h0, hold_start=t_first + h0,
                                    hold_end=t_first + h1,
                                    amplitude_deg=round(float(np.degrees(amp)), 2)))
    t_sets = (chunk.reps[0].t_start, chunk.reps[-1].t_end)
    chunk.sets.append(SetRecord("toe_press", t_sets[0], t_sets[1], reps, None, set_key))
    chunk.segments.append(SegmentRecord("toe_press", 0.0, n_s(ctx, track), "toe_press",
                                        "standing"))
    return chunk
