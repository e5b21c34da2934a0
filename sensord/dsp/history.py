"""A short history of feature samples addressed by absolute grid index.

Detectors decide about a moment only once a fixed amount of signal after it is available, and
look back a fixed amount before it. Keeping the recent samples here, addressed by absolute index,
makes every decision a function of the same samples whatever the block boundaries.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from sensord.model import FloatArray

#: Sliding extremes over at most this many windows are taken from gathered windows.
_GATHER_MAX: Final = 64
#: Rotations of at most this many numbers broadcast the matrix (fewer numpy calls).
_BROADCAST_MAX: Final = 600


class History:
    """Named 1-D or 2-D float arrays over the same absolute indices, trimmed from the front.

    The arrays live in buffers with room to spare: appending writes after the last sample and
    trimming moves the start, so a small block costs no copy of the kept samples (they are
    copied only when the buffer fills up, which amortises to a constant per sample). ``get``
    returns views; samples once written are never overwritten.
    """

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self.k_start = 0
        self.k_end = 0  # one past the last absolute index held
        self._buffers: dict[str, FloatArray] = {}
        self._offset = 0  # buffer row of k_start
        self._capacity = 0  # rows of every buffer

    def reset(self, k_start: int) -> None:
        self.k_start = self.k_end = k_start
        self._buffers = {}
        self._offset = 0
        self._capacity = 0

    def append(self, k0: int, **arrays: FloatArray | NDArray[np.bool_]) -> None:
        """Appends samples from absolute index ``k0`` (flags are stored as 0.0 and 1.0)."""
        for first in arrays.values():
            n = first.shape[0]
            break
        else:
            return
        if not self._buffers:
            self.k_start = self.k_end = k0
            self._capacity = max(2 * n, 2 * self._keep, 64)
            self._buffers = {
                name: np.empty((self._capacity, *np.shape(a)[1:]))
                for name, a in arrays.items()}
            self._offset = 0
        elif k0 != self.k_end:
            raise ValueError(f"history expected index {self.k_end}, got {k0}")
        held = self.k_end - self.k_start
        stop = self._offset + held
        if stop + n > self._capacity:
            # Full: copy the kept samples to the front of fresh buffers (old views stay valid).
            self._capacity = max(self._capacity, 2 * (held + n))
            for name, buffer in self._buffers.items():
                fresh = np.empty((self._capacity, *buffer.shape[1:]))
                fresh[:held] = buffer[self._offset:stop]
                self._buffers[name] = fresh
            self._offset, stop = 0, held
        end = stop + n
        buffers = self._buffers
        for name, a in arrays.items():
            buffers[name][stop:end] = a
        self.k_end += n

    def trim(self, keep_from: int | None = None) -> None:
        """Drops samples before ``keep_from`` (default: all but the last ``keep``)."""
        if not self._buffers:
            return
        cut = self.k_end - self._keep if keep_from is None else min(keep_from, self.k_end)
        excess = cut - self.k_start
        if excess > 0:
            self._offset += excess
            self.k_start += excess

    def get(self, name: str, lo: int | None = None, hi: int | None = None) -> FloatArray:
        """Samples ``[lo, hi)`` (absolute indices, clipped to what is kept)."""
        buffer = self._buffers.get(name)
        if buffer is None:
            return np.empty(0)
        # Clipped with conditionals, not min/max calls: detectors call this tens of thousands
        # of times an hour.
        start, end = self.k_start, self.k_end
        if lo is None or lo < start:
            lo = start
        elif lo > end:
            lo = end
        if hi is None or hi > end:
            hi = end
        elif hi < lo:
            hi = lo
        return buffer[self._offset + lo - start:self._offset + hi - start]


class RotationLog:
    """The mounting estimates in force from which absolute index, for detectors that must view
    a stretch of samples through one fixed estimate (an estimate may change mid-movement)."""

    def __init__(self) -> None:
        self._entries: list[tuple[int, FloatArray]] = []

    def reset(self) -> None:
        self._entries = []

    def extend(self, entries: tuple[tuple[int, FloatArray], ...]) -> None:
        for start, matrix in entries:
            if not self._entries or not (
                    self._entries[-1][1] is matrix or np.array_equal(self._entries[-1][1], matrix)):
                self._entries.append((start, matrix))

    def at(self, index: int) -> FloatArray:
        current = self._entries[0][1]
        for start, matrix in self._entries:
            if start > index:
                break
            current = matrix
        return current

    def segments(self, lo: int, hi: int) -> list[tuple[int, int, FloatArray]]:
        """``[a, b)`` stretches of ``[lo, hi)`` with the estimate in force over each."""
        out: list[tuple[int, int, FloatArray]] = []
        for n, (start, matrix) in enumerate(self._entries):
            stop = self._entries[n + 1][0] if n + 1 < len(self._entries) else hi
            a, b = max(lo, start if n else lo), min(hi, stop)
            if b > a:
                out.append((a, b, matrix))
        return out

    def only(self, lo: int, hi: int) -> FloatArray | None:
        """The estimate in force over the whole of ``[lo, hi)`` if it is one (else None): then
        the front end's own angles there are the ones seen through it."""
        entries = self._entries
        if not entries or hi <= lo:
            return None
        # (As ``segments`` reads the log, without building the list: asked thousands of times.)
        current = entries[0][1]
        for start, matrix in entries[1:]:
            if start >= hi:
                break
            if start > lo:
                return None  # another estimate takes over inside the stretch
            current = matrix
        return current

    def forget_before(self, index: int) -> None:
        """Drops estimates superseded before ``index`` (keeps the one in force there)."""
        while len(self._entries) > 1 and self._entries[1][0] <= index:
            self._entries.pop(0)


