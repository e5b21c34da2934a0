"""From a sensor's pose over time to what an ideal IMU reads.

Physics (CONTRACTS.md section 1): world Z up, gravity along -Z. With ``R_ws`` the sensor's
orientation and ``p`` its position, the accelerometer reads specific force
``f_s = R_ws^T (p'' + g Z)`` (at rest: +9.81 along the axis that points up) and the gyroscope the
body rate ``w_s`` with ``[w_s]x = R_ws^T dR_ws/dt`` (rad/s, right-handed about the sensor axes).

The pose is given at a high internal rate (``dt_s``, about 1 ms). Rates come from quaternion
differences between neighbouring samples (exact for the rotation between them), accelerations from
second differences of position. The output samples are averages over one output period centred on
the sample time, which is what an integrating MEMS sensor with its digital low-pass filter
delivers, and keeps the signals aligned with the truth's times (no filter delay).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sensord.model import FloatArray
from sensord.sim import rotation as rot

GRAVITY_M_S2: Final = 9.81
_UP: Final = np.array([0.0, 0.0, 1.0])


def body_rate(q_ws: FloatArray, dt_s: float) -> FloatArray:
    """Angular rate (n, 3) in the body frame at each sample, rad/s.

    The rotation between samples k and k+1 is ``q_k* q_{k+1}`` (a body-frame increment); its
    rotation vector over ``dt_s`` is the rate at the midpoint, and the rate at a sample is the
    mean of the two midpoints around it.
    """
    n = q_ws.shape[0]
    if n < 2:
        return np.zeros((n, 3))
    mid = rot.to_rotvec(rot.mul(rot.conj(q_ws[:-1]), q_ws[1:])) / dt_s
    out = np.empty((n, 3))
    out[1:-1] = 0.5 * (mid[:-1] + mid[1:])
    out[0] = mid[0]
    out[-1] = mid[-1]
    return out


def world_acceleration(p_w: FloatArray, dt_s: float) -> FloatArray:
    """Second derivative (n, 3) of positions (n, 3) by central differences, m/s^2."""
    n = p_w.shape[0]
    out = np.zeros((n, 3))
    if n >= 3:
        out[1:-1] = (p_w[2:] - 2.0 * p_w[1:-1] + p_w[:-2]) / (dt_s * dt_s)
        out[0] = out[1]
        out[-1] = out[-2]
    return out


def specific_force(q_ws: FloatArray, accel_w: FloatArray) -> FloatArray:
    """``R_ws^T (a + g Z)``: what an accelerometer with orientation ``q_ws`` reads (n, 3)."""
    return rot.rotate_inverse(q_ws, accel_w + GRAVITY_M_S2 * _UP)


def _fft_convolve(x: FloatArray, kernel: FloatArray) -> FloatArray:
    """Causal convolution of each column of ``x`` (n, d) with ``kernel`` (m,), length n."""
    n = x.shape[0]
    size = 1 << int(np.ceil(np.log2(n + kernel.size)))
    spec = np.fft.rfft(x, size, axis=0) * np.fft.rfft(kernel, size)[:, None]
    return np.fft.irfft(spec, size, axis=0)[:n]


def strap_displacement(accel_w: FloatArray, dt_s: float, natural_hz: float,
                       damping: float) -> FloatArray:
    """How far the strapped sensor lags the bone (n, 3), m.

    The sensor is a small mass held to the foot or shin by strap and soft tissue: a damped
    spring with natural frequency ``natural_hz`` and damping ratio ``damping``, excited by the
    bone's acceleration. Its displacement ``u`` obeys ``u'' + 2 z w u' + w^2 u = -a``; the
    impulse response is convolved with ``-a``. Impacts therefore ring for a few tens of ms, as
    real strapped IMUs do, and the ringing is part of the sensor's kinematics.
    """
    omega = 2.0 * np.pi * natural_hz
    omega_d = omega * np.sqrt(max(1.0 - damping * damping, 1e-6))
    length = int(np.ceil(7.0 / (damping * omega) / dt_s))
    t = np.arange(length) * dt_s
    kernel = np.exp(-damping * omega * t) * np.sin(omega_d * t) / omega_d * dt_s
    return _fft_convolve(-accel_w, kernel)


def window_average(x: FloatArray, centres: np.ndarray, width: int) -> FloatArray:
    """Averages ``x`` (N, d) over ``width`` samples centred on each index in ``centres``.

    An odd width averages ``width`` samples equally; an even width uses ``width + 1`` samples
    with half weight at both ends, so the window stays exactly centred. ``centres`` must leave
    ``width // 2`` samples of margin at both ends of ``x``.
    """
    if width <= 1:
        return np.asarray(x[centres], dtype=np.float64)
    c = np.concatenate((np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)), axis=0)
    half = width // 2
    if width % 2 == 1:
        total = c[centres + half + 1] - c[centres - half]
    else:
        total = (c[centres + half] - c[centres - half + 1]
                 + 0.5 * (x[centres - half] + x[centres + half]))
    return np.asarray(total / width)
