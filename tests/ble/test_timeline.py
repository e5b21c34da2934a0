"""Sample times from device indices and host arrivals: alignment, drift, gaps, duplicates."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.ble.timeline import SampleClock

RATE_HZ = 100.0


def _stream(
    seconds: float,
    *,
    device_rate_hz: float = RATE_HZ,
    per_packet: int = 5,
    min_latency_s: float = 0.004,
    jitter_s: float = 0.006,
    seed: int = 0,
) -> list[tuple[float, int, int]]:
    """(arrival, n, first index) for packets of a device sampling at ``device_rate_hz`` (its
    own clock may be off from what it claims), with latency = min + exponential jitter."""
    rng = np.random.default_rng(seed)
    packets = []
    count = int(seconds * device_rate_hz) // per_packet
    for p in range(count):
        first = p * per_packet
        taken_s = 100.0 + (first + per_packet - 1) / device_rate_hz
        arrival = taken_s + min_latency_s + rng.exponential(jitter_s)
        packets.append((arrival, per_packet, first))
    packets.sort()  # the link sees them in arrival order
    return packets


def _true_times(first: int, n: int, device_rate_hz: float) -> np.ndarray:
    return 100.0 + np.arange(first, first + n) / device_rate_hz


def test_times_follow_the_device_clock_not_the_arrival_jitter() -> None:
    clock = SampleClock(RATE_HZ)
    errors = []
    spacing = []
    last = None
    for arrival, n, first in _stream(30.0):
        placed = clock.place(arrival, n, first)
        assert placed is not None
        truth = _true_times(first, n, RATE_HZ) + 0.004  # true time + minimum latency
        if arrival > 110.0:  # after 10 s of fitting
            errors.extend(placed.t_s - truth)
        if last is not None:
            spacing.append(placed.t_s[0] - last)
        spacing.extend(np.diff(placed.t_s))
        last = placed.t_s[-1]
    errors_ms = np.abs(np.asarray(errors)) * 1e3
    assert errors_ms.max() < 3.0, f"worst error {errors_ms.max():.2f} ms"
    # Arrival jitter (mean 6 ms) must not show in the spacing of the times.
    assert np.percentile(np.abs(np.asarray(spacing) - 0.01), 99) < 0.0015


def test_device_clock_drift_is_tracked() -> None:
    device_rate = RATE_HZ * (1 + 300e-6)  # a crystal 300 ppm fast
    clock = SampleClock(RATE_HZ)
    worst = 0.0
    for arrival, n, first in _stream(120.0, device_rate_hz=device_rate):
        placed = clock.place(arrival, n, first)
        assert placed is not None
        if arrival > 120.0:
            truth = _true_times(first, n, device_rate) + 0.004
            worst = max(worst, float(np.abs(placed.t_s - truth).max()))
    assert abs(clock.rate_hz / device_rate - 1) < 50e-6
    assert worst < 0.003


def test_a_device_that_silently_halves_its_rate_is_followed() -> None:
    clock = SampleClock(RATE_HZ)
    for arrival, n, first in _stream(10.0):
        clock.place(arrival, n, first)
    base = 1000
    for arrival, n, first in _stream(20.0, device_rate_hz=50.0, seed=3):
        clock.place(arrival + 10.0, n, base + first)
    assert abs(clock.rate_hz - 50.0) < 0.5


def test_counter_gaps_are_reported_exactly_and_never_filled() -> None:
    clock = SampleClock(RATE_HZ)
    packets = _stream(5.0)
    dropped = {40, 41, 42, 77}
    placed_count = 0
    for i, (arrival, n, first) in enumerate(packets):
        if i in dropped:
            continue
        placed = clock.place(arrival, n, first)
        assert placed is not None
        placed_count += placed.t_s.shape[0]
        if i in (43, 78):
            assert placed.gap is not None
            assert placed.gap.cause == "loss"
            assert placed.gap.samples == (15 if i == 43 else 5)
            assert abs(placed.gap.duration_s - (placed.gap.samples + 1) / RATE_HZ) < 0.003
        else:
            assert placed.gap is None
    assert clock.gaps == 2
    assert clock.lost_samples == 20
    assert placed_count == clock.samples == (len(packets) - 4) * 5


def test_duplicates_and_late_packets_are_dropped_and_counted() -> None:
    clock = SampleClock(RATE_HZ)
    a = clock.place(1.000, 5, 0)
    b = clock.place(1.050, 5, 5)
    assert a is not None
    assert b is not None
    assert clock.place(1.051, 5, 5) is None  # the same packet again
    partial = clock.place(1.100, 5, 8)  # overlaps the last two samples
    assert partial is not None
    assert partial.skip == 2
    assert partial.t_s.shape == (3,)
    assert clock.place(1.101, 5, 0) is None  # a late, reordered packet
    assert clock.duplicates == 5 + 2 + 5
    assert partial.t_s[0] > b.t_s[-1]


def test_a_new_epoch_restarts_the_counter_and_reports_the_reconnect_gap() -> None:
    clock = SampleClock(RATE_HZ)
    for arrival, n, first in _stream(2.0):
        clock.place(arrival, n, first)
    last = clock.last_t_s
    assert last is not None
    clock.new_epoch()
    placed = clock.place(last + 0.5, 5, 0)  # half a second later, the counter from zero
    assert placed is not None
    assert placed.gap is not None
    assert placed.gap.cause == "reconnect"
    assert 40 <= placed.gap.samples <= 50
    assert placed.t_s[0] > last


def test_a_wild_counter_jump_resynchronises_instead_of_jumping_the_clock() -> None:
    clock = SampleClock(RATE_HZ)
    clock.place(1.0, 5, 0)
    placed = clock.place(1.05, 5, 1_000_000)
    assert placed is not None
    assert placed.t_s[-1] < 1.1
    assert clock.resyncs == 1


def test_without_an_index_long_silences_count_as_loss() -> None:
    clock = SampleClock(RATE_HZ)
    arrival = 1.0
    for _ in range(100):
        arrival += 0.05
        assert clock.place(arrival, 5, None) is not None
    arrival += 1.0  # 100 samples never arrived
    placed = clock.place(arrival + 0.05, 5, None)
    assert placed is not None
    assert placed.gap is not None
    assert 95 <= placed.gap.samples <= 105


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 20), min_size=1, max_size=80),
    latencies=st.lists(st.floats(0.0, 0.08), min_size=80, max_size=80),
    drop=st.sets(st.integers(0, 79), max_size=10),
    repeat=st.sets(st.integers(0, 79), max_size=10),
    restart_at=st.one_of(st.none(), st.integers(0, 79)),
)
def test_times_always_increase_and_every_sample_is_accounted_for(
    sizes: list[int], latencies: list[float], drop: set[int], repeat: set[int],
    restart_at: int | None,
) -> None:
    clock = SampleClock(RATE_HZ)
    first = 0
    last_t = -np.inf
    offered = kept = 0
    counter_gaps = 0
    expected_next: int | None = None  # a stream starts at its first packet, whatever its index
    host_s = 10.0
    arrival = 0.0
    for i, n in enumerate(sizes):
        if i == restart_at:
            clock.new_epoch()
            first = 0
            expected_next = None
            host_s += 0.3  # the reconnect takes a while
        host_s += n / RATE_HZ
        arrival = max(arrival, host_s + latencies[i])  # BLE delivers in order
        if i not in drop:
            for _ in range(2 if i in repeat else 1):
                placed = clock.place(arrival, n, first)
                offered += n
                if placed is None:
                    continue
                assert placed.t_s.shape[0] == n - placed.skip
                assert np.all(np.diff(placed.t_s) > 0)
                assert placed.t_s[0] > last_t
                last_t = placed.t_s[-1]
                kept += placed.t_s.shape[0]
                if expected_next is not None and first > expected_next:
                    counter_gaps += first - expected_next
                expected_next = first + n
        first += n
    assert kept == clock.samples
    assert offered == kept + clock.duplicates
    reconnect_lost = clock.lost_samples - counter_gaps
    assert reconnect_lost >= 0
