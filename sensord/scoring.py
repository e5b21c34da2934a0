"""Scoring detected events against a simulator truth file: the accuracy figures of the README.

Pure functions over an event list and a truth dict (the simulator's truth JSON), shared by the
accuracy tests and ``bench/bench_accuracy.py`` so both measure the same thing the same way.

Matching rules: a rep belongs to the truth set of its exercise whose span (widened by
``SET_SLACK_S``) holds its midpoint; reps that belong to no truth set are false reps. A rep is
paired with the truth rep of its set it overlaps most, for direction and hold checks. A landing
matches a truth landing of the same kind within ``LANDING_TOL_S``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sensord.model import EXERCISES, Event

SET_SLACK_S: Final = 2.0
LANDING_TOL_S: Final = 0.15


@dataclass(frozen=True, slots=True)
class SetScore:
    """One truth set: how many reps it had and how many were counted in it."""

    exercise: str
    direction: str | None
    truth_reps: int
    counted_reps: int

    @property
    def exact(self) -> bool:
        return self.truth_reps == self.counted_reps

    @property
    def within_one(self) -> bool:
        return abs(self.truth_reps - self.counted_reps) <= 1


@dataclass(slots=True)
class SessionScore:
    """Everything measured on one session (add several with ``merge``)."""

    sets: list[SetScore] = field(default_factory=list)
    directions_checked: int = 0
    directions_right: int = 0
    hold_errors_s: list[float] = field(default_factory=list)
    false_reps: int = 0
    everyday_minutes: float = 0.0
    toe_landings_truth: int = 0
    toe_landings_found: int = 0
    toe_landings_matched: int = 0
    walk_landings_truth: int = 0
    walk_landings_matched: int = 0
    landing_errors_s: list[float] = field(default_factory=list)

    def merge(self, other: SessionScore) -> None:
        self.sets.extend(other.sets)
        self.directions_checked += other.directions_checked
        self.directions_right += other.directions_right
        self.hold_errors_s.extend(other.hold_errors_s)
        self.false_reps += other.false_reps
        self.everyday_minutes += other.everyday_minutes
        self.toe_landings_truth += other.toe_landings_truth
        self.toe_landings_found += other.toe_landings_found
        self.toe_landings_matched += other.toe_landings_matched
        self.walk_landings_truth += other.walk_landings_truth
        self.walk_landings_matched += other.walk_landings_matched
        self.landing_errors_s.extend(other.landing_errors_s)

    # --- figures -------------------------------------------------------------------------

    def fraction_exact(self, exercise: str | None = None) -> float:
        chosen = [s for s in self.sets if exercise is None or s.exercise == exercise]
        return sum(s.exact for s in chosen) / len(chosen) if chosen else float("nan")

    def fraction_within_one(self, exercise: str | None = None) -> float:
        chosen = [s for s in self.sets if exercise is None or s.exercise == exercise]
        return sum(s.within_one for s in chosen) / len(chosen) if chosen else float("nan")

    @property
    def direction_accuracy(self) -> float:
        if not self.directions_checked:
            return float("nan")
        return self.directions_right / self.directions_checked

    @property
    def false_reps_per_minute(self) -> float:
        return self.false_reps / self.everyday_minutes if self.everyday_minutes else float("nan")

    @property
    def toe_landing_ratio(self) -> float:
        """Detected tiptoe landings over true ones (1.0 is perfect)."""
        if not self.toe_landings_truth:
            return float("nan")
        return self.toe_landings_found / self.toe_landings_truth


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def score_session(events: Iterable[Event], truth: Mapping[str, Any]) -> SessionScore:
    """Scores one session's events against its truth dict."""
    events = list(events)
    result = SessionScore()
    truth_sets = list(truth["sets"])
    truth_reps = list(truth["reps"])
    counted = [0] * len(truth_sets)
    for event in events:
        if event.type != "rep" or event.t_start is None or event.t_end is None:
            continue
        middle = (event.t_start + event.t_end) / 2.0
        home = None
        for i, s in enumerate(truth_sets):
            same_way = not (s.get("direction") and event.direction) or (
                s["direction"] == event.direction)
            if s["exercise"] == event.exercise and same_way and (
                    s["t_start"] - SET_SLACK_S <= middle <= s["t_end"] + SET_SLACK_S):
                home = i
                break
        if home is None:
            result.false_reps += 1
            continue
        counted[home] += 1
        candidates = [r for r in truth_reps if r["set"] == home]
        if not candidates:
            continue
        best = max(candidates, key=lambda r: _overlap(
            event.t_start or 0.0, event.t_end or 0.0, r["t_start"], r["t_end"]))
        if _overlap(event.t_start, event.t_end, best["t_start"], best["t_end"]) <= 0.0:
            continue
        if event.exercise == "ankle_circle" and best.get("direction"):
            result.directions_checked += 1
            result.directions_right += int(event.direction == best["direction"])
        if event.hold_s is not None and best.get("hold_s") is not None:
            result.hold_errors_s.append(abs(event.hold_s - float(best["hold_s"])))
    for i, s in enumerate(truth_sets):
        result.sets.append(SetScore(s["exercise"], s.get("direction"), int(s["reps"]),
                                    counted[i]))
    result.everyday_minutes = sum(
        seg["t_end"] - seg["t_start"] for seg in truth["segments"]
        if seg.get("exercise") not in EXERCISES
    ) / 60.0
    _score_landings(events, truth, result)
    return result


def _score_landings(events: list[Event], truth: Mapping[str, Any], result: SessionScore) -> None:
    found = {
        kind: sorted(e.t for e in events if e.type == "step" and e.exercise == kind and e.t)
        for kind in ("toe_walk", "walk")
    }
    result.toe_landings_found = len(found["toe_walk"])
    for step in truth["steps"]:
        kind = step["exercise"]
        if kind == "toe_walk":
            result.toe_landings_truth += 1
        elif kind == "walk" and step.get("activity") == "walk":
            result.walk_landings_truth += 1
        else:
            continue
        times = found.get(kind, [])
        if not times:
            continue
        nearest = min(times, key=lambda t: abs(t - step["t"]))
        error = abs(nearest - step["t"])
        if error <= LANDING_TOL_S:
            result.landing_errors_s.append(error)
            if kind == "toe_walk":
                result.toe_landings_matched += 1
            else:
                result.walk_landings_matched += 1