def rotate(vectors: FloatArray, rotation: FloatArray) -> FloatArray:
    """``vectors @ rotation.T`` for (..., 3) arrays, computed element by element.

    A matrix product may sum in a different order for a different number of rows (BLAS picks
    kernels by size), which would make results depend on how samples were split into blocks.
    """
    if vectors.size <= _BROADCAST_MAX:
        result: FloatArray = (
            vectors[..., 0:1] * rotation[:, 0] + vectors[..., 1:2] * rotation[:, 1]
            + vectors[..., 2:3] * rotation[:, 2]
        )
        return result
    # Many vectors: one output axis at a time (several times faster than broadcasting the
    # matrix; the same products summed in the same order).
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    result = np.empty_like(vectors)
    for j in range(3):
        result[..., j] = x * rotation[j, 0] + y * rotation[j, 1] + z * rotation[j, 2]
    return result


def where_true(mask: NDArray[np.bool_] | FloatArray) -> NDArray[np.intp]:
    """``np.flatnonzero`` of a 1-D mask, without the wrapper's overhead (it adds up over the
    many small blocks of a live stream)."""
    return mask.nonzero()[0]


def runs(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Starts and ends (one past the last sample) of the runs of True in a 1-D mask.

    The mask padded with False on both sides changes value exactly at every start and end,
    which alternate (a few numpy calls, where differencing it as integers takes several more).
    """
    padded = np.zeros(mask.shape[0] + 2, dtype=bool)
    padded[1:-1] = mask
    edges = where_true(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def sum3(values: FloatArray) -> FloatArray:
    """``values.sum(axis=-1)`` of (..., 3) arrays: the same additions in the same order
    (``(v0 + v1) + v2``, as numpy reduces three numbers), several times faster than a
    reduction over so short an axis."""
    result: FloatArray = values[..., 0] + values[..., 1] + values[..., 2]
    return result


def pitch_deg(up_sensor: FloatArray, rotation: FloatArray) -> FloatArray:
    """Segment pitch (toes up positive) of sensor-frame up vectors (n, 3) through ``rotation``."""
    x = up_sensor[:, 0] * rotation[0, 0] + up_sensor[:, 1] * rotation[0, 1] + (
        up_sensor[:, 2] * rotation[0, 2])
    z = up_sensor[:, 0] * rotation[2, 0] + up_sensor[:, 1] * rotation[2, 1] + (
        up_sensor[:, 2] * rotation[2, 2])
    result: FloatArray = np.degrees(np.arctan2(x, z))
    return result


def median(values: FloatArray) -> float:
    """The median of a 1-D array, as ``np.median`` computes it, without its per-call overhead
    (tens of microseconds, which add up over thousands of strides and reps)."""
    n = values.shape[0]
    middle = n // 2
    if n % 2:
        return float(np.partition(values, middle)[middle])
    part = np.partition(values, (middle - 1, middle))
    return float((part[middle - 1] + part[middle]) / 2.0)


def nanmean(values: FloatArray) -> float:
    """The mean of the known (not NaN) samples of a 1-D array, as ``np.nanmean`` computes it
    (the same sum, divided by the count), without its per-call overhead when no sample is
    unknown, which is the usual case."""
    total = float(values.sum())
    if values.shape[0] and not math.isnan(total):
        return total / int(values.shape[0])
    return float(np.nanmean(values))


def nanargmax(values: FloatArray) -> int:
    """``np.nanargmax`` of a 1-D array, without its per-call overhead when no sample is NaN
    (``argmax`` stops at the first NaN, so a number where it stops means there is none)."""
    index = int(np.argmax(values))
    if not math.isnan(float(values[index])):
        return index
    return int(np.nanargmax(values))


def gather_index(count: int, width: int, cache: dict[tuple[int, int], NDArray[np.intp]]
                 ) -> NDArray[np.intp]:
    """Indices (count, width) of every window of ``width`` among ``count + width - 1`` samples,
    kept in ``cache`` (live blocks ask for the same few shapes again and again)."""
    index = cache.get((count, width))
    if index is None:
        if len(cache) > 64:
            cache.clear()
        index = np.arange(count)[:, None] + np.arange(width)
        cache[(count, width)] = index
    return index


def sliding_extremes(
    values: FloatArray, width: int, cache: dict[tuple[int, int], NDArray[np.intp]] | None = None
) -> tuple[FloatArray, FloatArray]:
    """(max, min) over every window of ``width`` consecutive samples, each (n - width + 1,).

    Doubling: the extremes over every window of 2, 4, 8, ... samples, each from two of the
    last, then every window of ``width`` as the extreme of the two largest power-of-two windows
    that cover it from its two ends. A few whole-array calls (log2 of the width) that numpy runs
    with vector instructions, where a running extreme is a sequential loop. Order statistics,
    hence exact; an unknown sample (NaN) makes its windows' extremes NaN, as a plain max and min
    would.
    """
    n = values.shape[0]
    if n < width:
        return np.empty(0), np.empty(0)
    count = n - width + 1
    if count <= _GATHER_MAX:
        # Few windows: gather them into one (count, width) array (fewer numpy calls).
        index = gather_index(count, width, {} if cache is None else cache)
        gathered = values[index]
        return gathered.max(axis=1), gathered.min(axis=1)
    return _doubling(values, width, count, np.maximum), _doubling(values, width, count, np.minimum)


def _doubling(values: FloatArray, width: int, count: int, extreme: np.ufunc) -> FloatArray:
    """``extreme`` over every window of ``width`` samples (see sliding_extremes)."""
    span, current = 1, values
    while 2 * span <= width:
        # current[i]: the extreme over [i, i + span); now over [i, i + 2 span).
        current = extreme(current[:-span], current[span:])
        span *= 2
    result: FloatArray = extreme(current[:count], current[width - span:width - span + count])
    return result


def sliding_max(
    values: FloatArray, width: int, cache: dict[tuple[int, int], NDArray[np.intp]] | None = None
) -> FloatArray:
    """The max over every window of ``width`` consecutive samples, (n - width + 1,).

    Few windows: one gathered (windows, width) array; many: sliding_extremes. Either way the
    exact maximum (NaN where a window holds one).
    """
    count = values.shape[0] - width + 1
    if count <= 0:
        return np.empty(0)
    if count <= _GATHER_MAX:
        gathered: FloatArray = values[gather_index(count, width, {} if cache is None else cache)]
        return gathered.max(axis=1)  # type: ignore[no-any-return]
    return sliding_extremes(values, width)[0]


def sliding_range(values: FloatArray, width: int) -> FloatArray:
    """max - min over every window of ``width`` consecutive samples (see sliding_extremes)."""
    top, bottom = sliding_extremes(values, width)
    result: FloatArray = top - bottom
    return result
