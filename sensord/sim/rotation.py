"""Vectorised unit-quaternion maths for the simulator.

Convention: ``q = (w, x, y, z)``, Hamilton product, active rotations. A pose quaternion ``q_ab``
maps vectors given in frame ``b`` into frame ``a`` (``v_a = q_ab v_b q_ab*``), so ``q_ws`` is the
sensor's orientation in the world and composes as ``q_ws = q_wf * q_fs``. Every function
broadcasts over leading axes: shapes are ``(..., 4)`` for quaternions and ``(..., 3)`` for
vectors. Angles are radians.

Quaternions rather than matrices because a 15-minute session at a 1 kHz internal rate is about a
million poses: four floats each keep the whole session in memory comfortably.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sensord.model import FloatArray

_EPS: Final = 1e-12
_X: Final = np.array([1.0, 0.0, 0.0])
_Y: Final = np.array([0.0, 1.0, 0.0])
_Z: Final = np.array([0.0, 0.0, 1.0])


def identity(n: int | None = None) -> FloatArray:
    """The identity rotation, one (shape (4,)) or ``n`` of them (shape (n, 4))."""
    if n is None:
        return np.array([1.0, 0.0, 0.0, 0.0])
    out = np.zeros((n, 4))
    out[:, 0] = 1.0
    return out


def mul(a: FloatArray, b: FloatArray) -> FloatArray:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = aw * bw - ax * bx - ay * by - az * bz
    out[..., 1] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 2] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def conj(q: FloatArray) -> FloatArray:
    """The inverse of a unit quaternion."""
    return np.asarray(q * np.array([1.0, -1.0, -1.0, -1.0]), dtype=np.float64)


def from_rotvec(v: FloatArray) -> FloatArray:
    """Rotation vector (axis times angle, rad) to quaternion; exact for any angle."""
    v = np.asarray(v, dtype=np.float64)
    angle = np.sqrt(np.einsum("...i,...i->...", v, v))
    half = 0.5 * angle
    out = np.empty((*v.shape[:-1], 4))
    out[..., 0] = np.cos(half)
    # sin(angle/2)/angle, with its limit 1/2 at zero
    scale = np.divide(np.sin(half), angle, out=np.full_like(angle, 0.5), where=angle > 1e-12)
    out[..., 1:] = v * scale[..., None]
    return out


def from_small_rotvec(v: FloatArray) -> FloatArray:
    """A rotation of about ``v`` for small angles (below a few degrees), cheaply.

    ``(1, v/2)`` normalised: a valid rotation whose angle differs from ``|v|`` by a relative
    ``|v|^2/12``. The simulator adds tremor and sway with it; the IMU signals are then derived
    from the resulting poses exactly, so the approximation never breaks consistency.
    """
    v = np.asarray(v, dtype=np.float64)
    out = np.empty((*v.shape[:-1], 4))
    out[..., 0] = 1.0
    out[..., 1:] = 0.5 * v
    out /= np.sqrt(np.einsum("...i,...i->...", out, out))[..., None]
    return out


def to_rotvec(q: FloatArray) -> FloatArray:
    """Quaternion to rotation vector with angle in [0, pi] (the shorter way round)."""
    q = np.where(q[..., :1] < 0.0, -q, q)
    vec = q[..., 1:]
    sin_half = np.linalg.norm(vec, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    scale = np.where(sin_half > 1e-8, angle / np.maximum(sin_half, _EPS), 2.0)
    return vec * scale


def from_axis_angle(axis: FloatArray, angle: FloatArray | float) -> FloatArray:
    """Rotation by ``angle`` (shape (...)) about the unit ``axis`` (shape (3,) or (..., 3))."""
    axis = np.asarray(axis, dtype=np.float64)
    angle_arr = np.asarray(angle, dtype=np.float64)[..., None]
    return from_rotvec(axis * angle_arr)


def rot_x(angle: FloatArray | float) -> FloatArray:
    return from_axis_angle(_X, angle)


def rot_y(angle: FloatArray | float) -> FloatArray:
    return from_axis_angle(_Y, angle)


def rot_z(angle: FloatArray | float) -> FloatArray:
    return from_axis_angle(_Z, angle)


def from_euler_zyx(yaw: FloatArray | float, pitch: FloatArray | float,
                   roll: FloatArray | float) -> FloatArray:
    """``Rz(yaw) Ry(pitch) Rx(roll)``: intrinsic z-y'-x'' angles (rad)."""
    return mul(mul(rot_z(yaw), rot_y(pitch)), rot_x(roll))


def cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """Cross product over the last axis (numpy's ``cross`` is slow for small arrays)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack((ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx), axis=-1)


def to_euler_zyx(q: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(yaw, pitch, roll) with ``q = Rz(yaw) Ry(pitch) Rx(roll)`` (rad)."""
    m = to_matrix(q)
    yaw = np.arctan2(m[..., 1, 0], m[..., 0, 0])
    pitch = np.arcsin(np.clip(-m[..., 2, 0], -1.0, 1.0))
    roll = np.arctan2(m[..., 2, 1], m[..., 2, 2])
    return yaw, pitch, roll


def rotate(q: FloatArray, v: FloatArray) -> FloatArray:
    """Applies ``q`` to vectors ``v``: ``q v q*`` (shapes broadcast)."""
    v = np.asarray(v, dtype=np.float64)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * cross(u, v)
    return v + w * t + cross(u, t)


def rotate_inverse(q: FloatArray, v: FloatArray) -> FloatArray:
    """Applies the inverse of ``q``: ``q* v q`` (world vector into the body frame)."""
    return rotate(conj(q), v)


def to_matrix(q: FloatArray) -> FloatArray:
    """Rotation matrices (..., 3, 3) whose columns are the body axes in the outer frame."""
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        (
            np.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), -1),
            np.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), -1),
            np.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), -1),
        ),
        axis=-2,
    )


def from_matrix(m: FloatArray) -> FloatArray:
    """Rotation matrices (..., 3, 3) to quaternions with w >= 0 (Shepperd's method)."""
    m = np.asarray(m, dtype=np.float64)
    flat = m.reshape(-1, 3, 3)
    out = np.empty((flat.shape[0], 4))
    trace = flat[:, 0, 0] + flat[:, 1, 1] + flat[:, 2, 2]
    diag = np.stack((trace, flat[:, 0, 0], flat[:, 1, 1], flat[:, 2, 2]), axis=1)
    best = np.argmax(diag, axis=1)
    for case in range(4):
        sel = best == case
        if not sel.any():
            continue
        r = flat[sel]
        if case == 0:
            s = 2.0 * np.sqrt(1.0 + trace[sel])
            q = np.stack((0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s,
                          (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s), 1)
        elif case == 1:
            s = 2.0 * np.sqrt(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2])
            q = np.stack(((r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s,
                          (r[:, 0, 1] + r[:, 1, 0]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s), 1)
        elif case == 2:
            s = 2.0 * np.sqrt(1.0 - r[:, 0, 0] + r[:, 1, 1] - r[:, 2, 2])
            q = np.stack(((r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                          0.25 * s, (r[:, 1, 2] + r[:, 2, 1]) / s), 1)
        else:
            s = 2.0 * np.sqrt(1.0 - r[:, 0, 0] - r[:, 1, 1] + r[:, 2, 2])
            q = np.stack(((r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                          (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s), 1)
        out[sel] = q
    out = np.where(out[:, :1] < 0.0, -out, out)
    return out.reshape((*m.shape[:-2], 4))


def make_continuous(q: FloatArray) -> FloatArray:
    """Flips signs along axis 0 so neighbouring quaternions lie in the same hemisphere.

    ``q`` and ``-q`` are the same rotation; interpolation and differencing need the sequence not
    to jump between them.
    """
    if q.shape[0] < 2:
        return q
    dots = np.einsum("ij,ij->i", q[1:], q[:-1])
    flips = np.concatenate(([False], dots < 0.0))
    sign = np.where(np.cumsum(flips) % 2 == 1, -1.0, 1.0)
    return q * sign[:, None]


def slerp(q0: FloatArray, q1: FloatArray, s: FloatArray | float) -> FloatArray:
    """Spherical interpolation from ``q0`` (s=0) to ``q1`` (s=1), the shorter way round."""
    rel = mul(conj(q0), q1)
    rel = np.where(rel[..., :1] < 0.0, -rel, rel)
    s_arr = np.asarray(s, dtype=np.float64)[..., None]
    return mul(q0, from_rotvec(to_rotvec(rel) * s_arr))


def angle_between(a: FloatArray, b: FloatArray) -> FloatArray:
    """The rotation angle (rad, in [0, pi]) taking ``a`` to ``b``."""
    return np.asarray(np.linalg.norm(to_rotvec(mul(conj(a), b)), axis=-1), dtype=np.float64)


def swing_to(u: FloatArray) -> FloatArray:
    """The smallest rotation taking +x to the unit vectors ``u`` (..., 3) (no twist about x)."""
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    axis = cross(np.broadcast_to(_X, u.shape), u)
    sin_a = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin_a, u[..., :1])
    axis = np.where(sin_a > 1e-12, axis / np.maximum(sin_a, _EPS), _Y)
    return from_rotvec(axis * angle)


def random_rotation(rng: np.random.Generator, max_angle: float) -> tuple[FloatArray, float]:
    """A rotation about a uniformly random axis by an angle uniform in [0, max_angle].

    Returns the unit axis (3,) and the angle (rad).
    """
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    return axis, float(rng.uniform(0.0, max_angle))
