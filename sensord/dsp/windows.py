"""Centred moving windows over a stream, exact however the stream is split.

Moving means and variances come from running sums. The running sum is carried from block to
block with the same sequence of additions one big block would make, so every window value is
bit-identical whether the samples came in one block or one at a time. That is what lets the
pipeline promise identical events for any block boundaries.
"""

from __future__ import annotations

import numpy as np

from sensord.model import FloatArray


class RunningSums:
    """Keeps the recent samples of a multi-channel stream and their running sums.

    ``cs[i]`` is the sum of all samples of the segment before kept sample ``i``; a window
    ``[a, b)`` of absolute indices sums to ``cs[b] - cs[a]``. Only the last ``keep`` samples are
    kept; callers never look further back. Only the first ``summed`` channels (default: all)
    have running sums: the others are kept samples only (no window ever sums them).
    """

    def __init__(self, channels: int, keep: int, summed: int | None = None) -> None:
        self._keep = keep
        self._channels = channels
        self._summed = channels if summed is None else summed
        self.k_start = 0  # absolute index of the first kept sample
        self._held = 0
        # Buffers with room to spare (rows from ``_offset``): appending a small block copies
        # nothing already kept; the kept rows move only when the buffer fills up.
        self._offset = 0
        self._values: FloatArray = np.empty((0, channels))
        self._cs: FloatArray = np.zeros((1, self._summed))

    def reset(self, k_start: int) -> None:
        """Starts a new segment at absolute index ``k_start``."""
        self.k_start = k_start
        self._held = 0
        self._offset = 0
        self._values = np.empty((0, self._channels))
        self._cs = np.zeros((1, self._summed))

    @property
    def k_end(self) -> int:
        """One past the absolute index of the last sample."""
        return self.k_start + self._held

    @property
    def values(self) -> FloatArray:
        """The kept samples, (held, channels)."""
        return self._values[self._offset:self._offset + self._held]

    def append(self, x: FloatArray) -> None:
        self.reserve(x.shape[0])[:] = x
        self.commit(x.shape[0])

    def reserve(self, n: int) -> FloatArray:
        """The rows the next ``n`` samples go to (a view to fill in place, then ``commit``):
        building them there saves copying them in."""
        held, offset = self._held, self._offset
        if offset + held + n > self._values.shape[0]:
            if 2 * (held + n) <= self._values.shape[0]:
                # Room enough once the kept rows move to the front: move them there (no view
                # of these buffers outlives a block). Fresh buffers would cost a page fault
                # per page written, every few large blocks.
                self._values[:held] = self._values[offset:offset + held]
                self._cs[:held + 1] = self._cs[offset:offset + held + 1]
            else:
                capacity = max(2 * (held + n), 2 * self._keep, 64)
                values = np.empty((capacity, self._channels))
                values[:held] = self._values[offset:offset + held]
                cs = np.empty((capacity + 1, self._summed))
                cs[:held + 1] = self._cs[offset:offset + held + 1]
                self._values, self._cs = values, cs
            self._offset = offset = 0
        stop = offset + held
        rows: FloatArray = self._values[stop:stop + n]
        return rows

    def commit(self, n: int) -> None:
        """Takes the ``n`` reserved rows, filled in, as the next samples."""
        stop = self._offset + self._held
        # The same additions, in the same order, as one cumulative sum over the whole segment
        # (in place: the carried sum, then the new samples after it).
        cs = self._cs[stop:stop + n + 1]
        cs[1:] = self._values[stop:stop + n, :self._summed]
        cs.cumsum(axis=0, out=cs)
        self._held += n

    def trim(self) -> None:
        """Forgets all but the last ``keep`` samples (call once the new ones are used)."""
        excess = self._held - self._keep
        if excess > 0:
            self._offset += excess
            self._held -= excess
            self.k_start += excess

    def window_sums(self, centers: FloatArray | np.ndarray, half: int) -> FloatArray:
        """Sums over ``[c - half, c + half]`` for absolute centre indices (all available)."""
        lo = np.asarray(centers, dtype=np.int64) - (half + self.k_start - self._offset)
        hi = lo + 2 * half + 1
        result: FloatArray = self._cs[hi] - self._cs[lo]
        return result

    def range_sums(
        self, lo_abs: np.ndarray, hi_abs: np.ndarray, channels: slice = slice(None)
    ) -> FloatArray:
        """Sums over ``[lo, hi)`` for arrays of absolute indices (all available)."""
        shift = self.k_start - self._offset
        result: FloatArray = self._cs[hi_abs - shift, channels] - self._cs[lo_abs - shift, channels]
        return result

    def window_run(self, first: int, n: int, half: int, c0: int, c1: int) -> FloatArray:
        """``window_sums`` of the ``n`` consecutive centres from ``first``, channels
        ``[c0, c1)`` only (slices instead of index arrays: the same values, cheaper)."""
        a = first - half - self.k_start + self._offset
        b = a + 2 * half + 1
        result: FloatArray = self._cs[b:b + n, c0:c1] - self._cs[a:a + n, c0:c1]
        return result

    def window_means_by_channel(
        self, first: int, n: int, half: int, c0: int, c1: int
    ) -> FloatArray:
        """``window_run`` divided by the window's length, channel-major (c1 - c0, n): the same
        numbers, written one contiguous row per channel (a layout numpy loops along fast)."""
        a = first - half - self.k_start + self._offset
        b = a + 2 * half + 1
        means = np.empty((c1 - c0, n))
        np.subtract(self._cs[b:b + n, c0:c1].T, self._cs[a:a + n, c0:c1].T, out=means)
        means /= 2 * half + 1
        return means

    def run_sums(self, lo_first: int, n: int, width: int, channels: slice) -> FloatArray:
        """Sums over ``[lo, lo + width)`` for the ``n`` consecutive ``lo`` from ``lo_first``
        (all available)."""
        a = lo_first - self.k_start + self._offset
        b = a + width
        result: FloatArray = self._cs[b:b + n, channels] - self._cs[a:a + n, channels]
        return result

    def since(self, lo: int, hi_first: int, n: int, channels: slice) -> FloatArray:
        """Sums over ``[lo, hi)`` for the ``n`` consecutive ``hi`` from ``hi_first`` (all
        available)."""
        shift = self.k_start - self._offset
        b = hi_first - shift
        result: FloatArray = self._cs[b:b + n, channels] - self._cs[lo - shift, channels]
        return result

    def trailing_run(self, hi_first: int, n: int, width: int, c0: int, c1: int) -> FloatArray:
        """Sums over ``[max(hi - width, k_start), hi)`` for the ``n`` consecutive ``hi`` from
        ``hi_first``, channels ``[c0, c1)``."""
        shift = self.k_start - self._offset
        b = hi_first - shift
        if hi_first - width >= self.k_start:
            los: slice | np.ndarray = slice(b - width, b - width + n)
            his: slice | np.ndarray = slice(b, b + n)
        else:
            his = np.arange(b, b + n)
            los = np.maximum(his - width, self._offset)
        result: FloatArray = self._cs[his, c0:c1] - self._cs[los, c0:c1]
        return result

    def run(self, first: int, n: int) -> FloatArray:
        """The ``n`` consecutive samples from absolute index ``first`` (a view)."""
        a = first - self.k_start + self._offset
        result: FloatArray = self._values[a:a + n]
        return result

    def cumulative_at(self, index: int) -> FloatArray:
        """The running sum of everything before absolute ``index`` (kept range only)."""
        result: FloatArray = self._cs[index - self.k_start + self._offset].copy()
        return result

    def span(self, lo: int, hi: int, c0: int, c1: int) -> FloatArray:
        """The sums of channels ``[c0, c1)`` over the absolute indices ``[lo, hi)``."""
        shift = self.k_start - self._offset
        result: FloatArray = self._cs[hi - shift, c0:c1] - self._cs[lo - shift, c0:c1]
        return result

    def cumulative(self, lo: int, hi: int) -> FloatArray:
        """Running sums before each absolute index in ``[lo, hi)``, shape (hi - lo, channels)."""
        shift = self.k_start - self._offset
        result: FloatArray = self._cs[lo - shift:hi - shift]
        return result

    def at(self, indices: np.ndarray) -> FloatArray:
        """The samples at absolute indices."""
        shift = self.k_start - self._offset
        result: FloatArray = self._values[np.asarray(indices, dtype=np.int64) - shift]
        return result
