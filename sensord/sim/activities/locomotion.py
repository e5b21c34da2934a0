"""Walking, stairs and toe-walking bouts: footstep planning around ``gait.gait_bout``.

The planner lays out the instrumented (right) foot's footprints: gait initiation from standing
(either leg may lead), straight stretches the length of a room with 180-degree turns at the ends
(two shorter, slower strides turning 90 degrees each), and termination beside the other foot.
"""

from __future__ import annotations

import numpy as np

from sensord.sim.activities.standing import stand
from sensord.sim.body import LegTrack
from sensord.sim.gait import Footprint, GaitMode, Ground, Stride, gait_bout
from sensord.sim.moves import D
from sensord.sim.state import (
    Chunk,
    Context,
    RepRecord,
    SegmentRecord,
    SetRecord,
    State,
    StepRecord,
    standing_pose,
)


def _rot2(yaw: float) -> tuple[np.ndarray, np.ndarray]:
    fwd = np.array([np.cos(yaw), np.sin(yaw)])
    left = np.array([-np.sin(yaw), np.cos(yaw)])
    return fwd, left


def plan_level(ctx: Context, state: State, n_strides: int, rng: np.random.Generator, *,
               stride_m: float, stride_s: float, room_m: float) -> list[Stride]:
    """Footprints for ``n_strides`` landings of the right foot on level ground with turns."""
    style = ctx.style
    w = style.step_half_width_m
    toe_out = style.toe_out_deg * D
    heading = state.heading_rad
    fwd, left = _rot2(heading)
    body = np.array(state.xy, dtype=float)
    z = state.floor_z
    strides: list[Stride] = []
    walked = 0.0
    right_leads = bool(rng.random() < 0.5)
    turn_sign = 1.0 if rng.random() < 0.5 else -1.0
    k = 0
    while k < n_strides:
        last = k == n_strides - 1
        jitter = float(rng.normal(1.0, 0.03))
        if k == 0:
            step = stride_m * (0.5 if right_leads else 0.8)
            body = body + fwd * (step - (0.0 if right_leads else 0.25 * stride_m))
            walked += step
            scale, dur = 0.7, stride_s * 1.12
        elif last:
            step = stride_m * (0.5 if rng.random() < 0.5 else 0.9)
            body = body + fwd * step
            scale, dur = 0.75, stride_s * 1.08
        elif walked >= room_m and k + 2 < n_strides:
            # a 180-degree turn over two strides about a point beside the body path
            radius = float(rng.uniform(0.25, 0.45))
            centre = body + turn_sign * radius * left
            for j in (1, 2):
                heading_j = heading + turn_sign * j * 0.5 * np.pi
                _, left_j = _rot2(heading_j)
                body_j = centre - turn_sign * radius * left_j
                foot = body_j - w * left_j
                strides.append(Stride(
                    Footprint(float(foot[0]), float(foot[1]), z, heading_j - toe_out, heading_j),
                    stride_s * float(rng.uniform(1.05, 1.2)), 0.7))
            heading += turn_sign * np.pi
            fwd, left = _rot2(heading)
            body = centre - turn_sign * radius * left
            walked = 0.0
            turn_sign = -turn_sign if rng.random() < 0.3 else turn_sign
            k += 2
            continue
        else:
            step = stride_m * jitter
            body = body + fwd * step
            walked += step
            scale, dur = 1.0, stride_s * float(rng.normal(1.0, 0.02))
        foot = body - w * left
        strides.append(Stride(Footprint(float(foot[0]), float(foot[1]), z, heading - toe_out,
                                        heading), dur, scale))
        k += 1
    return strides


def _end_state(ctx: Context, strides: list[Stride], floor_z: float) -> tuple[State, np.ndarray]:
    last = strides[-1].target
    heading = last.path_yaw
    _, left = _rot2(heading)
    w = ctx.style.step_half_width_m
    xy = np.array([last.x, last.y]) + w * left
    pose = standing_pose(ctx, (float(xy[0]), float(xy[1])), heading, floor_z)
    return State(pose, "standing", (float(xy[0]), float(xy[1])), heading, floor_z), pose.q_shank


def walk(ctx: Context, state: State, duration_s: float, rng: np.random.Generator) -> Chunk:
    """Heel-to-toe walking for about ``duration_s``, with turns, initiation and termination."""
    style = ctx.style
    stride_s = style.stride_s * float(rng.uniform(0.95, 1.05))
    stride_m = style.stride_m * float(rng.uniform(0.93, 1.05))
    lead_s = float(rng.uniform(0.5, 1.0))
    tail_s = float(rng.uniform(0.6, 1.0))
    n = max(2, round((duration_s - lead_s - tail_s) / stride_s))
    strides = plan_level(ctx, state, n, rng, stride_m=stride_m, stride_s=stride_s,
                         room_m=float(rng.uniform(4.0, 9.0)))
    end, end_shank = _end_state(ctx, strides, state.floor_z)
    res = gait_bout(ctx, state.pose, strides, "walk", rng, lead_s=lead_s, tail_s=tail_s,
                    end_shank=end_shank)
    end = State(res.track.last(), "standing", end.xy, end.heading_rad, end.floor_z)
    t_end = len(res.track) * ctx.dt_s
    chunk = Chunk(res.track, end)
    chunk.segments.append(SegmentRecord("walk", 0.0, t_end, None, "standing"))
    chunk.steps.extend(StepRecord(t, "walk", "walk") for t in res.landings_s)
    return chunk


