"""A tiny analytic IMU model for engine tests, independent of sensord.sim.

An orientation ``R(t)`` (sensor to world) sampled densely gives the gyro from
``R_k^T R_{k+1} = exp([w dt]x)`` and the accelerometer from ``R^T (a + g z)``. Tests use it to
pin sign conventions (circle direction, pitch) with motions whose answer is known by
construction.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sensord.model import ImuBlock

G = 9.81


def rot(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) about a principal axis by ``angle`` (radians)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == "x":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """One rotation matrix about a unit ``axis``."""
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def log_so3(r: np.ndarray) -> np.ndarray:
    """Rotation vectors of rotation matrices (n, 3, 3)."""
    cos = np.clip((np.trace(r, axis1=1, axis2=2) - 1) / 2, -1, 1)
    angle = np.arccos(cos)
    vee = np.stack((r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]), 1)
    scale = np.where(angle < 1e-9, 0.5, angle / (2 * np.sin(np.maximum(angle, 1e-12))))
    return vee * scale[:, None]


def imu_from_orientation(
    orientation: Callable[[np.ndarray], np.ndarray], seconds: float, rate_hz: float = 100.0,
    mounting: np.ndarray | None = None, seed: int = 0, noise: bool = True,
) -> ImuBlock:
    """Samples an IMU fixed to a body with orientation ``orientation(t)`` (n, 3, 3, body to
    world). ``mounting`` rotates the sensor on the body (sensor to body)."""
    fine = 10
    t = np.arange(int(seconds * rate_hz * fine) + 1) / (rate_hz * fine)
    r_body = orientation(t)
    r = r_body if mounting is None else r_body @ mounting
    rel = np.einsum("nji,njk->nik", r[:-1], r[1:])
    gyro_fine = log_so3(rel) * (rate_hz * fine)
    t_mid = t[:-1] + 0.5 / (rate_hz * fine)
    ts = np.arange(int(seconds * rate_hz)) / rate_hz
    gyro = np.column_stack([np.interp(ts, t_mid, gyro_fine[:, i]) for i in range(3)])
    idx = np.minimum(np.round(ts * rate_hz * fine).astype(int), r.shape[0] - 1)
    acc = np.einsum("nji,j->ni", r[idx], np.array([0.0, 0.0, G]))
    if noise:
        rng = np.random.default_rng(seed)
        acc = acc + rng.normal(0, 0.03, acc.shape)
        gyro = gyro + rng.normal(0, 0.01, gyro.shape) + np.array([0.01, -0.008, 0.012])
    return ImuBlock.from_arrays(ts, acc, gyro)


def smooth_step(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, a cosine ramp between."""
    x = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)
