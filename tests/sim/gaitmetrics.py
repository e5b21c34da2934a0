"""Gait measures computed the same way from real and simulated foot-IMU recordings.

Per stride (between consecutive landings, given as truth): stride time, the foot's pitch
range (strapdown integration from the mid-stance before, started level from gravity), the
peaks of the medio-lateral (y) rate in push-off and swing, the largest acceleration magnitude
around the landing (impact), and the stride length (zero-velocity integration).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensord.sim import rotation as rot

G = 9.81


@dataclass(frozen=True)
class Stride:
    time_s: float
    pitch_max_deg: float
    pitch_min_deg: float
    gy_max_deg_s: float
    gy_min_deg_s: float
    gx_max_deg_s: float
    gx_min_deg_s: float
    impact_m_s2: float
    length_m: float


def strides(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, landings: np.ndarray,
            *, mid_stance_s: float = 0.3) -> list[Stride]:
    dt = float(np.median(np.diff(t)))
    out = []
    for k in range(len(landings) - 2):
        period = landings[k + 1] - landings[k]
        if not 0.8 < period < 1.5 or not 0.8 < landings[k + 2] - landings[k + 1] < 1.5:
            continue
        i0 = int(np.searchsorted(t, landings[k] + mid_stance_s))
        i1 = int(np.searchsorted(t, landings[k + 1] + mid_stance_s))
        up = acc[i0 - 10:i0 + 10].mean(axis=0)
        up /= np.linalg.norm(up)
        # start level: the orientation that maps the measured up onto world Z, no heading
        axis = np.cross(up, [0.0, 0.0, 1.0])
        angle = np.arccos(np.clip(up[2], -1.0, 1.0))
        norm = np.linalg.norm(axis)
        q = rot.from_rotvec(axis / norm * angle) if norm > 1e-9 else rot.identity()
        qs = np.empty((i1 - i0, 4))
        steps = rot.from_rotvec(gyro[i0:i1] * dt)
        for j in range(i1 - i0):
            qs[j] = q
            q = rot.mul(q, steps[j])
        x_world = rot.rotate(qs, np.array([1.0, 0.0, 0.0]))
        pitch = np.degrees(np.arcsin(np.clip(x_world[:, 2], -1.0, 1.0)))
        pitch -= pitch[:20].mean()
        a_world = rot.rotate(qs, acc[i0:i1]) - np.array([0.0, 0.0, G])
        v = np.cumsum(a_world, axis=0) * dt
        v -= np.outer(np.arange(v.shape[0]) / (v.shape[0] - 1), v[-1])
        p = np.cumsum(v, axis=0) * dt
        tt = t[i0:i1] - landings[k + 1]
        near = (tt > -0.06) & (tt < 0.1)
        g = np.degrees(gyro[i0:i1])
        out.append(Stride(
            time_s=float(period), pitch_max_deg=float(pitch.max()),
            pitch_min_deg=float(pitch.min()), gy_max_deg_s=float(g[:, 1].max()),
            gy_min_deg_s=float(g[:, 1].min()), gx_max_deg_s=float(g[:, 0].max()),
            gx_min_deg_s=float(g[:, 0].min()),
            impact_m_s2=float(np.linalg.norm(acc[i0:i1][near], axis=1).max()),
            length_m=float(np.linalg.norm(p[-1, :2])),
        ))
    return out


def medians(items: list[Stride]) -> dict[str, float]:
    names = Stride.__dataclass_fields__
    return {n: float(np.median([getattr(s, n) for s in items])) for n in names}
