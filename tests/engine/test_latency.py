"""How soon reps leave: a clear circle opens its set alone, and the daemon's hop lets reps out
about 0.2 s after their end with the same events as the analysis default."""

from __future__ import annotations

from sensord.daemon import LIVE_HOP_S
from sensord.detect.ankle_circle import Circle
from sensord.detect.recognizer import Recognizer
from sensord.model import Event, ImuBlock
from sensord.pipeline import HOP_S, Pipeline, PipelineConfig
from sensord.routine import DEFAULT_ROUTINE
from sensord.sim import SimSpec, simulate


def _circle(t_start: float, size_deg: float, aspect: float = 0.7) -> Circle:
    return Circle(t_start=t_start, t_end=t_start + 1.5, t_known=t_start + 1.5, direction="cw",
                  size_deg=size_deg, aspect=aspect, valid=True)


def test_a_clear_circle_opens_its_set_at_once() -> None:
    events = Recognizer(DEFAULT_ROUTINE).add(_circle(10.0, 25.0))
    assert [e.type for e in events] == ["exercise", "rep"]
    assert events[1].t_end == 11.5


def test_a_small_or_flat_circle_waits_for_the_next() -> None:
    for size, aspect in ((10.0, 0.7), (25.0, 0.2)):
        recognizer = Recognizer(DEFAULT_ROUTINE)
        assert recognizer.add(_circle(10.0, size, aspect)) == []
        events = recognizer.add(_circle(11.5, size, aspect))
        assert [e.type for e in events] == ["exercise", "rep", "rep"]


def _fed(block: ImuBlock, hop_s: float) -> tuple[list[Event], list[float]]:
    """Events from 5-sample blocks, and each rep's sample-time latency to the feed that
    returned it."""
    pipeline = Pipeline(PipelineConfig(hop_s=hop_s))
    events: list[Event] = []
    latencies: list[float] = []
    for piece in block.split([5] * (len(block) // 5 + 1)):
        if not len(piece):
            continue
        new = pipeline.feed(piece)
        events.extend(new)
        latencies.extend(float(piece.t_s[-1]) - e.t_end for e in new
                         if e.type == "rep" and e.t_end is not None)
    events.extend(pipeline.finish())
    return events, latencies


def test_the_daemon_hop_lets_circles_out_within_a_quarter_second() -> None:
    sim = simulate(SimSpec(routine="ankle_circle", seed=3, rate_hz=100.0))
    live, live_latencies = _fed(sim.block, LIVE_HOP_S)
    batch, batch_latencies = _fed(sim.block, HOP_S)
    assert live == batch
    assert len(live_latencies) == 20
    assert max(live_latencies) < 0.25
    # The analysis default buffers 0.3 s more: the same reps, later.
    assert max(batch_latencies) > 0.3
