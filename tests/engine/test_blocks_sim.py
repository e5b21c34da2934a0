"""Block boundaries on simulated sessions that hold every exercise and everyday movement."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.model import Event, ImuBlock
from sensord.pipeline import Pipeline, analyze
from sensord.sim import SimSpec, simulate

SESSIONS = (("mixed", 1), ("default", 1), ("everyday", 2))


@cache
def _session(index: int) -> tuple[ImuBlock, tuple[Event, ...]]:
    routine, seed = SESSIONS[index]
    block = simulate(SimSpec(routine=routine, seed=seed, rate_hz=100.0, loss=0.02)).block
    return block, tuple(analyze(block))


@settings(max_examples=10, deadline=None)
@given(
    index=st.sampled_from(range(len(SESSIONS))),
    size=st.sampled_from([1, 5, 7, 10, 20, 333]),
    jitter=st.integers(0, 3),
)
def test_live_blocks_give_the_batch_events(index: int, size: int, jitter: int) -> None:
    block, expected = _session(index)
    assert expected  # steps at least; reps too in the routine sessions
    pipeline = Pipeline()
    events: list[Event] = []
    sizes = [size + (i % (jitter + 1)) for i in range(len(block) // size + 1)]
    for piece in block.split(sizes):
        events.extend(pipeline.feed(piece))
    events.extend(pipeline.finish())
    assert tuple(events) == expected
