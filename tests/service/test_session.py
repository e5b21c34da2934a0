"""Workout tracking against the routine, fed with the pipeline's event objects."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.config import SessionConfig, parse_config
from sensord.model import ActivityState, Event
from sensord.routine import DEFAULT_ROUTINE, ExerciseTarget, Routine
from sensord.session import (
    SampleClock,
    SessionStart,
    SessionSummary,
    WorkoutTracker,
    iso_utc,
)

WALL0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def holds(exercise: str, t0: float, holds_s: list[float]) -> tuple[list[Event], float]:
    """Hold reps of 2 s movement plus the hold, 1 s apart, then the pipeline's set event."""
    events = [Event("exercise", exercise, t=t0)]
    t = t0
    for hold in holds_s:
        events.append(Event("rep", exercise, t_start=t, t_end=t + 2 + hold, hold_s=hold))
        t += 3 + hold
    events.append(Event("set", exercise, t_start=t0, t_end=t, reps=len(holds_s), target=10))
    return events, t + 2


def circles(t0: float, directions: list[str]) -> tuple[list[Event], float]:
    events = [Event("exercise", "ankle_circle", t=t0)]
    t = t0
    for direction in directions:
        events.append(Event("rep", "ankle_circle", t_start=t, t_end=t + 1.5,
                            direction=direction))  # type: ignore[arg-type]
        t += 1.5
    events.append(Event("set", "ankle_circle", t_start=t0, t_end=t, reps=len(directions)))
    return events, t + 2


def bouts(t0: float, lengths_s: list[float], rests_s: list[float]) -> tuple[list[Event], float]:
    events = [Event("exercise", "toe_walk", t=t0)]
    t = t0
    for index, length in enumerate(lengths_s):
        steps = int(length)
        events.extend(Event("step", "toe_walk", t=t + k + 0.5) for k in range(steps))
        events.append(Event("rep", "toe_walk", t_start=t, t_end=t + length, steps=steps))
        t += length + (rests_s[index] if index < len(rests_s) else 0.0)
    events.append(Event("set", "toe_walk", t_start=t0, t_end=t, reps=len(lengths_s)))
    return events, t + 2


def full_routine(t0: float = 100.0) -> tuple[list[Event], float]:
    out: list[Event] = []
    part, t = holds("plantar_flexion", t0, [5.2] * 10)
    out += part
    part, t = circles(t, ["cw"] * 10 + ["ccw"] * 10)
    out += part
    part, t = holds("toe_press", t, [5.5] * 10)
    out += part
    part, t = bouts(t, [12.0] * 10, [10.5] * 9)
    out += part
    return out, t


def run(events: list[Event], tracker: WorkoutTracker | None = None) -> list[object]:
    tracker = tracker or WorkoutTracker(device="left", side="left")
    out: list[object] = []
    for event in events:
        out += tracker.feed([event], WALL0 + event.time_s)
    out += tracker.finish()
    return out


def only_summary(out: list[object]) -> SessionSummary:
    summaries = [e for e in out if isinstance(e, SessionSummary)]
    assert len(summaries) == 1, out
    return summaries[0]


def test_a_full_routine_is_complete() -> None:
    events, _t_end = full_routine()
    out = run(events)
    assert isinstance(out[0], SessionStart)
    assert out[0].reason == "auto"
    assert out[0].t_s == 100.0
    summary = only_summary(out)
    assert summary.missing == ()
    assert summary.done == DEFAULT_ROUTINE.exercises
    assert summary.progress == 1.0
    assert summary.reps == 10 + 20 + 10 + 10
    assert summary.end_reason == "finish"
    assert summary.t_start == 100.0
    pf = summary.exercise("plantar_flexion")
    assert pf is not None
    assert (pf.reps, pf.full, pf.short, pf.sets) == (10, 10, 0, 1)
    assert pf.hold_mean_s == 5.2
    circle = summary.exercise("ankle_circle")
    assert circle is not None
    assert circle.directions == {"cw": 10, "ccw": 10}
    assert (circle.done, circle.units) == (20, 20)
    walk = summary.exercise("toe_walk")
    assert walk is not None
    assert (walk.full, walk.steps, walk.short_rests, walk.long_bouts) == (10, 120, 0, 0)
    assert walk.rest_min_s == 10.5
    document = summary.to_dict()
    assert document["type"] == "session"
    assert document["complete"] is True
    assert document["started_at"] == iso_utc(WALL0 + 100.0)
    assert json.loads(json.dumps(document)) == document


