"""Accuracy on simulated sessions (the engine issue's figures; bench/bench_accuracy.py prints
them for more seeds).

Sessions alternate sides and rates (50-200 Hz), mount the sensor up to 25 degrees off and lose
2 % of packets. The tests assert the issue's targets (seeds 12-35, which no constant was tuned
on, give the same figures: README).
"""

from __future__ import annotations

import statistics
from functools import cache

from sensord.pipeline import PipelineConfig, analyze
from sensord.scoring import SessionScore, score_session
from sensord.sim import SimSpec, simulate

RATES = (50.0, 100.0, 104.0, 200.0)


@cache
def _score(routine: str, seeds: tuple[int, ...], placement: str = "instep") -> SessionScore:
    total = SessionScore()
    for seed in seeds:
        spec = SimSpec(
            routine=routine, seed=seed, side="left" if seed % 2 else "right",
            placement=placement,  # type: ignore[arg-type]
            rate_hz=RATES[seed % len(RATES)], mounting_max_deg=25.0, loss=0.02,
        )
        sim = simulate(spec)
        events = analyze(sim.block, PipelineConfig(placement=spec.placement, side=spec.side))
        total.merge(score_session(events, sim.truth.to_json_dict()))
    return total


def _routine() -> SessionScore:
    return _score("default", tuple(range(12)))


def test_circle_directions_are_right() -> None:
    score = _routine()
    assert score.directions_checked >= 200
    assert score.direction_accuracy >= 0.99


def test_holds_are_timed_within_a_third_of_a_second() -> None:
    score = _routine()
    assert len(score.hold_errors_s) >= 200
    assert statistics.median(score.hold_errors_s) <= 0.3


def test_sets_are_counted() -> None:
    score = _routine()
    assert len(score.sets) == 60
    assert score.fraction_exact("plantar_flexion") >= 0.95
    assert score.fraction_exact() >= 0.95
    assert score.fraction_within_one() == 1.0


def test_tiptoe_landings_are_found() -> None:
    score = _routine()
    assert score.toe_landings_truth >= 1000
    assert 0.97 <= score.toe_landing_ratio <= 1.03
    assert statistics.median(score.landing_errors_s) <= 0.1


def test_everyday_activity_gives_almost_no_reps() -> None:
    score = _score("everyday", (0, 1, 2, 3))
    assert score.everyday_minutes >= 20
    assert score.false_reps_per_minute <= 0.2
    routine = _routine()
    assert routine.false_reps_per_minute <= 0.2


def test_the_shank_counts_steps_but_no_foot_exercises() -> None:
    """Worn on the shank: landings are found; flexion, circles and presses are not counted
    (the shank barely turns in them: README)."""
    score = _score("default", (0, 1), "ankle")
    assert all(
        s.counted_reps == 0 for s in score.sets if s.exercise != "toe_walk"
    )
    assert score.false_reps_per_minute <= 0.2
    assert statistics.median(score.landing_errors_s) <= 0.1
    # Tiptoe strides are told by how the shank swings in and rolls on: most, not all.
    assert score.toe_landings_truth >= 200
    assert 0.7 <= score.toe_landing_ratio <= 1.1
