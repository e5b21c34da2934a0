"""Smooth curves and random processes from which the motions are built.

Motions are keyframed: a joint angle, a foot pitch or a position passes through values at given
times with given rates and accelerations, and piecewise quintic Hermite polynomials join them.
That makes every trajectory twice differentiable (continuous angular rate and acceleration), so
the IMU signals derived from it contain only the discontinuities that are put there on purpose
(impacts). Random processes (tremor, sway, drift) are shaped in the frequency domain and
normalised to unit RMS, so an amplitude in degrees is just a factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sensord.model import FloatArray


@dataclass(frozen=True, slots=True)
class Key:
    """One keyframe: at ``t_s`` the curve has ``value``, rate ``rate`` and acceleration ``acc``.

    ``rate=None`` means "choose a smooth rate from the neighbours" (Catmull-Rom); ``acc``
    defaults to zero, which makes the curve pass through the key without a jerk spike.
    """

    t_s: float
    value: float
    rate: float | None = None
    acc: float = 0.0


def _hermite5(s: FloatArray) -> tuple[FloatArray, ...]:
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    s5 = s4 * s
    h0 = 1 - 10 * s3 + 15 * s4 - 6 * s5
    h1 = s - 6 * s3 + 8 * s4 - 3 * s5
    h2 = 0.5 * s2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5
    h3 = 0.5 * s3 - s4 + 0.5 * s5
    h4 = -4 * s3 + 7 * s4 - 3 * s5
    h5 = 10 * s3 - 15 * s4 + 6 * s5
    return h0, h1, h2, h3, h4, h5


def resolve_rates(keys: Sequence[Key]) -> FloatArray:
    """The rate at every key: given ones as they are, missing ones by Catmull-Rom."""
    n = len(keys)
    rates = np.zeros(n)
    for i, key in enumerate(keys):
        if key.rate is not None:
            rates[i] = key.rate
        elif 0 < i < n - 1:
            rates[i] = (keys[i + 1].value - keys[i - 1].value) / (keys[i + 1].t_s - keys[i - 1].t_s)
    return rates


def keyframes(keys: Sequence[Key], t_s: FloatArray) -> FloatArray:
    """Evaluates the quintic Hermite spline through ``keys`` at times ``t_s`` (any shape).

    Before the first key the curve holds the first value, after the last key the last value.
    Keys must have strictly increasing times.
    """
    if not keys:
        raise ValueError("keyframes() needs at least one key")
    times = np.array([k.t_s for k in keys])
    if len(keys) == 1:
        return np.full_like(t_s, keys[0].value, dtype=np.float64)
    if np.any(np.diff(times) <= 0.0):
        raise ValueError(f"key times must increase: {times}")
    values = np.array([k.value for k in keys])
    rates = resolve_rates(keys)
    accs = np.array([k.acc for k in keys])
    return hermite_eval(times, values, rates, accs, t_s)


def hermite_eval(times: FloatArray, values: FloatArray, rates: FloatArray, accs: FloatArray,
                 t_s: FloatArray) -> FloatArray:
    """Piecewise quintic Hermite through (time, value, rate, acc) knots; vector values allowed.

    ``values``, ``rates``, ``accs`` have shape (k,) or (k, d); the result has shape
    ``t_s.shape`` or ``t_s.shape + (d,)``. Outside the knots the end values are held.
    """
    t = np.asarray(t_s, dtype=np.float64)
    idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    t0 = times[idx]
    h = times[idx + 1] - t0
    s = np.clip((t - t0) / h, 0.0, 1.0)
    b0, b1, b2, b3, b4, b5 = _hermite5(s)
    if values.ndim > 1:
        b0, b1, b2, b3, b4, b5 = (b[..., None] for b in (b0, b1, b2, b3, b4, b5))
        h = h[..., None]
    return (
        b0 * values[idx] + b1 * rates[idx] * h + b2 * accs[idx] * h * h
        + b3 * accs[idx + 1] * h * h + b4 * rates[idx + 1] * h + b5 * values[idx + 1]
    )


def min_jerk(s: FloatArray) -> FloatArray:
    """The minimum-jerk profile 0 -> 1 for s in [0, 1] (zero rate and acceleration at ends)."""
    s = np.clip(s, 0.0, 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def bump(s: FloatArray) -> FloatArray:
    """A smooth bump on [0, 1]: 0 at both ends with zero rate and acceleration, 1 at s = 0.5."""
    s = np.clip(s, 0.0, 1.0)
    return 64.0 * (s * (1.0 - s)) ** 3


def _shape_noise(rng: np.random.Generator, n: int, dt_s: float, *, band: tuple[float, float] | None,
                 corner_hz: float = 0.0, dims: int) -> FloatArray:
    """Gaussian noise (n, dims) shaped in the frequency domain: a Gaussian band (centre, width)
    or, with ``band=None``, a fourth-order low-pass at ``corner_hz``; unit RMS per column."""
    if n == 0:
        return np.zeros((0, dims))
    size = 1 << max(1, int(np.ceil(np.log2(n))))  # FFT sizes with small factors are fast
    freqs = np.fft.rfftfreq(size, dt_s)
    if band is not None:
        g = np.exp(-0.5 * ((freqs - band[0]) / band[1]) ** 2)
    else:
        g = 1.0 / (1.0 + (freqs / corner_hz) ** 4)
        g[0] = 0.0
    spectrum = rng.normal(size=(freqs.size, dims)) + 1j * rng.normal(size=(freqs.size, dims))
    x = np.fft.irfft(spectrum * g[:, None], n=size, axis=0)[:n]
    rms = np.sqrt(np.mean(x * x, axis=0))
    rms[rms == 0.0] = 1.0
    return np.asarray(x / rms, dtype=np.float64)


def upsample_cubic(x: FloatArray, factor: int, n: int) -> FloatArray:
    """Catmull-Rom interpolation of ``x`` (m, d), sampled every ``factor`` output samples, to
    ``n`` samples (needs m >= n / factor + 3). Smooth (continuous first derivative) and cheap:
    the weights are the same in every coarse interval, so it is one broadcast."""
    if factor == 1:
        return x[:n]
    intervals = -(-n // factor)
    s = np.arange(factor) / factor
    w0 = 0.5 * (-s + 2 * s * s - s**3)
    w1 = 0.5 * (2 - 5 * s * s + 3 * s**3)
    w2 = 0.5 * (s + 4 * s * s - 3 * s**3)
    w3 = 0.5 * (-s * s + s**3)
    p0 = x[0:intervals][:, None, :]
    p1 = x[1:intervals + 1][:, None, :]
    p2 = x[2:intervals + 2][:, None, :]
    p3 = x[3:intervals + 3][:, None, :]
    out = (w0[None, :, None] * p0 + w1[None, :, None] * p1 + w2[None, :, None] * p2
           + w3[None, :, None] * p3)
    return np.asarray(out.reshape(-1, x.shape[1])[:n])


def _coarse(dt_s: float, top_hz: float) -> int:
    """How many samples to skip when a process has no content above ``top_hz``."""
    return max(1, int(1.0 / (dt_s * 8.0 * top_hz)))


def band_noise(rng: np.random.Generator, n: int, dt_s: float, centre_hz: float,
               width_hz: float, *, dims: int = 1) -> FloatArray:
    """Narrow-band Gaussian noise (a tremor): shape (n, dims), unit RMS per column.

    Made on a coarser grid (eight samples per period of the band's top) and interpolated,
    which keeps it cheap for a million samples.
    """
    step = _coarse(dt_s, centre_hz + 3.0 * width_hz)
    m = n // step + 4
    x = _shape_noise(rng, m, dt_s * step, band=(centre_hz, width_hz), dims=dims)
    return upsample_cubic(x, step, n)


def lowpass_noise(rng: np.random.Generator, n: int, dt_s: float, corner_hz: float,
                  dims: int = 1) -> FloatArray:
    """Low-pass Gaussian noise (sway, drift): shape (n, dims), unit RMS per column, zero mean."""
    step = _coarse(dt_s, 4.0 * corner_hz)
    m = n // step + 4
    x = _shape_noise(rng, m, dt_s * step, band=None, corner_hz=corner_hz, dims=dims)
    return upsample_cubic(x, step, n)


def moving_average(x: FloatArray, width: int) -> FloatArray:
    """Centred moving average along axis 0 with edge values held (for smoothing levels)."""
    if width <= 1 or x.shape[0] == 0:
        return x
    pad = width // 2
    shape = [(pad, width - 1 - pad)] + [(0, 0)] * (x.ndim - 1)
    padded = np.pad(x, shape, mode="edge")
    c = np.cumsum(padded, axis=0)
    c = np.concatenate((np.zeros((1, *x.shape[1:])), c), axis=0)
    return (c[width:] - c[:-width]) / width
