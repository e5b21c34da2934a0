"""Sample times for a BLE stream: device sample index + nominal rate, aligned to the host clock.

A notification arrives some milliseconds after its samples were taken, and that latency jitters
with the connection interval and retransmissions, so arrival times make poor sample times. The
device's sample index (its counter, or its timestamp times the rate) says exactly how samples
are spaced in the device's own clock; the host clock says where the stream is now. This module
fits one to the other:

* a line ``t(k) = anchor_t + (k - anchor_k) * period`` maps the device index ``k`` to host time;
* the line follows the *lower envelope* of the arrivals (the packets that came with the least
  latency): every ``update_every_s`` it is refitted through the earliest-arriving packet of each
  half of the last ``window_s`` of arrivals, so the slope tracks the device's real rate (crystal
  drift, or a device that silently changed its rate) and the offset tracks the host clock;
* gaps in the index are counted and reported as ``Gap`` values, never filled; samples whose index
  was already placed (duplicates, reordered packets) are dropped and counted;
* times only ever increase, across reconnects too (a new connection is a new ``epoch``: the
  device index restarts, the host clock does not).

Streams without an index (a protocol with neither counter nor timestamp) are numbered in arrival
order; a packet arriving more than ``loss_threshold_s`` later than the line expects is taken to
follow lost samples (shorter losses cannot be told from latency without a counter).

Pure and synchronous: times come in as arguments, so tests drive it with synthetic arrivals.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from sensord.model import FloatArray

GapCause = Literal["loss", "reconnect"]

#: Samples closer than this fraction of a period to the previous one are pushed later.
_MIN_SPACING: Final = 0.5
#: A slope is refitted only from arrivals spanning at least this long (s); before, only the
#: offset moves (a slope from a few packets would be mostly jitter).
_MIN_SLOPE_SPAN_S: Final = 1.0
#: A fitted period outside this ratio of the nominal one is rejected as implausible.
_PERIOD_RATIO_LIMITS: Final = (0.02, 50.0)
#: A counter may skip at most the time since the last packet plus this (s); more is a jump.
_MAX_JUMP_SLACK_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Gap:
    """Samples that never arrived, between the sample at ``after_t_s`` and the one at
    ``before_t_s`` (host-clock seconds). ``samples`` is how many are missing: exact when the
    device numbers its samples, estimated from time otherwise."""

    after_t_s: float
    before_t_s: float
    samples: int
    cause: GapCause

    @property
    def duration_s(self) -> float:
        return self.before_t_s - self.after_t_s


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one packet's samples go: ``t_s`` for the samples kept (the packet minus its first
    ``skip`` samples, which were duplicates), and the gap before them, if any."""

    t_s: FloatArray
    skip: int
    gap: Gap | None


