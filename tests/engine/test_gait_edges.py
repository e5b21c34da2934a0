"""Landings at the edges of the stream, and the toe-walking tracker's judgement calls.

A landing just before a break (the wearable out of range) or the end of a recording must still
be counted: the detector cannot wait for samples that will never come. Time lost in a break is
not a rest between bouts, and one flatter landing amid tiptoe strides stays in the bout.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from sensord.detect.base import Stride
from sensord.detect.toe_walk import ToeWalkTracker
from sensord.model import Event, ImuBlock
from sensord.pipeline import analyze
from sensord.sim import SimSpec, simulate


@cache
def _toe_walking() -> tuple[ImuBlock, tuple[float, ...]]:
    sim = simulate(SimSpec(routine="toe_walk", seed=3, rate_hz=100.0, loss=0.0,
                           mounting_max_deg=0.0))
    toe = tuple(s.t for s in sim.truth.steps if s.exercise == "toe_walk")
    return sim.block, toe


def _toe_steps(events: list[Event]) -> list[float]:
    return [e.t for e in events if e.type == "step" and e.exercise == "toe_walk"]


def _matched(truth: float, steps: list[float]) -> bool:
    return any(abs(truth - t) < 0.15 for t in steps)


def test_landing_just_before_the_end_is_counted() -> None:
    block, toe = _toe_walking()
    # The recording stops 0.4 s after a landing in the middle of a bout.
    landing = toe[5]
    end = int(np.searchsorted(block.t_s, landing + 0.4))
    steps = _toe_steps(analyze(block.slice(0, end)))
    assert _matched(landing, steps)
    assert len([t for t in toe if t <= landing]) - len(steps) <= 1


def test_landing_just_before_a_break_is_counted() -> None:
    block, toe = _toe_walking()
    landing = toe[5]
    cut = int(np.searchsorted(block.t_s, landing + 0.4))
    resume = int(np.searchsorted(block.t_s, landing + 4.0))
    gapped = ImuBlock.concat([block.slice(0, cut), block.slice(resume, len(block))])
    steps = _toe_steps(analyze(gapped))
    assert _matched(landing, steps)


def _stride(t: float, kind: str) -> Stride:
    return Stride(t_land=t, t_swing_start=t - 0.4, t_known=t + 1.0,
                  kind="toe" if kind == "toe" else "walk",
                  stance_pitch_deg=-20.0 if kind == "toe" else 0.0,
                  landing_pitch_deg=-20.0 if kind == "toe" else 15.0)


def _run(kinds: str, period: float = 1.0, unseen_at: int | None = None,
         unseen_s: float = 0.0, pause_s: float = 0.0) -> list[tuple[str, str, int]]:
    tracker = ToeWalkTracker()
    news = []
    t = 0.0
    for n, kind in enumerate(kinds):
        if n == unseen_at:
            tracker.unseen(unseen_s)
            t += pause_s
        news.extend(tracker.add(_stride(t, "toe" if kind == "T" else "walk")))
        t += period
    news.extend(tracker.finish())
    return [(item.kind, item.exercise, item.steps) for item in news]


def test_one_flat_landing_in_a_bout_belongs_to_it() -> None:
    news = _run("TTTTWTTT")
    assert ("bout_end", "toe_walk", 8) in news
    assert not [n for n in news if n[1] == "walk"]


def test_one_flat_landing_in_a_starting_run_belongs_to_it_but_does_not_start_a_bout() -> None:
    # Two tiptoe strides, a flatter one, then one more: three tiptoe strides make the bout.
    assert ("bout_end", "toe_walk", 4) in _run("TTWT")
    # Two tiptoe strides and a flatter one: no bout, three ordinary steps.
    news = _run("TTWW")
    assert not [n for n in news if n[0] == "bout_start"]
    assert len([n for n in news if n == ("step", "walk", 0)]) == 4


def test_two_flat_landings_end_the_bout() -> None:
    news = _run("TTTTWWTTT")
    ends = [n for n in news if n[0] == "bout_end"]
    assert ends == [("bout_end", "toe_walk", 4), ("bout_end", "toe_walk", 3)]


def test_time_lost_in_a_break_is_not_a_rest() -> None:
    # 4 s between landings: a rest, unless 2 s of it were lost to a break.
    rested = _run("TTTTTT", unseen_at=3, pause_s=3.0)
    assert [n for n in rested if n[0] == "bout_end"] == [
        ("bout_end", "toe_walk", 3), ("bout_end", "toe_walk", 3)]
    lost = _run("TTTTTT", unseen_at=3, unseen_s=2.0, pause_s=3.0)
    assert [n for n in lost if n[0] == "bout_end"] == [("bout_end", "toe_walk", 6)]


def test_tiptoe_landings_are_timed_at_the_impact() -> None:
    """A forefoot may touch before the foot stops pitching: the landing is the impact, not
    the later zero crossing of the pitch rate (which the impact's ringing delays)."""
    close = near = total = 0
    for seed in (0, 1, 2):
        spec = SimSpec(routine="toe_walk", seed=seed, side="left" if seed % 2 else "right",
                       rate_hz=(50.0, 100.0, 200.0)[seed], loss=0.02)
        sim = simulate(spec)
        steps = np.array(_toe_steps(analyze(sim.block)))
        truth = [s.t for s in sim.truth.steps if s.exercise == "toe_walk"]
        total += len(truth)
        errors = [float(np.min(np.abs(steps - t))) if steps.size else 9.0 for t in truth]
        close += sum(e < 0.05 for e in errors)
        near += sum(e < 0.15 for e in errors)
    assert total >= 300
    assert close / total >= 0.8  # 0.86 measured (0.70 when timed at the zero crossing)
    assert near / total >= 0.95  # 0.97 measured
