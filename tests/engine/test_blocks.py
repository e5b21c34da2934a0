"""The pipeline gives the same events however the samples are split into blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensord.model import Event, ImuBlock
from sensord.pipeline import Pipeline, analyze
from sensord.recording import read_recording


def _split_run(block: ImuBlock, sizes: list[int]) -> list[Event]:
    pipeline = Pipeline()
    events: list[Event] = []
    for piece in block.split(sizes):
        events.extend(pipeline.feed(piece))
    return [*events, *pipeline.finish()]


RECORDINGS = ("stairs_down_left", "stairs_up_left", "walk_2x20m_raw_mounting_right")


@pytest.fixture(scope="module", params=RECORDINGS)
def stairs_block(shared_data: Path, request: pytest.FixtureRequest) -> ImuBlock:
    return read_recording(shared_data / "gaitmap_walk" / f"{request.param}.csv").block


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_block_boundaries_give_identical_events(
    stairs_block: ImuBlock, data: st.DataObject
) -> None:
    whole = analyze(stairs_block)
    assert any(e.type == "step" for e in whole)
    style = data.draw(st.sampled_from(["live", "random", "ones"]))
    n = len(stairs_block)
    if style == "live":
        size = data.draw(st.integers(5, 20))
        sizes = [size] * (n // size + 1)
    elif style == "ones":
        sizes = [1] * n
    else:
        sizes = data.draw(st.lists(st.integers(1, 700), min_size=1, max_size=200))
    assert _split_run(stairs_block, sizes) == whole
