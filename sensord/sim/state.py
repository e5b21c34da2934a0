"""What every motion generator shares: the session context, the state between segments and the
chunk of motion plus truth a generator returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sensord.model import FloatArray, Side
from sensord.sim.body import Body, Joints, LegPose, LegTrack, foot_quat, shank_quat

Posture = Literal["standing", "seated", "lying"]
POSTURES: tuple[Posture, ...] = ("standing", "seated", "lying")


@dataclass(frozen=True, slots=True)
class Style:
    """One person's habits, drawn once per session: how they walk and exercise.

    Angles in degrees, times in seconds. Each exercise set draws its own values around these.
    """

    stride_s: float = 1.08
    stride_m: float = 1.33
    toe_out_deg: float = 7.0
    step_half_width_m: float = 0.09
    heel_strike_deg: float = 23.0
    push_off_deg: float = 64.0
    tempo: float = 1.0
    amplitude: float = 1.0
    tremor_hz: float = 9.0
    tremor_deg: float = 0.06
    sway_deg: float = 0.6
    hold_s: float = 5.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> Style:
        stride_s = float(rng.uniform(0.98, 1.2))
        speed = float(rng.uniform(1.05, 1.45))
        return cls(
            stride_s=stride_s,
            stride_m=speed * stride_s,
            toe_out_deg=float(rng.uniform(2.0, 12.0)),
            step_half_width_m=float(rng.uniform(0.07, 0.11)),
            heel_strike_deg=float(rng.uniform(19.0, 30.0)),
            push_off_deg=float(rng.uniform(56.0, 72.0)),
            tempo=float(rng.uniform(0.8, 1.25)),
            amplitude=float(rng.uniform(0.8, 1.2)),
            tremor_hz=float(rng.uniform(6.5, 11.5)),
            tremor_deg=float(rng.uniform(0.03, 0.09)),
            sway_deg=float(rng.uniform(0.3, 1.0)),
            hold_s=float(rng.uniform(4.3, 5.6)),
        )


@dataclass(frozen=True, slots=True)
class Context:
    """Session-wide facts a generator needs: who moves, the internal time step, which side."""

    body: Body
    style: Style
    dt_s: float
    side: Side = "right"

    def samples(self, duration_s: float) -> int:
        return max(1, round(duration_s / self.dt_s))

    def times(self, n: int) -> FloatArray:
        """Local times of a chunk's ``n`` samples: ``dt, 2 dt, ..., n dt`` (0 is the start pose)."""
        return np.arange(1, n + 1, dtype=np.float64) * self.dt_s


@dataclass(frozen=True, slots=True)
class State:
    """Where a segment leaves the person: the leg's pose, posture and position in the room.

    ``xy`` is the point between the feet (standing, seated) or the pelvis (lying) on the floor,
    ``heading_rad`` the direction the person faces, ``floor_z`` the floor height (after stairs).
    """

    pose: LegPose
    posture: Posture
    xy: tuple[float, float] = (0.0, 0.0)
    heading_rad: float = 0.0
    floor_z: float = 0.0
    pelvis_p: FloatArray | None = None
    pelvis_q: FloatArray | None = None
    joints: Joints | None = None

    def moved(self, pose: LegPose, joints: Joints | None = None) -> State:
        """The same situation with the leg in another pose (in ``joints`` if given, else in
        the joint configuration it was in)."""
        return State(pose, self.posture, self.xy, self.heading_rad, self.floor_z,
                     self.pelvis_p, self.pelvis_q, self.joints if joints is None else joints)


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A stretch of one activity (seconds); ``extra`` holds activity-specific facts."""

    activity: str
    t_start: float
    t_end: float
    exercise: str | None = None
    posture: str | None = None
    extra: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class SetRecord:
    """An exercise set (seconds). In a ``Truth``, ``key`` is the set's index in ``sets``."""

    exercise: str
    t_start: float
    t_end: float
    reps: int
    direction: str | None = None
    key: int = 0


@dataclass(frozen=True, slots=True)
class RepRecord:
    """One rep (seconds; see docs/simulator.md). In a ``Truth``, ``set_key`` is the index of
    its set in ``sets``."""

    exercise: str
    set_key: int
    t_start: float
    t_end: float
    direction: str | None = None
    hold_s: float | None = None
    hold_start: float | None = None
    hold_end: float | None = None
    size_deg: float | None = None
    steps: int | None = None
    amplitude_deg: float | None = None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """An initial contact of the instrumented foot at ``t`` (seconds)."""

    t: float
    exercise: str
    activity: str


@dataclass(slots=True)
class Chunk:
    """A generator's output: the leg's motion (times ``dt .. n dt`` after the start pose) and
    the truth about it, with times local to the chunk (0 = the start pose)."""

    track: LegTrack
    end: State
    segments: list[SegmentRecord] = field(default_factory=list)
    sets: list[SetRecord] = field(default_factory=list)
    reps: list[RepRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)


def standing_pose(ctx: Context, xy: tuple[float, float], heading: float, floor_z: float, *,
                  lean_fwd_deg: float = 2.0, lean_lat_deg: float = 1.0) -> LegPose:
    """The right foot flat beside the other, toes out a little, shank nearly upright."""
    body = ctx.body
    c, s = np.cos(heading), np.sin(heading)
    w = ctx.style.step_half_width_m
    p = np.array([xy[0] + s * w, xy[1] - c * w, floor_z + body.ankle_height_m])
    yaw = heading - np.radians(ctx.style.toe_out_deg)
    q_foot = foot_quat(yaw, 0.0, 0.0)
    q_shank = shank_quat(heading - 0.5 * np.radians(ctx.style.toe_out_deg),
                         np.radians(lean_fwd_deg), np.radians(lean_lat_deg))
    return LegPose(p, q_shank, q_foot)
