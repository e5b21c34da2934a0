"""An endless stream of simulated sessions, for the virtual wearable and the demo.

Session after session (seeds ``seed``, ``seed + 1``, ...) is synthesised and cut into blocks of
the wearable's notification size; timestamps continue from one session to the next (one sample
period apart), so a consumer sees one long recording on a single clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from sensord.model import ImuBlock
from sensord.sim.session import SimSpec, Simulation, simulate


def sessions(spec: SimSpec, count: int | None = None) -> Iterator[tuple[float, Simulation]]:
    """Yields (time offset s, simulation) for ``count`` sessions (forever if None)."""
    offset = 0.0
    index = 0
    while count is None or index < count:
        sim = simulate(dataclasses.replace(spec, seed=spec.seed + index))
        yield offset, sim
        offset += sim.truth.duration_s + 1.0 / spec.rate_hz
        index += 1


def stream_blocks(spec: SimSpec, block_samples: int = 10,
                  count: int | None = None) -> Iterator[ImuBlock]:
    """Blocks of ``block_samples`` samples from endless (or ``count``) sessions.

    Lost packets (``spec.loss``) are simply absent, as on a real link; blocks never span two
    sessions.
    """
    if block_samples < 1:
        raise ValueError("block_samples must be >= 1")
    for offset, sim in sessions(spec, count):
        block = sim.block
        for start in range(0, len(block), block_samples):
            part = block.slice(start, start + block_samples)
            yield ImuBlock(part.t_s + offset, part.acc_m_s2, part.gyro_rad_s)
