"""Small pieces every profile module needs: counter unwrapping and sample-array checks.

Kept apart so each protocol module only holds its own layout.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from sensord.model import FloatArray

#: Standard gravity (m/s^2): devices report acceleration in g.
G_M_S2: Final = 9.80665
DEG_TO_RAD: Final = float(np.pi / 180.0)


class CounterUnwrapper:
    """Turns a device's wrapping counter (``bits`` wide) into one that only grows.

    Uses serial-number arithmetic (RFC 1982): a step of less than half the counter's range is
    forward (a wrap when the raw value goes down); a step backwards means the device restarted its
    counter, and the unwrapped value then continues from ``expected`` (the index after the last
    packet) so that it still only grows. ``restarts`` counts those.
    """

    __slots__ = ("_last_raw", "_mask", "_offset", "restarts")

    def __init__(self, bits: int) -> None:
        self._mask = (1 << bits) - 1
        self._last_raw: int | None = None
        self._offset = 0
        self.restarts = 0

    def unwrap(self, raw: int, expected: int | None = None) -> int:
        """The unwrapped value of ``raw``. ``expected`` is where the stream should continue (the
        last unwrapped value plus what the last packet covered); used only after a restart."""
        raw &= self._mask
        if self._last_raw is None:
            self._last_raw = raw
            self._offset = 0
            return raw
        step = (raw - self._last_raw) & self._mask
        last_unwrapped = self._offset + self._last_raw
        if step <= self._mask >> 1:
            value = last_unwrapped + step
        else:
            self.restarts += 1
            value = max(last_unwrapped, expected if expected is not None else last_unwrapped)
        self._offset = value - raw
        self._last_raw = raw
        return value


def xyz(name: str, values: FloatArray) -> FloatArray:
    """``values`` as a float64 (n, 3) array, or ``ValueError`` naming the argument."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3), got {arr.shape}")
    return arr


def quantise_i16(values: FloatArray, lsb: float) -> NDArray[np.int16]:
    """Physical values -> int16 counts at ``lsb`` units per count, saturating like a real IMU."""
    counts = np.rint(values / lsb)
    return np.clip(counts, -32768, 32767).astype("<i2")