def test_short_holds_are_flagged_not_counted() -> None:
    events, _ = holds("plantar_flexion", 0.0, [5.1] * 8 + [3.0, 4.4])
    summary = only_summary(run(events))
    pf = summary.exercise("plantar_flexion")
    assert pf is not None
    assert (pf.reps, pf.full, pf.short) == (10, 8, 2)
    assert pf.hold_min_s == 3.0
    assert not pf.complete
    assert "plantar_flexion" in summary.missing
    assert summary.reps == 8


def test_hold_tolerance_is_configurable() -> None:
    events, _ = holds("toe_press", 0.0, [4.8])
    lenient = WorkoutTracker(config=SessionConfig())  # 0.5 s, as the engine's short_hold flag
    strict = WorkoutTracker(config=SessionConfig(hold_tolerance_s=0.0))
    tp_lenient = only_summary(run(events, lenient)).exercise("toe_press")
    tp_strict = only_summary(run(events, strict)).exercise("toe_press")
    assert tp_lenient is not None
    assert tp_strict is not None
    assert tp_lenient.full == 1
    assert tp_strict.short == 1


def test_circle_directions_are_counted_separately() -> None:
    events, t = circles(0.0, ["cw"] * 12 + ["ccw"] * 4)
    tracker = WorkoutTracker()
    tracker.feed(events, WALL0)
    snapshot = tracker.snapshot(t)
    assert snapshot.next == "ankle_circle"
    assert snapshot.next_direction == "ccw"
    summary = only_summary(tracker.finish())
    circle = summary.exercise("ankle_circle")
    assert circle is not None
    assert circle.directions == {"cw": 12, "ccw": 4}
    assert (circle.done, circle.units) == (14, 20)  # surplus cw circles do not make up for ccw


def test_toe_walking_bouts_and_rests_are_checked() -> None:
    events, _ = bouts(0.0, [12.0, 6.0, 25.0, 15.0], [10.0, 4.0, 12.0])
    walk = only_summary(run(events)).exercise("toe_walk")
    assert walk is not None
    assert (walk.reps, walk.full, walk.short) == (4, 3, 1)  # the 6 s bout is short
    assert walk.long_bouts == 1  # 25 s is past bout_max_s
    assert walk.short_rests == 1  # 4 s rest before the 25 s bout
    assert walk.rest_min_s == 4.0
    assert walk.steps == 12 + 6 + 25 + 15


def test_idle_ends_the_session_at_its_last_activity() -> None:
    config = SessionConfig(idle_end_s=60.0)
    tracker = WorkoutTracker(config=config, device="right")
    first, t = holds("toe_press", 10.0, [5.0] * 3)
    tracker.feed(first, WALL0)
    assert tracker.advance(t + 30) == []
    out = tracker.advance(first[-1].time_s + 60.0)
    summary = only_summary(out)
    assert summary.end_reason == "idle"
    assert summary.t_end == first[-1].time_s
    assert summary.ended_wall_s - summary.started_wall_s == summary.duration_s
    assert not tracker.active
    # Activity after the gap opens a new session with a new id.
    second, _ = holds("toe_press", t + 500, [5.0])
    out = tracker.feed(second, WALL0 + 600)
    assert isinstance(out[0], SessionStart)
    assert out[0].session_id != summary.session_id
    assert out[0].session_id.startswith("right-")


def test_an_event_after_a_long_gap_closes_the_old_session_first() -> None:
    tracker = WorkoutTracker(config=SessionConfig(idle_end_s=60.0))
    a, _ = holds("toe_press", 0.0, [5.0])
    b, _ = holds("toe_press", 1000.0, [5.0, 5.0])
    out = tracker.feed(a + b, WALL0) + tracker.finish()
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["SessionStart", "SessionSummary", "SessionStart", "SessionSummary"]
    # The same wall time (a replay at full speed) still gives two distinct ids.
    ids = [e.session_id for e in out if isinstance(e, SessionSummary)]
    assert len(set(ids)) == 2
    assert [e.reps for e in out if isinstance(e, SessionSummary)] == [1, 2]


