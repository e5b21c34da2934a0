"""Kinematics of the instrumented foot and shank through a bout of gait.

Method: the foot is a rigid body that rolls over the ground. Its orientation (heading, pitch,
roll) follows keyframes placed at the gait events of every stride (initial contact, foot flat,
heel-off, toe-off, early and mid swing), with values and timings from the gait literature and
the real recordings in ../shared/data/gaitmap_walk (heel strike about +25 deg toes-up, push-off
about -65 deg, swing peak rate about 340 deg/s). Its position follows from contact: in stance the
foot pivots about a fixed point on the ground (the heel after a heel strike, the ball of the foot
after a forefoot landing and during push-off), so the contact point has zero velocity, as on a
real foot. In swing the ankle follows a quintic from the toe-off state (position, velocity,
acceleration) to the landing state, lifted where needed so heel and ball clear the ground or the
stair edges.

Landings are impacts: the contact point arrives with a few tenths of a m/s and is stopped within
a few milliseconds by heel pad and sole (a first-order stop with time constant ``tau``), which
gives the acceleration spike and, through the strap (``imu.strap_displacement``), its ringing.

Modes: ``walk`` (heel strike, flat foot, push-off), ``toe`` (forefoot landing, the heel never
touches, the foot stays plantarflexed through stance), ``up`` (stairs up: near-flat forefoot
landing, long push-off), ``down`` (stairs down: toes-first landing, the heel then lowers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot
from sensord.sim.body import LegPose, LegTrack, foot_quat, shank_quat
from sensord.sim.curves import Key, bump, hermite_eval, keyframes, min_jerk
from sensord.sim.state import Context

GaitMode = Literal["walk", "toe", "up", "down"]
_D: Final = np.pi / 180.0


@dataclass(frozen=True, slots=True)
class Footprint:
    """Where a stance puts the foot: the ankle's ground projection when flat (m), the floor
    (or tread) height there, the direction the toes point and the direction of travel (rad)."""

    x: float
    y: float
    z: float
    yaw: float
    path_yaw: float


@dataclass(frozen=True, slots=True)
class Stride:
    """One swing of the instrumented foot onto ``target``, taking ``duration_s`` from the
    previous initial contact (for the first stride: from an imagined one before the push-off).
    ``scale`` shrinks the angles for gait initiation, termination and turns."""

    target: Footprint
    duration_s: float
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Ground:
    """The floor under a bout: level at ``z0``, or a staircase along ``direction`` starting at
    ``start`` (the first riser's distance along the direction from ``origin``)."""

    z0: float = 0.0
    origin: tuple[float, float] = (0.0, 0.0)
    direction: float = 0.0
    first_edge_m: float = 0.0
    going_m: float = 0.0
    rise_m: float = 0.0
    n_steps: int = 0

    def height(self, xy: FloatArray) -> FloatArray:
        """Floor height (m) under points ``xy`` (..., 2)."""
        if self.n_steps == 0:
            return np.full(xy.shape[:-1], self.z0)
        c, s = np.cos(self.direction), np.sin(self.direction)
        along = (xy[..., 0] - self.origin[0]) * c + (xy[..., 1] - self.origin[1]) * s
        passed = np.clip(np.floor((along - self.first_edge_m) / self.going_m) + 1,
                         0, self.n_steps)
        return np.asarray(self.z0 + self.rise_m * passed)


@dataclass(frozen=True, slots=True)
class GaitResult:
    """The bout's motion and its events (local times): landings, and for toe walking the times
    the heel left and regained the floor."""

    track: LegTrack
    landings_s: tuple[float, ...]
    rise_start_s: float
    lower_end_s: float


@dataclass(slots=True)
class _Stance:
    fp: Footprint
    t_ic: float | None
    t_settle: float
    t_ho: float | None = None
    t_to: float | None = None
    t_min: float | None = None
    landing: str = "heel"
    pitch_ic: float = 0.0
    pitch_settle: float = 0.0
    pitch_to: float = 0.0
    pitch_min: float = 0.0
    push_rate: float = 0.0
    roll_ic: float = 0.0
    roll_settle: float = 0.0
    v_ic: FloatArray | None = None
    a_ic: FloatArray | None = None
    tau_s: float = 0.006
    scale: float = 1.0
    via_frac: float = 0.68
    via_clearance_m: float = 0.018
    via_rate_m_s: float = -0.4
    zvia_frac: float = 0.6
    t_peak: float = 0.0
    pitch_peak: float = 0.0
    t_fall: float = 0.0
    pitch_fall: float = 0.0
    twist: float = 0.0
    roll_push: float = 0.0

    def set_push(self, pitch_min: float) -> None:
        """Push-off from heel-off to the pitch minimum with a trapezoidal rate: rising for 65%
        of the time, at its peak until 80%, then stopped sharply (the toe-off snap seen in
        real recordings). The foot leaves the ground at 70%, while the rotation is still at its
        peak: from there the shank pulls the foot forward and the rotation dies out in the air.
        """
        assert self.t_ho is not None
        assert self.t_min is not None
        span = self.t_min - self.t_ho
        self.t_peak = self.t_ho + 0.65 * span
        self.t_to = self.t_ho + 0.70 * span
        self.t_fall = self.t_ho + 0.80 * span
        self.pitch_min = pitch_min
        self.push_rate = (pitch_min - self.pitch_settle) / (0.625 * span)
        self.pitch_peak = self.pitch_settle + 0.5 * self.push_rate * (self.t_peak - self.t_ho)
        self.pitch_to = self.pitch_peak + self.push_rate * (self.t_to - self.t_peak)
        self.pitch_fall = self.pitch_peak + self.push_rate * (self.t_fall - self.t_peak)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _heading_frame(yaw: float, fwd: float, lat: float, up: float) -> FloatArray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([fwd * c - lat * s, fwd * s + lat * c, up])


class _Builder:
    """Collects keyframes per channel; times must be added in increasing order per channel."""

    def __init__(self) -> None:
        self.keys: dict[str, list[Key]] = {}

    def add(self, channel: str, t_s: float, value: float, rate: float | None = None,
            acc: float = 0.0) -> None:
        keys = self.keys.setdefault(channel, [])
        if keys and t_s <= keys[-1].t_s + 1e-6:
            return  # keys closer than a microsecond add nothing but ill-conditioning
        keys.append(Key(t_s, value, rate, acc))

    def eval(self, channel: str, t_s: FloatArray) -> FloatArray:
        return keyframes(self.keys[channel], t_s)


def gait_bout(ctx: Context, start: LegPose, strides: list[Stride], mode: GaitMode,
              rng: np.random.Generator, *, lead_s: float, tail_s: float,
              end_shank: FloatArray | None = None, ground: Ground | None = None,
              toe_level_deg: float = 25.0) -> GaitResult:
    """Synthesises one bout: start standing flat at ``start``, take ``strides``, stand.

    ``lead_s`` is the time before the first heel-off (the other foot may step first),
    ``tail_s`` the standing time after the last landing settles. For ``toe`` mode the foot rises
    onto the ball before the first push-off and lowers the heel after the last landing;
    ``toe_level_deg`` is the bout's typical plantarflexion in stance.
    """
    if not strides:
        raise ValueError("a gait bout needs at least one stride")
    body = ctx.body
    style = ctx.style
    ground = ground or Ground(z0=float(start.p_ankle[2] - body.ankle_height_m))
    yaw0, pitch0, roll0 = (float(v) for v in rot.to_euler_zyx(start.q_foot))
    # the foot stands (nearly) flat; its small pitch and roll are kept until heel-off
    pitch0 = -pitch0
    # headings are unwrapped along the bout: start on the same turn as the first footprint
    yaw0 += 2.0 * np.pi * round((strides[0].target.yaw - yaw0) / (2.0 * np.pi))
    fp0 = Footprint(float(start.p_ankle[0]), float(start.p_ankle[1]),
                    float(start.p_ankle[2] - body.ankle_height_m), yaw0, yaw0)

    stances = _plan_stances(ctx, fp0, strides, mode, rng, lead_s=lead_s,
                            toe_level_deg=toe_level_deg)
    stances[0].pitch_settle = pitch0
    stances[0].roll_settle = roll0
    if stances[0].t_min is not None:
        stances[0].set_push(stances[0].pitch_min + pitch0)
    last = stances[-1]
    rise_start = 0.0
    t_end_motion = last.t_settle
    lower_end = t_end_motion
    b = _Builder()
    if mode == "toe":
        rise_start = max(0.05, lead_s - _u(rng, 1.0, 1.5))
    _orientation_keys(b, stances, mode, rng, rise_start)
    if mode == "toe":
        lower_start = last.t_settle + _u(rng, 0.2, 0.6)
        lower_end = lower_start + _u(rng, 0.5, 0.9)
        b.add("pitch", lower_start, last.pitch_settle, 0.0)
        b.add("pitch", lower_end, 0.0, 0.0)
        for ch in ("roll", "yaw"):
            b.add(ch, lower_end, b.keys[ch][-1].value, 0.0)
        t_end_motion = lower_end
    total = t_end_motion + tail_s
    n = ctx.samples(total)
    t = ctx.times(n)

    pitch = b.eval("pitch", t)
    roll = b.eval("roll", t)
    yaw = b.eval("yaw", t)
    q_foot = foot_quat(yaw, pitch, roll)
    p_ankle = _positions(ctx, b, stances, t=t, q_foot=q_foot, ground=ground)

    _shank_keys(b, stances, mode, rng, pitch=pitch, t=t)
    toe_out = style.toe_out_deg * _D
    q_shank = shank_quat(yaw + 0.5 * toe_out, b.eval("beta", t), b.eval("gamma", t))
    # Blend from the starting shank into the gait, and out into the final standing shank.
    first_move = stances[0].t_ho if stances[0].t_ho is not None else lead_s
    if mode == "toe":
        first_move = rise_start
    w_in = min_jerk(t / max(first_move, 0.2))
    q_shank = rot.slerp(np.broadcast_to(start.q_shank, q_shank.shape), q_shank, w_in)
    if end_shank is not None:
        t0 = t_end_motion - 0.15
        w_out = min_jerk((t - t0) / max(total - t0 - 0.2, 0.3))
        q_shank = rot.slerp(q_shank, np.broadcast_to(end_shank, q_shank.shape), w_out)
    track = LegTrack(p_ankle, rot.make_continuous(q_shank), rot.make_continuous(q_foot))
    landings = tuple(s.t_ic for s in stances if s.t_ic is not None)
    return GaitResult(track, landings, rise_start, lower_end)


def _plan_stances(ctx: Context, fp0: Footprint, strides: list[Stride], mode: GaitMode,
                  rng: np.random.Generator, *, lead_s: float,
                  toe_level_deg: float) -> list[_Stance]:
    """Times and angles of every stance: the starting one, then one per stride."""
    style = ctx.style
    stances = [_Stance(fp0, None, 0.0)]
    t_ho = lead_s
    prev_ic: float | None = None
    for stride in strides:
        prev = stances[-1]
        period = stride.duration_s
        f_ho, f_min = _push_fractions(mode, rng)
        if prev_ic is None:
            prev.t_ho = t_ho
            t_virtual_ic = t_ho - f_ho * period
            prev.t_min = t_virtual_ic + f_min * period
            t_ic = t_virtual_ic + period
        else:
            prev.t_ho = prev_ic + f_ho * period
            prev.t_min = prev_ic + f_min * period
            t_ic = prev_ic + period
        prev.via_frac, prev.via_clearance_m, prev.via_rate_m_s = _via(mode, rng)
        prev.zvia_frac = prev.via_frac - (0.1 if mode == "walk" else 0.0)
        push_deg = _push_deg(mode, style.push_off_deg, rng) * stride.scale
        prev.set_push(prev.pitch_settle - push_deg * _D)
        nxt = _landing(ctx, stride, mode, t_ic, rng, toe_level_deg=toe_level_deg)
        if nxt.t_settle >= t_ic + 0.6 * period:
            nxt.t_settle = t_ic + 0.3 * period
        stances.append(nxt)
        prev_ic = t_ic
    return stances


def _push_fractions(mode: GaitMode, rng: np.random.Generator) -> tuple[float, float]:
    """Heel-off and end of push-off (pitch minimum) as fractions of the stride."""
    if mode == "walk":
        return _u(rng, 0.46, 0.52), _u(rng, 0.66, 0.70)
    if mode == "toe":
        return _u(rng, 0.36, 0.44), _u(rng, 0.62, 0.67)
    # on stairs the foot keeps plantarflexing after toe-off (the heel rising over the step
    # edge) and turns to the landing late and fast (gaitmap stairs recordings)
    if mode == "up":
        return _u(rng, 0.50, 0.56), _u(rng, 0.72, 0.77)
    return _u(rng, 0.40, 0.48), _u(rng, 0.70, 0.75)


def _via(mode: GaitMode, rng: np.random.Generator) -> tuple[float, float, float]:
    """Late-swing via point: fraction of the swing, clearance of the lowest sole point (m),
    vertical rate there (m/s)."""
    if mode == "walk":
        return _u(rng, 0.68, 0.76), _u(rng, 0.012, 0.025), -_u(rng, 0.0, 0.4)
    if mode == "toe":
        return _u(rng, 0.55, 0.65), _u(rng, 0.015, 0.03), -_u(rng, 0.1, 0.3)
    if mode == "up":
        return _u(rng, 0.55, 0.65), _u(rng, 0.03, 0.05), _u(rng, 0.0, 0.2)
    return _u(rng, 0.5, 0.6), _u(rng, 0.03, 0.05), -_u(rng, 0.5, 0.9)


def _push_deg(mode: GaitMode, push_off_deg: float, rng: np.random.Generator) -> float:
    if mode == "walk":
        return push_off_deg * _u(rng, 0.94, 1.06)
    if mode == "toe":
        return _u(rng, 26.0, 40.0)
    if mode == "up":
        return _u(rng, 42.0, 55.0)
    return _u(rng, 48.0, 62.0)


def _landing(ctx: Context, stride: Stride, mode: GaitMode, t_ic: float,
             rng: np.random.Generator, *, toe_level_deg: float) -> _Stance:
    style = ctx.style
    fp = stride.target
    sc = stride.scale
    if mode == "walk":
        pitch_ic = style.heel_strike_deg * _u(rng, 0.9, 1.1) * (0.55 + 0.45 * sc)
        s = _Stance(fp, t_ic, t_ic + _u(rng, 0.10, 0.14), landing="heel", pitch_ic=pitch_ic * _D,
                    roll_ic=_u(rng, 7.0, 14.0) * _D * sc, roll_settle=-_u(rng, 1.0, 3.0) * _D,
                    v_ic=_heading_frame(fp.path_yaw, _u(rng, 0.7, 1.3) * sc, 0.0,
                                        -_u(rng, 0.15, 0.35) * sc),
                    a_ic=_heading_frame(fp.path_yaw, -_u(rng, 2.0, 8.0), 0.0, _u(rng, 0.0, 4.0)),
                    tau_s=_u(rng, 0.003, 0.006), scale=sc)
    elif mode == "toe":
        level = toe_level_deg + _u(rng, -3.0, 3.0)
        give = _u(rng, 2.0, 6.0)
        s = _Stance(fp, t_ic, t_ic + _u(rng, 0.08, 0.12), landing="ball",
                    pitch_ic=-level * _D, pitch_settle=-(level - give) * _D,
                    roll_ic=_u(rng, 2.0, 6.0) * _D, roll_settle=_u(rng, 1.0, 4.0) * _D,
                    v_ic=_heading_frame(fp.path_yaw, _u(rng, 0.1, 0.3), 0.0, -_u(rng, 0.15, 0.35)),
                    a_ic=_heading_frame(fp.path_yaw, -_u(rng, 1.0, 4.0), 0.0, _u(rng, 0.0, 3.0)),
                    tau_s=_u(rng, 0.008, 0.014), scale=sc)
    elif mode == "up":
        s = _Stance(fp, t_ic, t_ic + _u(rng, 0.06, 0.10), landing="ball",
                    pitch_ic=-_u(rng, 0.0, 6.0) * _D, roll_ic=_u(rng, 1.0, 5.0) * _D,
                    v_ic=_heading_frame(fp.path_yaw, _u(rng, 0.1, 0.3), 0.0, -_u(rng, 0.1, 0.3)),
                    a_ic=_heading_frame(fp.path_yaw, -_u(rng, 1.0, 4.0), 0.0, _u(rng, 0.0, 3.0)),
                    tau_s=_u(rng, 0.005, 0.010), scale=sc)
    else:
        s = _Stance(fp, t_ic, t_ic + _u(rng, 0.12, 0.20), landing="ball",
                    pitch_ic=-_u(rng, 12.0, 25.0) * _D, roll_ic=_u(rng, 1.0, 5.0) * _D,
                    v_ic=_heading_frame(fp.path_yaw, _u(rng, 0.1, 0.3), 0.0, -_u(rng, 0.3, 0.55)),
                    a_ic=_heading_frame(fp.path_yaw, -_u(rng, 1.0, 4.0), 0.0, _u(rng, 0.0, 3.0)),
                    tau_s=_u(rng, 0.006, 0.010), scale=sc)
    return s


def _orientation_keys(b: _Builder, stances: list[_Stance], mode: GaitMode,
                      rng: np.random.Generator, rise_start: float) -> None:
    """Pitch, roll and heading keyframes for the whole bout."""
    first = stances[0]
    b.add("pitch", 0.0, first.pitch_settle, 0.0)
    b.add("roll", 0.0, first.roll_settle, 0.0)
    b.add("yaw", 0.0, first.fp.yaw, 0.0)
    if mode == "toe":
        # rise onto the balls of the feet before the first push-off
        level = stances[1].pitch_settle if len(stances) > 1 else -20.0 * _D
        push = first.pitch_min - first.pitch_settle
        b.add("pitch", rise_start, first.pitch_settle, 0.0)
        first.pitch_settle = level
        rise_end = rise_start + _u(rng, 0.5, 0.8)
        b.add("pitch", rise_end, level, 0.0)
        b.add("roll", rise_end, 2.0 * _D, 0.0)
        # the first push now starts from the toe level
        first.set_push(level + push)
        first.roll_settle = 2.0 * _D
    for k, st in enumerate(stances):
        if st.t_ic is not None:
            # landing and settling (loading response)
            d = st.t_settle - st.t_ic
            dp = st.pitch_ic - st.pitch_settle
            b.add("pitch", st.t_ic, st.pitch_ic, 0.0, -(np.pi**2 / 2.0) * dp / d**2)
            b.add("pitch", st.t_ic + 0.5 * d, st.pitch_settle + 0.5 * dp, -(np.pi / 2.0) * dp / d)
            b.add("pitch", st.t_settle, st.pitch_settle, 0.0)
            b.add("roll", st.t_ic, st.roll_ic)
            b.add("roll", st.t_settle, st.roll_settle, 0.0)
            b.add("yaw", st.t_ic, st.fp.yaw + 0.3 * stances[k - 1].twist)
            b.add("yaw", st.t_settle, st.fp.yaw, 0.0)
        if st.t_ho is None or st.t_to is None or st.t_min is None:
            continue
        if mode == "toe" and st.t_ic is not None and st.t_ho - st.t_settle > 0.12:
            # balancing on the forefoot: the heel sinks and rises a little, the foot wobbles
            t_mid = 0.5 * (st.t_settle + st.t_ho)
            b.add("pitch", t_mid, st.pitch_settle + _u(rng, 0.5, 2.5) * _D, None)
            b.add("roll", t_mid, st.roll_settle + _u(rng, -1.5, 1.5) * _D, None)
            b.add("yaw", t_mid, st.fp.yaw + _u(rng, -1.0, 1.0) * _D, None)
        # heel-off, peak push, toe-off, end of push-off; the foot twists about its vertical
        # axis as the heel leaves the ground (toes outward), most of it at the end
        fall = st.t_min - st.t_fall
        b.add("pitch", st.t_ho, st.pitch_settle, 0.0)
        b.add("pitch", st.t_peak, st.pitch_peak, st.push_rate)
        b.add("pitch", st.t_fall, st.pitch_fall, st.push_rate, -0.5 * st.push_rate / fall)
        b.add("pitch", st.t_min, st.pitch_min, 0.0, -0.8 * st.push_rate / fall)
        # As the heel rises the foot rolls onto its medial forefoot (eversion) and twists
        # toes-out, fastest at toe-off; both unwind through swing (gaitmap_walk: about -28 deg
        # roll and -15 deg heading at toe-off, +10 deg roll at heel strike).
        roll_deg = {"walk": (20.0, 32.0), "toe": (8.0, 16.0)}.get(mode, (5.0, 12.0))
        st.roll_push = -_u(rng, *roll_deg) * _D * st.scale
        b.add("roll", st.t_ho, st.roll_settle, 0.0)
        b.add("roll", st.t_peak, st.roll_settle + 0.1 * (st.roll_push - st.roll_settle))
        b.add("roll", st.t_fall, st.roll_settle + 0.3 * (st.roll_push - st.roll_settle))
        b.add("roll", st.t_min, st.roll_push, 0.0)
        st.twist = -_u(rng, 10.0, 18.0) * _D * st.scale if mode in ("walk", "toe") else (
            -_u(rng, 2.0, 6.0) * _D * st.scale)
        b.add("yaw", st.t_ho, st.fp.yaw, 0.0)
        b.add("yaw", st.t_peak, st.fp.yaw + 0.2 * st.twist)
        b.add("yaw", st.t_fall, st.fp.yaw + 0.4 * st.twist)
        b.add("yaw", st.t_min, st.fp.yaw + 0.9 * st.twist)
        nxt = stances[k + 1]
        assert nxt.t_ic is not None
        span = nxt.t_ic - st.t_min
        if mode == "toe":
            # on tiptoe the ankle dorsiflexes in swing for toe clearance while the shank swings
            # forward (a quick toes-up turn), then plantarflexes again to land on the forefoot
            # as the knee's extension, and with it the shank's swing, ends at contact: the
            # foot's pitch levels off just before the landing
            t_pk = st.t_min + _u(rng, 0.86, 0.94) * span
            b.add("pitch", t_pk, nxt.pitch_ic + _u(rng, 0.0, 2.0) * _D, 0.0)
        else:
            # swing: the pitch reverses and peaks in rate near mid-swing
            t_pk = st.t_min + _u(rng, 0.42, 0.55) * span
            frac = (t_pk - st.t_min) / span
            # (on stairs the swing turn is quicker and more peaked: gaitmap stairs recordings)
            peaked = (1.15, 1.35) if mode == "walk" else (1.4, 1.7)
            rate_pk = _u(rng, *peaked) * (nxt.pitch_ic - st.pitch_min) / span
            b.add("pitch", t_pk, st.pitch_min + frac * (nxt.pitch_ic - st.pitch_min), rate_pk)
        t_early = st.t_min + 0.22 * span
        b.add("roll", t_early, 0.85 * st.roll_push)
        b.add("yaw", t_early, 0.5 * (st.fp.yaw + nxt.fp.yaw) + 0.6 * st.twist)
        t_mid = st.t_min + 0.47 * span
        b.add("roll", t_mid, 0.6 * st.roll_push)
        b.add("roll", st.t_min + 0.78 * span, 0.05 * st.roll_push)


def _positions(ctx: Context, b: _Builder, stances: list[_Stance], *, t: FloatArray,
               q_foot: FloatArray, ground: Ground) -> FloatArray:
    """Ankle positions (n, 3): pivoting about the contact point in stance, quintics in swing."""
    body = ctx.body
    points = {"heel": body.heel, "ball": body.ball}
    out = np.empty((t.size, 3))

    def q_at(times: FloatArray) -> FloatArray:
        return foot_quat(b.eval("yaw", times), b.eval("pitch", times), b.eval("roll", times))

    def planned_contact(st: _Stance) -> FloatArray:
        """The landing's contact point: on the floor where the flat foot would put it."""
        fp = st.fp
        flat_ankle = np.array([fp.x, fp.y, fp.z + body.ankle_height_m])
        return flat_ankle + rot.rotate(foot_quat(fp.yaw, 0.0, 0.0), points[st.landing])

    # Where the ball of the foot rests for each stance's push-off (after any impact settling).
    ball_w: list[FloatArray] = []
    for st in stances:
        if st.t_ic is None:
            fp = st.fp
            p_ankle0 = np.array([fp.x, fp.y, fp.z + body.ankle_height_m])
            ball_w.append(p_ankle0 + rot.rotate(q_at(np.array([0.0]))[0], body.ball))
            continue
        assert st.v_ic is not None
        p_final = planned_contact(st) + st.v_ic * st.tau_s
        q_set = foot_quat(st.fp.yaw, st.pitch_settle, st.roll_settle)
        ankle_settled = p_final - rot.rotate(q_set, points[st.landing])
        ball_w.append(ankle_settled + rot.rotate(q_set, body.ball))

    for k, st in enumerate(stances):
        t_end = st.t_to if st.t_to is not None else np.inf
        if st.t_ic is None:
            sel = t <= t_end
            out[sel] = ball_w[0] - rot.rotate(q_foot[sel], body.ball)
        else:
            assert st.v_ic is not None
            sel = (t > st.t_ic) & (t <= t_end)
            # on the landing point, stopped by the impact within a few tau
            on_landing = sel & (t <= st.t_settle) if st.landing == "heel" else sel
            tm = t[on_landing]
            stop = (1.0 - np.exp(-(tm - st.t_ic) / st.tau_s))[:, None]
            pivot = planned_contact(st) + st.v_ic * st.tau_s * stop
            out[on_landing] = pivot - rot.rotate(q_foot[on_landing], points[st.landing])
            # after a heel strike and foot flat, the foot rolls over the ball
            on_ball = sel & ~on_landing
            out[on_ball] = ball_w[k] - rot.rotate(q_foot[on_ball], body.ball)
        if st.t_to is None:
            continue
        # swing to the next stance: match position, velocity and acceleration at both ends
        nxt = stances[k + 1]
        assert nxt.t_ic is not None
        assert nxt.v_ic is not None
        assert nxt.a_ic is not None
        h = 1e-3
        offsets = h * np.arange(-1, 2, dtype=np.float64)
        p_to = ball_w[k] - rot.rotate(q_at(st.t_to + offsets), body.ball)
        x0 = p_to[1]
        v0 = (p_to[2] - p_to[0]) / (2 * h)
        a0 = (p_to[2] - 2 * p_to[1] + p_to[0]) / (h * h)
        rr = rot.rotate(q_at(nxt.t_ic + offsets), points[nxt.landing])
        x1 = planned_contact(nxt) - rr[1]
        v1 = nxt.v_ic - (rr[2] - rr[0]) / (2 * h)
        a1 = nxt.a_ic - (rr[2] - 2 * rr[1] + rr[0]) / (h * h)
        sw = (t > st.t_to) & (t <= nxt.t_ic)
        ts = t[sw]
        path = hermite_eval(np.array([st.t_to, nxt.t_ic]), np.stack((x0, x1)),
                            np.stack((v0, v1)), np.stack((a0, a1)), ts)
        # The shank swings the foot forward fastest late in swing, then knee extension is
        # braked hard before the landing: a via point at ``via_frac`` carries the peak forward
        # speed (trapezoid rule for where it is), and the height through the same via point
        # has the foot skim the floor (lowest sole point 1-2.5 cm up) before it drops onto
        # the heel, as real feet do.
        t0, t1 = st.t_to, nxt.t_ic
        t_via = t0 + st.via_frac * (t1 - t0)
        chord = x1[:2] - x0[:2]
        u = chord / max(float(np.linalg.norm(chord)), 1e-9)
        dist = float(chord @ u)
        va, vb = float(v0[:2] @ u), float(v1[:2] @ u)
        v_pk = (2.0 * dist - va * (t_via - t0) - vb * (t1 - t_via)) / (t1 - t0)
        mid = hermite_eval(np.array([t0, t1]), np.stack((x0, x1)), np.stack((v0, v1)),
                           np.stack((a0, a1)), np.array([t_via - 1e-3, t_via, t_via + 1e-3]))
        xy_via = mid[1].copy()
        xy_via[:2] += u * (0.5 * (va + v_pk) * (t_via - t0) - float((mid[1, :2] - x0[:2]) @ u))
        vxy_via = (mid[2] - mid[0]) / 2e-3
        vxy_via[:2] += u * (v_pk - float(vxy_via[:2] @ u))
        path[:, :2] = hermite_eval(
            np.array([t0, t_via, t1]), np.stack((x0[:2], xy_via[:2], x1[:2])),
            np.stack((v0[:2], vxy_via[:2], v1[:2])),
            np.stack((a0[:2], np.zeros(2), a1[:2])), ts)
        t_zvia = t0 + st.zvia_frac * (t1 - t0)
        q_via = q_at(np.array([t_zvia]))[0]
        xy_zvia = hermite_eval(np.array([t0, t_via, t1]), np.stack((x0[:2], xy_via[:2], x1[:2])),
                               np.stack((v0[:2], vxy_via[:2], v1[:2])),
                               np.stack((a0[:2], np.zeros(2), a1[:2])), np.array([t_zvia]))[0]
        sole = np.stack([rot.rotate(q_via, pt) for pt in (body.heel, body.ball, body.toe)])
        floor = float(np.max(ground.height(xy_zvia + sole[:, :2])))
        z_via = floor + st.via_clearance_m - float(sole[:, 2].min())
        path[:, 2] = hermite_eval(
            np.array([st.t_to, t_zvia, nxt.t_ic]), np.array([x0[2], z_via, x1[2]]),
            np.array([v0[2], st.via_rate_m_s, v1[2]]), np.array([a0[2], 0.0, a1[2]]), ts)
        path[:, 2] += _clearance_lift(ctx, path, q_foot[sw], ts, span=(st.t_to, nxt.t_ic),
                                      ground=ground)
        out[sw] = path
    return out


def _clearance_lift(ctx: Context, path: FloatArray, q: FloatArray, ts: FloatArray, *,
                    span: tuple[float, float], ground: Ground) -> FloatArray:
    """A bump added to the swing's height so heel, ball and toes clear the floor (m)."""
    body = ctx.body
    t0, t1 = span
    s = (ts - t0) / (t1 - t0)
    shape = bump(s)
    need = 0.0
    # The toes are not rigid: near toe-off and landing they bend at the ball, so the toe tip is
    # only held clear in mid-swing.
    checks = ((body.heel, 0.012, 0.3), (body.ball, 0.012, 0.3), (body.toe, 0.008, 0.7))
    for point, margin, min_shape in checks:
        inner = shape > min_shape
        if not inner.any():
            continue
        pw = path[inner] + rot.rotate(q[inner], point)
        clearance = pw[:, 2] - ground.height(pw[:, :2])
        need = max(need, float(((margin - clearance) / shape[inner]).max()))
    if need <= 0.0:
        return np.zeros(ts.size)
    return np.asarray(need * shape)


#: Shank forward lean (deg, knee ahead of the ankle) through the gait cycle: at foot-flat (or
#: settling), mid-stance, heel-off, toe-off and at 21%, 47% and 74% of the swing (the landing
#: value follows from the foot's pitch). Heel-to-toe values from the gait literature (tibia
#: about 20 deg reclined at heel strike, 45-50 deg inclined in early swing).
_LEAN: Final = {
    "walk": (-8.0, 5.0, 12.0, 35.0, 46.0, 25.0, -10.0),
    "toe": (0.0, 8.0, 12.0, 28.0, 38.0, 20.0, -5.0),
    "up": (25.0, 10.0, 5.0, 30.0, 55.0, 50.0, 35.0),
    "down": (5.0, 20.0, 30.0, 35.0, 40.0, 20.0, 0.0),
}
_LEAN_IC: Final = {"walk": None, "toe": -5.0, "up": 28.0, "down": -5.0}


def _shank_keys(b: _Builder, stances: list[_Stance], mode: GaitMode, rng: np.random.Generator,
                *, pitch: FloatArray, t: FloatArray) -> None:
    """Shank lean keyframes (rad): forward lean ``beta`` (knee ahead of the ankle) and lateral
    ``gamma``, a smooth cycle per stride (``_LEAN``); at heel strike the lean follows from the
    foot's pitch and a nearly neutral ankle (beta = -pitch - plantarflexion)."""
    flat, mid, ho, to, sw1, sw2, sw3 = _LEAN[mode]
    b.add("beta", 0.0, 2.0 * _D, 0.0)
    b.add("gamma", 0.0, 1.0 * _D, 0.0)

    def jitter() -> float:
        return _u(rng, -3.0, 3.0)

    for k, st in enumerate(stances):
        if st.t_ic is not None:
            ic = _LEAN_IC[mode]
            beta_ic = (-float(np.interp(st.t_ic, t, pitch)) / _D - _u(rng, 0.0, 3.0)
                       if ic is None else ic + jitter())
            b.add("beta", st.t_ic, beta_ic * _D)
            b.add("beta", st.t_settle, (flat + jitter()) * _D)
            b.add("gamma", st.t_ic, -2.0 * _D * st.scale)
            b.add("gamma", st.t_settle, 1.5 * _D * st.scale)
        if st.t_ho is None or st.t_to is None or st.t_min is None:
            continue
        nxt = stances[k + 1]
        assert nxt.t_ic is not None
        if st.t_ic is not None and st.t_ho - st.t_settle > 0.1:
            b.add("beta", 0.5 * (st.t_settle + st.t_ho), (mid + jitter()) * _D)
        b.add("beta", st.t_ho, (ho + jitter()) * _D)
        b.add("beta", st.t_to, (to + jitter()) * _D)
        swing = nxt.t_ic - st.t_to
        for frac, lean in ((0.21, sw1), (0.47, sw2), (0.74, sw3)):
            b.add("beta", st.t_to + frac * swing, (lean + jitter()) * _D)
        b.add("gamma", st.t_to, 0.0)
        b.add("gamma", st.t_to + 0.47 * swing, -1.0 * _D * st.scale)