class SampleClock:
    """Places packets of samples on the host clock (see the module docstring).

    ``rate_hz`` is the nominal rate; ``window_s`` the span of arrivals the line is fitted to;
    ``update_every_s`` how often it is refitted; ``loss_threshold_s`` the lateness taken as
    loss for streams without an index.
    """

    def __init__(
        self,
        rate_hz: float,
        *,
        window_s: float = 10.0,
        update_every_s: float = 1.0,
        loss_threshold_s: float = 0.5,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate must be positive, got {rate_hz}")
        self.nominal_period_s = 1.0 / rate_hz
        self.window_s = window_s
        self.update_every_s = update_every_s
        self.loss_threshold_s = loss_threshold_s
        self._period = self.nominal_period_s
        self._anchor_k = 0
        self._anchor_t = 0.0
        self._next_k: int | None = None
        self._last_t: float | None = None
        self._last_arrival_s = 0.0
        self._points: deque[tuple[int, float]] = deque()
        self._last_update_s = 0.0
        self._updates = 0
        #: Samples placed, samples known lost, gaps, duplicates dropped, counter jumps.
        self.samples = 0
        self.lost_samples = 0
        self.gaps = 0
        self.duplicates = 0
        self.resyncs = 0

    @property
    def period_s(self) -> float:
        """The current estimate of the device's sample period on the host clock (s)."""
        return self._period

    @property
    def rate_hz(self) -> float:
        """The current estimate of the device's real sample rate (Hz)."""
        return 1.0 / self._period

    @property
    def last_t_s(self) -> float | None:
        """Time of the last sample placed, or None before the first."""
        return self._last_t

    def new_epoch(self) -> None:
        """A new connection: the device's index may restart; times continue from the last."""
        self._next_k = None
        self._points.clear()
        self._period = self.nominal_period_s

    def place(self, arrival_s: float, n: int, index: int | None) -> Placement | None:
        """Times for a packet of ``n`` samples that arrived at ``arrival_s`` (host clock, s) and
        whose first sample has device index ``index`` (None if the protocol has none).
        None when every sample of the packet was already placed."""
        if n <= 0:
            return None
        if self._next_k is None:
            return self._start(arrival_s, n, 0 if index is None else index)
        expected = self._next_k
        if index is None:
            first = expected
            late_s = arrival_s - self._model_t(first + n - 1)
            if late_s > self.loss_threshold_s:
                first += round(late_s / self._period)
        else:
            first = index
            jump_s = (first - expected) * self._period
            if jump_s > arrival_s - self._last_arrival_s + _MAX_JUMP_SLACK_S:
                # A counter that skips more samples than the time since the last packet could
                # hold is not a gap (a corrupted or restarted counter): start afresh.
                self.resyncs += 1
                return self._start(arrival_s, n, first)
        skip = 0
        if first < expected:
            skip = expected - first
            if skip >= n:
                self.duplicates += n
                return None
            self.duplicates += skip
        self._observe(first + n - 1, arrival_s)
        times = self._times(first + skip, n - skip)
        times = self._after_last(times)
        gap = None
        if first > expected and self._last_t is not None:
            gap = Gap(self._last_t, float(times[0]), first - expected, "loss")
            self.gaps += 1
            self.lost_samples += gap.samples
        self._next_k = first + n
        self._last_t = float(times[-1])
        self._last_arrival_s = arrival_s
        self.samples += n - skip
        return Placement(times, skip, gap)

    def _start(self, arrival_s: float, n: int, first: int) -> Placement:
        """First packet of an epoch: its last sample is taken to be as old as its arrival."""
        self._anchor_k = first + n - 1
        self._anchor_t = arrival_s
        self._points.clear()
        self._points.append((self._anchor_k, arrival_s))
        self._last_update_s = arrival_s
        self._updates = 0
        times = self._after_last(self._times(first, n))
        gap = None
        if self._last_t is not None:
            missing = round((float(times[0]) - self._last_t) / self._period) - 1
            if missing > 0:
                gap = Gap(self._last_t, float(times[0]), missing, "reconnect")
                self.gaps += 1
                self.lost_samples += missing
        self._next_k = first + n
        self._last_t = float(times[-1])
        self._last_arrival_s = arrival_s
        self.samples += n
        return Placement(times, 0, gap)

    def _model_t(self, k: int) -> float:
        return self._anchor_t + (k - self._anchor_k) * self._period

    def _times(self, first: int, n: int) -> FloatArray:
        steps = np.arange(first - self._anchor_k, first - self._anchor_k + n, dtype=np.float64)
        return np.asarray(self._anchor_t + steps * self._period, dtype=np.float64)

    def _after_last(self, times: FloatArray) -> FloatArray:
        """Shifts the packet later if it would start too close to (or before) the last sample."""
        if self._last_t is None:
            return times
        earliest = self._last_t + _MIN_SPACING * self._period
        if times[0] < earliest:
            return np.asarray(times + (earliest - times[0]), dtype=np.float64)
        return times

    def _observe(self, k: int, arrival_s: float) -> None:
        self._points.append((k, arrival_s))
        while self._points and arrival_s - self._points[0][1] > self.window_s:
            self._points.popleft()
        self._updates += 1
        early = self._updates & (self._updates - 1) == 0  # refit often while the fit is young
        if early or arrival_s - self._last_update_s >= self.update_every_s:
            self._refit(arrival_s)

    def _refit(self, now_s: float) -> None:
        """Moves the line onto the lower envelope of the recent arrivals."""
        self._last_update_s = now_s
        ks = np.fromiter((p[0] for p in self._points), dtype=np.float64)
        arrivals = np.fromiter((p[1] for p in self._points), dtype=np.float64)
        if ks.shape[0] < 2:
            return
        residuals = arrivals - (self._anchor_t + (ks - self._anchor_k) * self._period)
        span_s = arrivals[-1] - arrivals[0]
        if span_s >= _MIN_SLOPE_SPAN_S:
            middle = arrivals[0] + span_s / 2.0
            early_half = arrivals <= middle
            a = int(np.argmin(np.where(early_half, residuals, np.inf)))
            b = int(np.argmin(np.where(early_half, np.inf, residuals)))
            dk = ks[b] - ks[a]
            if dk > 0:
                period = (arrivals[b] - arrivals[a]) / dk
                low, high = _PERIOD_RATIO_LIMITS
                if low < period / self.nominal_period_s < high:
                    self._period = float(period)
                    self._anchor_k, self._anchor_t = int(ks[b]), float(arrivals[b])
                    return
        best = int(np.argmin(residuals))
        self._anchor_k, self._anchor_t = int(ks[best]), float(arrivals[best])
