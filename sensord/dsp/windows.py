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
    kept; callers never look further back.
    """

    def __init__(self, channels: int, keep: int) -> None:
        self._keep = keep
        self._channels = channels
        self.k_start = 0  # absolute index of the first kept sample
        self.values: FloatArray = np.empty((0, channels))
        self._cs: FloatArray = np.zeros((1, channels))

    def reset(self, k_start: int) -> None:
        """Starts a new segment at absolute index ``k_start``."""
        self.k_start = k_start
        self.values = np.empty((0, self._channels))
        self._cs = np.zeros((1, self._channels))

    @property
    def k_end(self) -> int:
        """One past the absolute index of the last sample."""
        return self.k_start + int(self.values.shape[0])

    def append(self, x: FloatArray) -> None:
        cs_new = np.cumsum(np.concatenate((self._cs[-1:], x)), axis=0)
        self.values = np.concatenate((self.values, x))
        self._cs = np.concatenate((self._cs, cs_new[1:]))

    def trim(self) -> None:
        """Forgets all but the last ``keep`` samples (call once the new ones are used)."""
        excess = self.values.shape[0] - self._keep
        if excess > 0:
            self.values = self.values[excess:]
            self._cs = self._cs[excess:]
            self.k_start += excess

    def window_sums(self, centers: FloatArray | np.ndarray, half: int) -> FloatArray:
        """Sums over ``[c - half, c + half]`` for absolute centre indices (all available)."""
        lo = np.asarray(centers, dtype=np.int64) - half - self.k_start
        hi = lo + 2 * half + 1
        result: FloatArray = self._cs[hi] - self._cs[lo]
        return result

    def range_sums(self, lo_abs: np.ndarray, hi_abs: np.ndarray) -> FloatArray:
        """Sums over ``[lo, hi)`` for arrays of absolute indices (all available)."""
        result: FloatArray = self._cs[hi_abs - self.k_start] - self._cs[lo_abs - self.k_start]
        return result

    def cumulative_at(self, index: int) -> FloatArray:
        """The running sum of everything before absolute ``index`` (kept range only)."""
        result: FloatArray = self._cs[index - self.k_start].copy()
        return result

    def cumulative(self, lo: int, hi: int) -> FloatArray:
        """Running sums before each absolute index in ``[lo, hi)``, shape (hi - lo, channels)."""
        result: FloatArray = self._cs[lo - self.k_start:hi - self.k_start]
        return result

    def at(self, indices: np.ndarray) -> FloatArray:
        """The samples at absolute indices."""
        result: FloatArray = self.values[np.asarray(indices, dtype=np.int64) - self.k_start]
        return result
