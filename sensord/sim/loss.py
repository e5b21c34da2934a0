"""Packet loss on the radio link.

A BLE wearable sends its samples in packets of a few samples each (5-20 here). Lost packets
take all their samples with them, and losses come in short bursts (interference lasts longer
than one connection event), so whole runs of packets are dropped at random, never the first one
(the recording clock starts at the first sample), until the requested fraction is reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MEAN_BURST_PACKETS = 1.6


@dataclass(frozen=True, slots=True)
class LossResult:
    """Which samples survive: a boolean mask (n,), plus counts for the truth."""

    keep: np.ndarray
    packet_samples: int
    packets: int
    lost_packets: int

    @property
    def lost_samples(self) -> int:
        return int(self.keep.size - np.count_nonzero(self.keep))


def drop_packets(n_samples: int, fraction: float, packet_samples: int,
                 rng: np.random.Generator) -> LossResult:
    """Drops bursts of whole packets until ``round(fraction * packets)`` are gone."""
    packets = -(-n_samples // packet_samples)
    target = min(round(fraction * packets), max(packets - 1, 0))
    lost = np.zeros(packets, dtype=bool)
    count = 0
    while count < target:
        start = int(rng.integers(1, packets))
        length = int(rng.geometric(1.0 / _MEAN_BURST_PACKETS))
        for p in range(start, min(start + length, packets)):
            if count >= target:
                break
            if not lost[p]:
                lost[p] = True
                count += 1
    keep = np.repeat(~lost, packet_samples)[:n_samples]
    return LossResult(keep, packet_samples, packets, count)
