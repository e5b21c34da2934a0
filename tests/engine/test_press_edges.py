"""Toe presses at the edges of what the pitch shows: lost packets inside a small hold, and a
press right after stepping onto the ball (simulated routine sessions where both happen)."""

from __future__ import annotations

from sensord.model import Event
from sensord.pipeline import PipelineConfig, analyze
from sensord.sim import SimSpec, simulate


def _press_reps(seed: int) -> tuple[list[Event], list[tuple[float, float]]]:
    spec = SimSpec(routine="default", seed=seed, side="left" if seed % 2 else "right",
                   rate_hz=(50.0, 100.0, 104.0, 200.0)[seed % 4], mounting_max_deg=25.0,
                   loss=0.02)
    sim = simulate(spec)
    events = analyze(sim.block, PipelineConfig(side=spec.side))
    reps = [e for e in events if e.type == "rep" and e.exercise == "toe_press"]
    truth = [(r.t_start, r.t_end) for r in sim.truth.reps if r.exercise == "toe_press"]
    return reps, truth


def _overlapping(reps: list[Event], span: tuple[float, float]) -> list[Event]:
    return [r for r in reps
            if r.t_start is not None and r.t_end is not None
            and min(r.t_end, span[1]) - max(r.t_start, span[0]) > 0.5]


def test_lost_packets_inside_a_hold_do_not_split_the_press() -> None:
    # Seed 9: 0.19 s and 0.37 s of packets lost in the last press's 6 s hold, where the pitch
    # of a 2 degree press dips by half its height.
    reps, truth = _press_reps(9)
    assert len(truth) == 10
    assert len(_overlapping(reps, truth[-1])) == 1
    assert len(reps) == 10


def test_a_press_right_after_stepping_onto_the_ball_counts() -> None:
    # Seed 6: the first press starts 1.3 s after the foot settles on the ball; the step up and
    # the press together rise further than any press.
    reps, truth = _press_reps(6)
    assert len(_overlapping(reps, truth[0])) == 1
    assert len(reps) == 10