def test_walking_neither_starts_nor_keeps_a_session() -> None:
    tracker = WorkoutTracker(config=SessionConfig(idle_end_s=60.0))
    steps = [Event("step", "walk", t=float(k)) for k in range(100)]
    assert tracker.feed(steps, WALL0) == []
    assert not tracker.active
    reps, t = holds("toe_press", 200.0, [5.0])
    out = tracker.feed(reps, WALL0)
    last_activity = reps[-1].time_s
    walking = [Event("step", "walk", t=t + k) for k in range(100)]
    out += tracker.feed(walking, WALL0)
    out += tracker.advance(t + 100)
    summary = only_summary(out)
    assert summary.end_reason == "idle"
    assert summary.t_end == last_activity
    # Steps count while the session is open; the walk then ran past the idle limit.
    assert summary.walk_steps == sum(1 for e in walking if e.time_s < last_activity + 60.0)


def test_commands_start_and_stop_when_auto_start_is_off() -> None:
    tracker = WorkoutTracker(config=SessionConfig(auto_start=False))
    reps, t = holds("toe_press", 0.0, [5.0] * 2)
    assert tracker.feed(reps, WALL0) == []
    assert tracker.ignored_events > 0
    started = tracker.start(t, WALL0 + t)
    assert isinstance(started[0], SessionStart)
    assert started[0].reason == "command"
    assert tracker.start(t + 1, WALL0) == []  # already open
    more, t2 = holds("toe_press", t, [5.0] * 3)
    tracker.feed(more, WALL0 + t2)
    summary = only_summary(tracker.stop(t2 + 5, WALL0 + t2 + 5))
    assert summary.end_reason == "command"
    assert summary.start_reason == "command"
    assert summary.t_end == t2 + 5
    assert summary.reps == 3
    assert tracker.stop(t2 + 6, WALL0) == []


def test_cancel_drops_the_session() -> None:
    tracker = WorkoutTracker()
    reps, _ = holds("toe_press", 0.0, [5.0])
    tracker.feed(reps, WALL0)
    tracker.cancel()
    assert tracker.finish() == []


def test_snapshot_shows_the_set_the_timer_and_what_is_next() -> None:
    tracker = WorkoutTracker()
    assert tracker.snapshot(0.0).to_dict()["active"] is False
    reps, t = holds("plantar_flexion", 0.0, [5.0] * 4)
    tracker.feed(reps[:-1], WALL0)  # the set is still open
    live = ActivityState(t_s=t, exercise="plantar_flexion", reps=4, target=10, hold_s=2.4)
    snapshot = tracker.snapshot(t, live)
    assert snapshot.exercise == "plantar_flexion"
    assert (snapshot.set_reps, snapshot.target) == (4, 10)
    assert snapshot.hold_s == 2.4
    assert snapshot.hold_target_s == 5.0
    assert snapshot.next == "plantar_flexion"
    assert math.isclose(snapshot.progress, 4 / 50)
    data = snapshot.to_dict()
    assert data["exercises"]["plantar_flexion"]["status"] == "in_progress"
    assert data["exercises"]["toe_walk"]["status"] == "todo"
    assert json.loads(json.dumps(data)) == data


def test_next_moves_on_when_an_exercise_is_done() -> None:
    tracker = WorkoutTracker()
    events, t = holds("plantar_flexion", 0.0, [5.0] * 10)
    tracker.feed(events, WALL0)
    assert tracker.snapshot(t).next == "ankle_circle"
    events, t = holds("toe_press", t, [5.0] * 10)
    tracker.feed(events, WALL0)
    assert tracker.snapshot(t).next == "ankle_circle"


def test_rest_timer_runs_after_a_bout() -> None:
    tracker = WorkoutTracker()
    events, _ = bouts(0.0, [12.0], [])
    tracker.feed(events[:-1], WALL0)
    snapshot = tracker.snapshot(18.0)
    assert snapshot.exercise == "toe_walk"
    assert snapshot.rest_s == 6.0
    assert snapshot.rest_target_s == 10.0


