"""``simulate``: a script in, a recording and its ground truth out.

Pipeline: draw the person (body, habits) and the script's variation from the seed; run every
segment's generator from where the previous one left the leg (inserting posture changes); add
the person's tremor and sway; mirror for a left leg; put the sensor on the foot or shank with its
mounting offset and strap; derive ideal IMU samples; add the sensor's errors; drop packets.
Each stage draws from its own random stream, so the same seed gives the same session.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from sensord.errors import InputError
from sensord.model import PLACEMENTS, SIDES, FloatArray, ImuBlock, Placement, Side
from sensord.recording import RecordingMeta, write_recording
from sensord.sim import rotation as rot
from sensord.sim.activities import change_posture, generate
from sensord.sim.body import Body, LegTrack, mirror_track
from sensord.sim.loss import LossResult, drop_packets
from sensord.sim.postures import lying_state, seated_state
from sensord.sim.render import Strap, apply_layers, render
from sensord.sim.script import Script, builtin_script
from sensord.sim.sensor import SensorErrors, apply_errors, finish
from sensord.sim.state import (
    Chunk,
    Context,
    Posture,
    RepRecord,
    SegmentRecord,
    SetRecord,
    State,
    StepRecord,
    Style,
    standing_pose,
)
from sensord.sim.truth import Mounting, Truth

log = logging.getLogger(__name__)

DEVICE_NAME: Final = "sensord-sim"
INTERNAL_RATE_HZ: Final = 1000.0
MIN_RATE_HZ: Final = 25.0
MAX_RATE_HZ: Final = 400.0
_BASE_TIME: Final = dt.datetime(2025, 1, 6, 8, 0, tzinfo=dt.UTC)

# random streams, one per stage (spawn keys), so a change in one stage leaves the others alone
_S_SCRIPT, _S_PERSON, _S_START, _S_SEGMENT, _S_LAYERS, _S_MOUNT, _S_SENSOR, _S_LOSS = range(8)


@dataclass(frozen=True, slots=True)
class SimSpec:
    """What to simulate.

    ``routine`` is a built-in script name (``sensord.sim.SCRIPT_NAMES``) or a ``Script``.
    ``mounting_max_deg`` bounds the random mounting offset (uniform axis, angle uniform up to
    it); ``loss`` is the fraction of packets lost; ``noise=False`` gives the ideal sensor
    (no bias, noise, scale errors or quantisation; saturation still applies).
    ``packet_samples`` fixes the samples per radio packet (default: 5-20 drawn per session).
    """

    routine: str | Script = "default"
    side: Side = "right"
    placement: Placement = "instep"
    rate_hz: float = 100.0
    seed: int = 0
    mounting_max_deg: float = 25.0
    loss: float = 0.0
    noise: bool = True
    quantize: bool = True
    packet_samples: int | None = None
    started_at: str | None = None

    def validate(self) -> None:
        """Raises InputError naming the first bad field."""
        if self.side not in SIDES:
            raise InputError(f"side must be left or right, not {self.side!r}")
        if self.placement not in PLACEMENTS:
            raise InputError(f"placement must be instep or ankle, not {self.placement!r}")
        if not (math.isfinite(self.rate_hz) and MIN_RATE_HZ <= self.rate_hz <= MAX_RATE_HZ):
            raise InputError(f"rate must be between {MIN_RATE_HZ:g} and {MAX_RATE_HZ:g} Hz, "
                             f"not {self.rate_hz:g}")
        if not (math.isfinite(self.mounting_max_deg) and 0.0 <= self.mounting_max_deg <= 180.0):
            raise InputError(f"mounting offset must be 0-180 degrees, not "
                             f"{self.mounting_max_deg:g}")
        if not (math.isfinite(self.loss) and 0.0 <= self.loss <= 0.5):
            raise InputError(f"loss must be a fraction between 0 and 0.5, not {self.loss:g}")
        if self.seed < 0:
            raise InputError(f"seed must be >= 0, not {self.seed}")
        if self.packet_samples is not None and not 1 <= self.packet_samples <= 100:
            raise InputError("packet_samples must be 1-100")


@dataclass(frozen=True, slots=True)
class Trace:
    """The truth at every output sample, before packet loss (for tests, plots, diagnostics).

    ``acc_m_s2``/``gyro_rad_s`` (n, 3) are the ideal sensor's readings in the mounted sensor's
    axes; ``q_sensor`` (n, 4) its orientation, ``q_nominal`` the nominal frame's, ``q_foot``
    and ``q_shank`` (anatomical) the segments' (world Z up, w-x-y-z quaternions);
    ``p_sensor`` (n, 3) its position and ``p_ankle`` the ankle joint centre's (m); ``keep``
    (n,) which samples survived the link.
    """

    t_s: FloatArray
    acc_m_s2: FloatArray
    gyro_rad_s: FloatArray
    q_sensor: FloatArray
    q_nominal: FloatArray
    q_foot: FloatArray
    q_shank: FloatArray
    p_sensor: FloatArray
    p_ankle: FloatArray
    keep: np.ndarray


@dataclass(frozen=True, slots=True)
class Simulation:
    """A simulated session: the samples the wearable delivered, their metadata and the truth."""

    block: ImuBlock
    meta: RecordingMeta
    truth: Truth
    trace: Trace = field(repr=False)

    def write(self, csv_path: str | os.PathLike[str],
              truth_path: str | os.PathLike[str] | None = None) -> None:
        """Writes the recording (CONTRACTS.md section 2) and, if asked, the truth JSON."""
        write_recording(csv_path, self.block, self.meta)
        if truth_path is not None:
            self.truth.write(truth_path)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def upsampling(rate_hz: float) -> int:
    """Internal samples per output sample: the internal rate is about 1 kHz or more."""
    return max(1, math.ceil(INTERNAL_RATE_HZ / rate_hz - 1e-9))


def initial_state(ctx: Context, posture: Posture, rng: np.random.Generator) -> State:
    if posture == "seated":
        return seated_state(ctx, (0.0, 0.0), 0.0, 0.0, rng)
    if posture == "lying":
        return lying_state(ctx, (0.0, 0.0), 0.0, 0.0, rng)[0]
    return State(standing_pose(ctx, (0.0, 0.0), 0.0, 0.0), "standing")


@dataclass(slots=True)
class _Assembly:
    chunks: list[Chunk] = field(default_factory=list)
    segments: list[SegmentRecord] = field(default_factory=list)
    sets: list[SetRecord] = field(default_factory=list)
    reps: list[RepRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    samples: int = 1  # the start pose is sample 0

    def add(self, chunk: Chunk, dt_s: float, key_offset: int) -> None:
        """Appends a chunk, shifting its truth to the session clock (sample 0 at t = 0)."""
        t0 = (self.samples - 1) * dt_s
        self.chunks.append(chunk)
        self.samples += len(chunk.track)
        for s in chunk.segments:
            self.segments.append(SegmentRecord(s.activity, t0 + s.t_start, t0 + s.t_end,
                                               s.exercise, s.posture, s.extra))
        for st in chunk.sets:
            self.sets.append(SetRecord(st.exercise, t0 + st.t_start, t0 + st.t_end, st.reps,
                                       st.direction, st.key + key_offset))
        for r in chunk.reps:
            self.reps.append(RepRecord(
                r.exercise, r.set_key + key_offset, t0 + r.t_start, t0 + r.t_end, r.direction,
                r.hold_s, None if r.hold_start is None else t0 + r.hold_start,
                None if r.hold_end is None else t0 + r.hold_end, r.size_deg, r.steps,
                r.amplitude_deg))
        for p in chunk.steps:
            self.steps.append(StepRecord(t0 + p.t, p.exercise, p.activity))


def run_script(script: Script, ctx: Context, seed: int) -> tuple[LegTrack, _Assembly]:
    """Runs every segment's generator; returns the right leg's track and the truth records."""
    state = initial_state(ctx, script.initial_posture, _rng(seed, _S_START))
    asm = _Assembly()
    start = state.pose.hold(1)
    next_key = 0
    for i, seg in enumerate(script.segments):
        rng = _rng(seed, _S_SEGMENT, i)
        target = seg.required_posture
        if seg.activity == "transition":
            assert seg.posture is not None
            target = seg.posture
        if target is not None and target != state.posture:
            for chunk in change_posture(ctx, state, target, rng):
                asm.add(chunk, ctx.dt_s, 0)
                state = chunk.end
        if seg.activity == "transition":
            continue
        chunk = generate(ctx, state, seg, rng, 0)
        asm.add(chunk, ctx.dt_s, next_key)
        if chunk.sets:
            next_key += max(s.key for s in chunk.sets) + 1
        state = chunk.end
    track = LegTrack.concat([start, *(c.track for c in asm.chunks)])
    return track, asm


def _started_at(spec: SimSpec) -> str:
    if spec.started_at is not None:
        return spec.started_at
    when = _BASE_TIME + dt.timedelta(minutes=int(spec.seed) % (60 * 24 * 365))
    return when.isoformat()


def simulate(spec: SimSpec) -> Simulation:
    """Synthesises one session (deterministic for ``spec``)."""
    spec.validate()
    seed = int(spec.seed)
    if isinstance(spec.routine, Script):
        script = spec.routine
    else:
        script = builtin_script(spec.routine, _rng(seed, _S_SCRIPT))
    factor = upsampling(spec.rate_hz)
    dt_s = 1.0 / (spec.rate_hz * factor)
    person = _rng(seed, _S_PERSON)
    ctx = Context(Body.random(person), Style.random(person), dt_s, spec.side)
    track, asm = run_script(script, ctx, seed)
    track = apply_layers(track, dt_s, _rng(seed, _S_LAYERS), ctx.style.tremor_hz)
    if spec.side == "left":
        track = mirror_track(track)

    mount_rng = _rng(seed, _S_MOUNT)
    axis, angle = rot.random_rotation(mount_rng, math.radians(spec.mounting_max_deg))
    q_mount = rot.from_axis_angle(axis, angle)
    sensor_rng = _rng(seed, _S_SENSOR)
    strap = Strap.random(sensor_rng, spec.placement)
    ideal = render(track, ctx.body, spec.placement, dt_s=dt_s, factor=factor, q_mount=q_mount,
                   strap=strap)
    errors: SensorErrors | None = None
    if spec.noise:
        errors = SensorErrors.random(sensor_rng, spec.rate_hz, quantized=spec.quantize)
        acc, gyro = apply_errors(ideal.acc_m_s2, ideal.gyro_rad_s, ideal.t_s, errors, sensor_rng)
    else:
        acc, gyro = finish(ideal.acc_m_s2, ideal.gyro_rad_s, quantized=False)

    loss_rng = _rng(seed, _S_LOSS)
    packet = spec.packet_samples or int(loss_rng.integers(5, 21))
    lost = drop_packets(ideal.t_s.size, spec.loss, packet, loss_rng)
    keep = lost.keep
    block = ImuBlock.from_arrays(ideal.t_s[keep], acc[keep], gyro[keep])
    meta = RecordingMeta(placement=spec.placement, side=spec.side, rate_hz=spec.rate_hz,
                         device=DEVICE_NAME, started_at=_started_at(spec))
    duration = float(ideal.t_s[-1]) if ideal.t_s.size else 0.0
    truth = _truth(spec, script, ctx, asm, duration_s=duration, axis=axis, angle=angle,
                   errors=errors, lost=lost, strap=strap)
    log.debug("simulated %s (seed %d, %s %s, %g Hz): %.1f s, %d samples, %d lost, %d sets",
              script.name, seed, spec.side, spec.placement, spec.rate_hz, duration, len(block),
              lost.lost_samples, len(truth.sets))
    trace = Trace(ideal.t_s, ideal.acc_m_s2, ideal.gyro_rad_s, ideal.q_sensor, ideal.q_nominal,
                  ideal.q_foot, ideal.q_shank, ideal.p_sensor, ideal.p_ankle, keep)
    return Simulation(block, meta, truth, trace)


def _truth(spec: SimSpec, script: Script, ctx: Context, asm: _Assembly, *, duration_s: float,
           axis: FloatArray, angle: float, errors: SensorErrors | None, lost: LossResult,
           strap: Strap) -> Truth:
    matrix = rot.to_matrix(rot.from_axis_angle(axis, angle))
    loss_extra = {"packet_samples": lost.packet_samples, "packets": lost.packets,
                  "lost_packets": lost.lost_packets}
    # order the sets in time and renumber their keys to their indices in that order
    ordered = sorted(asm.sets, key=lambda s: s.t_start)
    index = {s.key: i for i, s in enumerate(ordered)}
    sets = [SetRecord(s.exercise, s.t_start, s.t_end, s.reps, s.direction, index[s.key])
            for s in ordered]
    reps = [RepRecord(r.exercise, index[r.set_key], r.t_start, r.t_end, r.direction, r.hold_s,
                      r.hold_start, r.hold_end, r.size_deg, r.steps, r.amplitude_deg)
            for r in asm.reps]
    body = ctx.body
    extra: dict[str, Any] = {
        "loss": loss_extra,
        "device": DEVICE_NAME,
        "started_at": _started_at(spec),
        "internal_rate_hz": round(spec.rate_hz * upsampling(spec.rate_hz), 3),
        "subject": {
            "height_m": round(body.height_m, 3),
            "sensor_offset_m": [round(v, 4) for v in (
                body.instep_offset_m if spec.placement == "instep" else body.ankle_offset_m)],
            "heel_m": [round(float(v), 4) for v in body.heel],
            "ball_m": [round(float(v), 4) for v in body.ball],
            "strap_hz": round(strap.natural_hz, 2),
            "strap_damping": round(strap.damping, 3),
            "stride_s": round(ctx.style.stride_s, 3),
            "stride_m": round(ctx.style.stride_m, 3),
            "tremor_hz": round(ctx.style.tremor_hz, 2),
        },
    }
    return Truth(
        routine=script.name, seed=int(spec.seed), side=spec.side, placement=spec.placement,
        rate_hz=float(spec.rate_hz), duration_s=duration_s,
        mounting=Mounting(
            axis=(float(axis[0]), float(axis[1]), float(axis[2])),
            angle_deg=math.degrees(angle),
            matrix=tuple((float(r[0]), float(r[1]), float(r[2])) for r in matrix)),
        sensor=None if errors is None else errors.to_json_dict(),
        loss_fraction=float(spec.loss), lost_samples=lost.lost_samples,
        segments=tuple(asm.segments), sets=tuple(sets), reps=tuple(reps),
        steps=tuple(asm.steps), extra=extra,
    )