def stairs(ctx: Context, state: State, up: bool, n_steps: int, rng: np.random.Generator
           ) -> Chunk:
    """One straight flight, step over step, from standing at one end to standing at the other."""
    rise = float(rng.uniform(0.15, 0.19))
    going = float(rng.uniform(0.26, 0.31))
    heading = state.heading_rad
    fwd, left = _rot2(heading)
    start_xy = np.array(state.xy, dtype=float)
    first_edge = float(rng.uniform(0.25, 0.40))
    ground = Ground(z0=state.floor_z, origin=(float(start_xy[0]), float(start_xy[1])),
                    direction=heading, first_edge_m=first_edge, going_m=going,
                    rise_m=rise if up else -rise, n_steps=n_steps)
    body = ctx.body
    w = ctx.style.step_half_width_m
    toe_out = ctx.style.toe_out_deg * D * 0.6
    stride_s = float(rng.uniform(0.95, 1.2) if up else rng.uniform(0.85, 1.02))
    first = 1 if rng.random() < 0.5 else 2
    strides: list[Stride] = []
    mode: GaitMode = "up" if up else "down"
    for i in range(first, n_steps + 1, 2):
        edge = first_edge + (i - 1) * going
        along = (edge + going - body.toe_forward_m - 0.02) if up else (
            edge + body.heel_back_m + 0.03)
        foot = start_xy + along * fwd - w * left
        z = state.floor_z + (rise * i if up else -rise * i)
        strides.append(Stride(Footprint(float(foot[0]), float(foot[1]), z, heading - toe_out,
                                        heading), stride_s * float(rng.normal(1.0, 0.03)),
                              0.85 if i == first else 1.0))
    # the last step onto the landing beside the other foot
    top = state.floor_z + (rise if up else -rise) * n_steps
    along = first_edge + (n_steps - 1) * going + float(rng.uniform(0.35, 0.5))
    foot = start_xy + along * fwd - w * left
    strides.append(Stride(Footprint(float(foot[0]), float(foot[1]), top, heading - toe_out,
                                    heading), stride_s * 1.05, 0.8))
    end, end_shank = _end_state(ctx, strides, top)
    res = gait_bout(ctx, state.pose, strides, mode, rng, lead_s=float(rng.uniform(0.5, 0.9)),
                    tail_s=float(rng.uniform(0.6, 1.0)), end_shank=end_shank, ground=ground)
    end = State(res.track.last(), "standing", end.xy, end.heading_rad, top)
    activity = "stairs_up" if up else "stairs_down"
    chunk = Chunk(res.track, end)
    chunk.segments.append(SegmentRecord(activity, 0.0, len(res.track) * ctx.dt_s, None,
                                        "standing", (("stairs", n_steps),)))
    chunk.steps.extend(StepRecord(t, "walk", activity) for t in res.landings_s)
    return chunk


def toe_walk_set(ctx: Context, state: State, bouts: int, rng: np.random.Generator, *,
                 bout_s: tuple[float, float] = (10.0, 20.0), rest_s: float = 10.0,
                 set_key: int = 0) -> Chunk:
    """``bouts`` bouts of walking on tiptoe, each followed by a standing rest of ``rest_s``.

    Toe walking: shorter strides (0.8-1.05 m) at a normal cadence, landing on the forefoot with
    the foot plantarflexed 15-40 deg, heel never down until the bout ends.
    """
    style = ctx.style
    level = float(rng.uniform(18.0, 36.0)) * (0.9 + 0.1 * style.amplitude)
    parts: list[Chunk] = []
    cur = state
    t0 = 0.0
    reps: list[RepRecord] = []
    segments: list[SegmentRecord] = []
    steps: list[StepRecord] = []
    first_start = 0.0
    last_end = 0.0
    for b in range(bouts):
        stride_s = float(rng.uniform(0.92, 1.1))
        stride_m = float(rng.uniform(0.8, 1.05))
        dur = float(rng.uniform(bout_s[0] + 0.6, bout_s[1]))
        lead_s = float(rng.uniform(1.6, 2.2))
        n = max(3, round((dur - lead_s - 1.2) / stride_s))
        strides = plan_level(ctx, cur, n, rng, stride_m=stride_m, stride_s=stride_s,
                             room_m=float(rng.uniform(4.0, 8.0)))
        end, end_shank = _end_state(ctx, strides, cur.floor_z)
        res = gait_bout(ctx, cur.pose, strides, "toe", rng, lead_s=lead_s,
                        tail_s=float(rng.uniform(0.3, 0.6)), end_shank=end_shank,
                        toe_level_deg=level + float(rng.uniform(-3.0, 3.0)))
        bout_end = t0 + len(res.track) * ctx.dt_s
        start = t0 + res.rise_start_s
        stop = t0 + res.lower_end_s
        if b == 0:
            first_start = start
        last_end = stop
        landings = [t0 + t for t in res.landings_s]
        reps.append(RepRecord("toe_walk", set_key, start, stop, steps=len(landings),
                              amplitude_deg=round(level, 1)))
        segments.append(SegmentRecord("toe_walk", t0, bout_end, "toe_walk", "standing"))
        steps.extend(StepRecord(t, "toe_walk", "toe_walk") for t in landings)
        cur = State(res.track.last(), "standing", end.xy, end.heading_rad, end.floor_z)
        parts.append(Chunk(res.track, cur))
        t0 = bout_end
        rest = stand(ctx, cur, rest_s * float(rng.uniform(0.9, 1.2)), rng, activity="rest")
        segments.extend(SegmentRecord(seg.activity, t0 + seg.t_start, t0 + seg.t_end, None,
                                      "standing") for seg in rest.segments)
        parts.append(rest)
        t0 += len(rest.track) * ctx.dt_s
        cur = rest.end
    chunk = Chunk(LegTrack.concat([p.track for p in parts]), cur, segments, [], reps, steps)
    chunk.sets.append(SetRecord("toe_walk", first_start, last_end, bouts, None, set_key))
    return chunk