def test_reps_outside_the_routine_are_kept_without_a_target() -> None:
    config = parse_config('[routine]\nexercises = ["toe_walk"]\n', env={})
    tracker = WorkoutTracker(config.routine)
    events, _ = holds("toe_press", 0.0, [5.0] * 2)
    summary = only_summary(run(events, tracker))
    press = summary.exercise("toe_press")
    assert press is not None
    assert (press.full, press.target_reps, press.units) == (2, None, 0)
    assert summary.missing == ("toe_walk",)


def test_reconfigure_applies_new_targets_to_the_open_session() -> None:
    tracker = WorkoutTracker()
    events, _ = holds("toe_press", 0.0, [5.0] * 5)
    tracker.feed(events, WALL0)
    easy = Routine("easy", (("toe_press", ExerciseTarget(reps=5, hold_s=4.0)),))
    tracker.reconfigure(easy, SessionConfig())
    summary = only_summary(tracker.finish())
    assert summary.routine == "easy"
    assert summary.done == ("toe_press",)


def test_summary_round_trips_through_json() -> None:
    events, _ = full_routine()
    summary = only_summary(run(events))
    again = SessionSummary.from_dict(json.loads(json.dumps(summary.to_dict())))
    assert again == summary


def test_sample_clock_extrapolates_while_samples_are_missing() -> None:
    clock = SampleClock()
    assert clock.estimate(5.0) is None
    clock.on_samples(120.0, 1000.0)
    assert clock.estimate(1000.0) == 120.0
    assert clock.estimate(1030.5) == 150.5
    assert clock.estimate(900.0) == 120.0


# --- streaming: the same summaries however the events are delivered -----------------------------


def _summaries(events: list[Event], cuts: list[int], idle_checks: bool) -> list[dict[str, object]]:
    tracker = WorkoutTracker(config=SessionConfig(idle_end_s=40.0), device="d")
    out: list[object] = []
    start = 0
    for cut in [*sorted(cuts), len(events)]:
        chunk = events[start:cut]
        out += tracker.feed(chunk, WALL0)
        if idle_checks and chunk:
            out += tracker.advance(chunk[-1].time_s)
        start = cut
    out += tracker.finish()
    return [e.to_dict() for e in out if isinstance(e, SessionSummary)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["pf", "pf_short", "circles", "press", "walk", "gap"]), max_size=6),
    st.lists(st.integers(0, 400), max_size=8),
    st.booleans(),
)
def test_block_boundaries_do_not_change_the_summaries(
    plan: list[str], cuts: list[int], idle_checks: bool
) -> None:
    events: list[Event] = []
    t = 0.0
    for item in plan:
        if item == "gap":
            t += 100.0
            continue
        if item in ("pf", "pf_short"):
            part, t = holds("plantar_flexion", t, [5.0, 3.0] if item == "pf_short" else [5.5] * 3)
        elif item == "circles":
            part, t = circles(t, ["cw", "ccw", "cw"])
        elif item == "press":
            part, t = holds("toe_press", t, [5.0] * 2)
        else:
            part, t = bouts(t, [11.0, 4.0], [3.0])
        events += part
    cuts = [c for c in cuts if c <= len(events)]
    batch = _summaries(events, [], idle_checks=False)
    assert _summaries(events, cuts, idle_checks) == batch
    for summary in batch:
        assert 0.0 <= float(summary["progress"]) <= 1.0  # type: ignore[arg-type]
        for exercise in summary["exercises"].values():  # type: ignore[attr-defined]
            assert exercise["full"] + exercise["short"] == exercise["reps"]
            assert exercise["done"] <= exercise["units"]
    assert len(batch) == plan.count("gap") + 1 - _empty_stretches(plan)


def _empty_stretches(plan: list[str]) -> int:
    """Stretches between gaps with no exercise in them open no session."""
    stretches: list[list[str]] = [[]]
    for item in plan:
        if item == "gap":
            stretches.append([])
        else:
            stretches[-1].append(item)
    return sum(1 for s in stretches if not s)
