"""What the virtual wearable feels: motion as a function of time, sampled at any rate.

A wearable samples the physical world at its own rate; the world does not care about that rate.
So a ``MotionSource`` is continuous in time (linear interpolation between the source's samples)
and the wearable asks it for the instants of its own samples. Sources loop: a 39 s walk can feed
an hour-long stream. Units are SI (CONTRACTS.md section 1).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from sensord.errors import InputError
from sensord.model import FloatArray, ImuBlock
from sensord.recording import read_recording

G_M_S2: Final = 9.80665
#: The simulated routine is synthesised at this rate (Hz), above every profile's 100 Hz rate.
ROUTINE_RATE_HZ: Final = 200.0


@dataclass(frozen=True, slots=True)
class MotionSource:
    """Motion given as samples; ``sample(t_s)`` interpolates them (looping past the end).

    ``t_s`` (n,) are seconds from the source's start, ``acc_m_s2`` and ``gyro_rad_s`` (n, 3).
    ``period_s`` is the loop length: the source's span plus one sample interval, so the loop
    joins without a repeated instant.
    """

    name: str
    t_s: FloatArray
    acc_m_s2: FloatArray
    gyro_rad_s: FloatArray
    period_s: float
    #: Interpolation table: the sample times plus the loop's end, and the six channels with the
    #: first sample repeated there (built once; the wearable samples per packet).
    _knots_s: FloatArray = field(init=False, repr=False, compare=False)
    _table: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        channels = np.hstack((self.acc_m_s2, self.gyro_rad_s))
        object.__setattr__(self, "_knots_s", np.append(self.t_s, self.period_s))
        object.__setattr__(self, "_table", np.vstack((channels, channels[:1])))

    @classmethod
    def from_block(cls, name: str, block: ImuBlock) -> MotionSource:
        """A source from a block of at least two samples with increasing times."""
        if len(block) < 2:
            raise InputError(f"motion {name!r} needs at least two samples, has {len(block)}")
        # Recordings may repeat a time stamp; interpolation needs strictly increasing times.
        keep = np.concatenate(([True], np.diff(block.t_s) > 0))
        t = block.t_s[keep] - block.t_s[0]
        if t.shape[0] < 2:
            raise InputError(f"motion {name!r} needs at least two distinct sample times")
        period = float(t[-1] + np.median(np.diff(t)))
        return cls(name, t, block.acc_m_s2[keep].copy(), block.gyro_rad_s[keep].copy(), period)

    @classmethod
    def from_recording(cls, path: str | os.PathLike[str]) -> MotionSource:
        """Motion from a recording file (CONTRACTS.md section 2)."""
        recording = read_recording(path, lenient=True)
        return cls.from_block(os.fspath(path), recording.block)

    @classmethod
    def ankle_pumps(cls, duration_s: float = 20.0, rate_hz: float = 200.0) -> MotionSource:
        """A built-in motion needing no file: seated, foot flat, pumping the ankle (a slow
        plantar/dorsiflexion of +-20 degrees at 0.25 Hz) with a still second at each end of the
        loop. Accelerometer and gyroscope agree (gravity rotated by the pitch angle)."""
        t = np.arange(0.0, duration_s, 1.0 / rate_hz)
        active = (t > 1.0) & (t < duration_s - 1.0)
        phase = 2.0 * math.pi * 0.25 * (t - 1.0)
        amplitude = math.radians(20.0)
        pitch = np.where(active, amplitude * np.sin(phase), 0.0)
        pitch_rate = np.where(active, amplitude * 2.0 * math.pi * 0.25 * np.cos(phase), 0.0)
        acc = np.column_stack(
            (-G_M_S2 * np.sin(pitch), np.zeros_like(t), G_M_S2 * np.cos(pitch))
        )
        gyro = np.column_stack((np.zeros_like(t), pitch_rate, np.zeros_like(t)))
        return cls.from_block("ankle-pumps", ImuBlock.from_arrays(t, acc, gyro))

    def sample(self, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Accelerometer and gyroscope (each (n, 3)) at the instants ``t_s`` (n,), looping.

        Linear interpolation of all six channels with one search (numpy's periodic ``interp``
        sorts the source on every call, which the wearable cannot afford per packet).
        """
        t = np.mod(np.asarray(t_s, dtype=np.float64), self.period_s)
        knots = self._knots_s
        values = self._table
        right = np.clip(np.searchsorted(knots, t, side="right"), 1, knots.shape[0] - 1)
        left = right - 1
        span = knots[right] - knots[left]
        weight = ((t - knots[left]) / span)[:, None]
        out = values[left] * (1.0 - weight) + values[right] * weight
        return np.ascontiguousarray(out[:, :3]), np.ascontiguousarray(out[:, 3:])

def load_motion(spec: str | None, *, side: str = "right", seed: int = 0) -> MotionSource:
    """The motion a ``--motion`` argument names: a recording file, ``routine`` (a simulated
    session of the exercise routine, ``side`` foot) or nothing (the built-in ankle pumps)."""
    if spec is None or spec == "ankle-pumps":
        return MotionSource.ankle_pumps()
    if spec == "routine":
        return routine_motion(side=side, seed=seed)
    return MotionSource.from_recording(spec)


def routine_motion(*, side: str = "right", seed: int = 0, rate_hz: float = ROUTINE_RATE_HZ,
                   ) -> MotionSource:
    """A simulated session of the default routine (``sensord.sim``), unquantised and without
    loss: the wearable's profile quantises and the link loses, as on a real device. Sampled at
    ``rate_hz`` so that any device rate up to about that interpolates faithfully."""
    from sensord import sim  # noqa: PLC0415 - the simulator is only needed here

    if side not in ("left", "right"):
        raise InputError(f"side must be left or right, not {side!r}")
    spec = sim.SimSpec(side=side, rate_hz=rate_hz, seed=seed, quantize=False)  # type: ignore[arg-type]
    return MotionSource.from_block("routine", sim.simulate(spec).block)
