"""The sensor's errors: what turns ideal specific force and rate into a MEMS IMU's output.

Model (per axis, drawn once per session unless said otherwise):

- gyro bias 0.5-2 deg/s with random sign, plus a warm-up drift (up to 0.3 deg/s settling over a
  few minutes) and a random walk (bias instability) of 0.004 deg/s/sqrt(s);
- accelerometer bias up to about 0.15 m/s^2 (15 mg);
- scale errors (about 1% accelerometer, 1.5% gyro) and cross-axis coupling (about 0.3%);
- white noise at densities typical of consumer IMUs measured still on a foot (the gaitmap
  recordings show about 0.15-0.3 deg/s and 0.03 m/s^2 RMS at 204.8 Hz): 0.014 deg/s/sqrt(Hz)
  and 220 ug/sqrt(Hz), scaled by the output bandwidth (half the rate);
- range saturation at +-16 g and +-2000 deg/s, and optionally int16 quantisation over those
  ranges (0.0048 m/s^2 and 0.061 deg/s per count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from sensord.model import FloatArray
from sensord.sim.imu import GRAVITY_M_S2

ACC_RANGE_M_S2: Final = 16.0 * GRAVITY_M_S2
GYRO_RANGE_RAD_S: Final = float(np.radians(2000.0))
ACC_LSB_M_S2: Final = ACC_RANGE_M_S2 / 32768.0
GYRO_LSB_RAD_S: Final = GYRO_RANGE_RAD_S / 32768.0
GYRO_DENSITY_RAD_S: Final = float(np.radians(0.014))  # per sqrt(Hz)
ACC_DENSITY_M_S2: Final = 220e-6 * GRAVITY_M_S2  # per sqrt(Hz)
GYRO_WALK_RAD_S: Final = float(np.radians(0.004))  # per sqrt(s)


@dataclass(frozen=True, slots=True)
class SensorErrors:
    """One session's sensor errors (SI units). ``gyro_bias_rad_s`` is the bias at t = 0."""

    gyro_bias_rad_s: tuple[float, float, float]
    acc_bias_m_s2: tuple[float, float, float]
    gyro_warmup_rad_s: tuple[float, float, float]
    warmup_tau_s: float
    gyro_scale: tuple[float, float, float]
    acc_scale: tuple[float, float, float]
    cross_axis: float
    gyro_noise_rad_s: float
    acc_noise_m_s2: float
    quantized: bool

    @classmethod
    def random(cls, rng: np.random.Generator, rate_hz: float, *, quantized: bool) -> SensorErrors:
        def trio(lo: float, hi: float, signed: bool = True) -> tuple[float, float, float]:
            mag = rng.uniform(lo, hi, size=3)
            sign = rng.choice((-1.0, 1.0), size=3) if signed else np.ones(3)
            return (float(mag[0] * sign[0]), float(mag[1] * sign[1]), float(mag[2] * sign[2]))

        bandwidth = np.sqrt(0.5 * rate_hz)
        return cls(
            gyro_bias_rad_s=trio(np.radians(0.5), np.radians(2.0)),
            acc_bias_m_s2=trio(0.0, 0.15),
            gyro_warmup_rad_s=trio(0.0, np.radians(0.3)),
            warmup_tau_s=float(rng.uniform(60.0, 300.0)),
            gyro_scale=trio(0.0, 0.015),
            acc_scale=trio(0.0, 0.01),
            cross_axis=float(rng.uniform(0.0, 0.003)),
            gyro_noise_rad_s=GYRO_DENSITY_RAD_S * bandwidth,
            acc_noise_m_s2=ACC_DENSITY_M_S2 * bandwidth,
            quantized=quantized,
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "gyro_bias_rad_s": [round(v, 6) for v in self.gyro_bias_rad_s],
            "gyro_bias_deg_s": [round(float(np.degrees(v)), 4) for v in self.gyro_bias_rad_s],
            "gyro_warmup_rad_s": [round(v, 6) for v in self.gyro_warmup_rad_s],
            "warmup_tau_s": round(self.warmup_tau_s, 1),
            "gyro_bias_walk_rad_s_sqrt_s": round(GYRO_WALK_RAD_S, 7),
            "acc_bias_m_s2": [round(v, 5) for v in self.acc_bias_m_s2],
            "gyro_scale_error": [round(v, 5) for v in self.gyro_scale],
            "acc_scale_error": [round(v, 5) for v in self.acc_scale],
            "cross_axis": round(self.cross_axis, 5),
            "gyro_noise_rad_s": round(self.gyro_noise_rad_s, 6),
            "acc_noise_m_s2": round(self.acc_noise_m_s2, 6),
            "acc_range_m_s2": round(ACC_RANGE_M_S2, 3),
            "gyro_range_rad_s": round(GYRO_RANGE_RAD_S, 4),
            "quantized": self.quantized,
        }


def _coupling(scale: tuple[float, float, float], cross: float,
              rng: np.random.Generator) -> FloatArray:
    m = np.diag(1.0 + np.array(scale))
    off = rng.uniform(-cross, cross, size=(3, 3))
    np.fill_diagonal(off, 0.0)
    return np.asarray(m + off)


def apply_errors(acc: FloatArray, gyro: FloatArray, t_s: FloatArray, errors: SensorErrors,
                 rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Measured (acc, gyro), each (n, 3), from ideal ones at sample times ``t_s`` (n,)."""
    n = t_s.shape[0]
    m_acc = _coupling(errors.acc_scale, errors.cross_axis, rng)
    m_gyro = _coupling(errors.gyro_scale, errors.cross_axis, rng)
    dt = float(t_s[1] - t_s[0]) if n > 1 else 0.01
    walk = np.cumsum(rng.normal(size=(n, 3)) * (GYRO_WALK_RAD_S * np.sqrt(dt)), axis=0)
    warm = np.array(errors.gyro_warmup_rad_s) * (1.0 - np.exp(-t_s / errors.warmup_tau_s))[:, None]
    gyro_bias = np.array(errors.gyro_bias_rad_s) + warm + walk
    out_acc = acc @ m_acc.T + np.array(errors.acc_bias_m_s2)
    out_gyro = gyro @ m_gyro.T + gyro_bias
    out_acc += rng.normal(size=(n, 3)) * errors.acc_noise_m_s2
    out_gyro += rng.normal(size=(n, 3)) * errors.gyro_noise_rad_s
    return finish(out_acc, out_gyro, quantized=errors.quantized)


def finish(acc: FloatArray, gyro: FloatArray, *, quantized: bool) -> tuple[FloatArray, FloatArray]:
    """Range saturation and, when ``quantized``, rounding to int16 counts."""
    if quantized:
        acc_counts = np.clip(np.round(acc / ACC_LSB_M_S2), -32768, 32767)
        gyro_counts = np.clip(np.round(gyro / GYRO_LSB_RAD_S), -32768, 32767)
        return acc_counts * ACC_LSB_M_S2, gyro_counts * GYRO_LSB_RAD_S
    return (np.clip(acc, -ACC_RANGE_M_S2, ACC_RANGE_M_S2),
            np.clip(gyro, -GYRO_RANGE_RAD_S, GYRO_RANGE_RAD_S))
