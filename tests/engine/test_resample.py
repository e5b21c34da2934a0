"""The 50 Hz grid resampler: accuracy, gaps, and identical output for any block boundaries."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.dsp.resample import GRID_DT_S, GridChunk, Resampler


def _signal(rate_hz: float, seconds: float = 6.0, drop: slice | None = None) -> np.ndarray:
    t = np.arange(0.0, seconds, 1.0 / rate_hz) + 0.0031
    if drop is not None:
        t = np.delete(t, np.arange(t.shape[0])[drop])
    return t


def _feed(t: np.ndarray, sizes: list[int] | None = None) -> tuple[list[GridChunk], Resampler]:
    acc = np.column_stack((np.sin(2 * t), np.cos(3 * t), 9.81 + 0 * t))
    gyro = np.column_stack((0.5 * np.sin(t), 0 * t, t * 0.01))
    resampler = Resampler()
    out: list[GridChunk] = []
    start = 0
    for size in [*(sizes or []), t.shape[0]]:
        stop = min(t.shape[0], start + size)
        out += resampler.feed(t[start:stop], acc[start:stop], gyro[start:stop])
        start = stop
        if start >= t.shape[0]:
            break
    return out, resampler


def _flat(chunks: list[GridChunk]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    k = np.concatenate([c.k0 + np.arange(len(c)) for c in chunks])
    acc = np.concatenate([c.acc_m_s2 for c in chunks])
    gyro = np.concatenate([c.gyro_rad_s for c in chunks])
    valid = np.concatenate([c.valid for c in chunks])
    return k, acc, gyro, valid


def test_grid_values_follow_the_signal_at_every_rate() -> None:
    for rate in (25.0, 50.0, 104.0, 204.8, 400.0):
        chunks, stats = _feed(_signal(rate))
        k, acc, _, _ = _flat(chunks)
        t = k * GRID_DT_S
        assert np.all(np.diff(k) == 1)
        # A cell mean of sin(2t) over 20 ms differs from sin(2t) at its centre by < 1e-3.
        assert np.max(np.abs(acc[:, 0] - np.sin(2 * t))) < 2e-3, rate
        assert stats.stats.gaps == 0


def test_short_gap_is_bridged_and_flagged_long_gap_breaks() -> None:
    t = _signal(100.0, 10.0)
    t = np.delete(t, np.r_[200:215, 500:600])  # 0.16 s gap, then a 1.01 s gap
    chunks, resampler = _feed(t)
    assert len(chunks) == 2
    first, second = chunks
    assert (~first.valid).sum() >= 6  # the cells inside the 0.16 s gap are marked
    assert second.k0 - (first.k0 + len(first)) > 40  # no cells invented across a second
    assert resampler.stats.gaps == 2
    assert resampler.stats.breaks == 1


def test_out_of_order_samples_are_dropped_and_counted() -> None:
    t = _signal(100.0, 2.0)
    t[50] = t[49]  # a repeated timestamp
    _, resampler = _feed(t)
    assert resampler.stats.samples_dropped == 1


def test_clock_reset_starts_a_new_segment() -> None:
    t = np.concatenate((_signal(100.0, 3.0), _signal(100.0, 3.0)))
    chunks, resampler = _feed(t)
    assert resampler.stats.clock_resets == 1
    assert len(chunks) == 2


def test_clock_reset_at_a_block_boundary_gives_the_same_grid() -> None:
    # A wearable that restarts sends its next notification from time zero: the reset is then
    # the first sample of a block.
    t = np.concatenate((_signal(100.0, 3.0), _signal(100.0, 3.0)))
    whole, _ = _feed(t)
    split, resampler = _feed(t, [t.shape[0] // 2])
    assert resampler.stats.clock_resets == 1
    assert [c.k0 for c in split] == [c.k0 for c in whole]
    for a, b in zip(_flat(whole), _flat(split), strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.sampled_from([25.0, 52.0, 100.0, 208.0, 400.0]),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=400),
)
def test_block_boundaries_do_not_change_a_single_bit(rate: float, sizes: list[int]) -> None:
    t = _signal(rate, 5.0, drop=slice(100, 160))
    whole, _ = _feed(t)
    split, _ = _feed(t, sizes)
    for a, b in zip(_flat(whole), _flat(split), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_cell_completed_after_its_gap_is_still_flagged() -> None:
    """A cell whose centre lies in a gap but whose right edge lies past the gap's end is
    completed by a later sample; fed one sample at a time it must be flagged all the same."""
    t = _signal(200.0, 4.0)
    # A 0.2 s gap ending just before a cell's right edge: the sample after the gap completes
    # no cell, the next one completes the cell whose centre lies in the gap.
    end = int(np.searchsorted(t, 2.0086))
    t = np.delete(t, np.r_[end - 40:end])
    whole, _ = _feed(t)
    ones, _ = _feed(t, [1] * t.shape[0])
    for a, b in zip(_flat(whole), _flat(ones), strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.sampled_from([25.0, 100.0, 400.0]),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=200),
    per_flush=st.integers(1, 6),
    piece=st.sampled_from([1, 7, 64, 4096]),
)
def test_staged_samples_give_the_same_grid_as_fed_ones(
    rate: float, sizes: list[int], per_flush: int, piece: int
) -> None:
    """Blocks staged and flushed a few at a time (the pipeline's live path), in pieces of any
    size, give the grid and counters of the samples fed at once."""
    t = _signal(rate, 5.0, drop=slice(100, 160))
    t = np.concatenate((t[:300], t[300:] + 0.7, t[-5:] - 9.0))  # a break, a clock reset
    whole, fed = _feed(t)
    acc = np.column_stack((np.sin(2 * t), np.cos(3 * t), 9.81 + 0 * t))
    gyro = np.column_stack((0.5 * np.sin(t), 0 * t, t * 0.01))
    resampler = Resampler()
    staged: list[GridChunk] = []
    start = 0
    for i, size in enumerate([*sizes, t.shape[0]]):
        stop = min(t.shape[0], start + size)
        resampler.stage(t[start:stop], acc[start:stop], gyro[start:stop])
        start = stop
        if i % per_flush == 0 or start >= t.shape[0]:
            staged += resampler.flush(piece)
        if start >= t.shape[0]:
            break
    assert resampler.stats == fed.stats
    for a, b in zip(_flat(whole), _flat(staged), strict=True):
        np.testing.assert_array_equal(a, b)
