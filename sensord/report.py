"""Turning a session's events into what a person reads: per-set lines and a timeline.

Pure formatting (events in, text out), shared by ``sensord analyze`` and the history view.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from sensord.model import Event

TITLES = {
    "plantar_flexion": "Plantar flexion",
    "ankle_circle": "Ankle circles",
    "toe_press": "Toe presses",
    "toe_walk": "Toe walking",
    "walk": "Walking",
}
TIMELINE_MARKS = {
    "plantar_flexion": "P", "ankle_circle": "C", "toe_press": "T", "toe_walk": "W", "walk": ".",
}


@dataclass(slots=True)
class SetSummary:
    """One set with its reps (built from the events, in time order)."""

    exercise: str
    t_start: float
    t_end: float
    reps: int
    target: int | None
    direction: str | None
    holds_s: list[float] = field(default_factory=list)
    short_holds: int = 0
    steps: list[int] = field(default_factory=list)
    sizes_deg: list[float] = field(default_factory=list)


def summarize_sets(events: Sequence[Event]) -> list[SetSummary]:
    """Groups rep events under the set events that close them."""
    sets: list[SetSummary] = []
    reps: list[Event] = []
    for event in events:
        if event.type == "rep":
            reps.append(event)
        elif event.type == "set":
            mine = [
                r for r in reps if r.exercise == event.exercise
                and (event.t_start or 0.0) - 1e-6 <= (r.t_start or 0.0)
                and (r.t_end or 0.0) <= (event.t_end or 0.0) + 1e-6
            ]
            reps = [r for r in reps if r not in mine]
            summary = SetSummary(
                exercise=event.exercise, t_start=event.t_start or 0.0,
                t_end=event.t_end or 0.0, reps=event.reps or 0, target=event.target,
                direction=event.direction,
            )
            for rep in mine:
                if rep.hold_s is not None:
                    summary.holds_s.append(rep.hold_s)
                if rep.short_hold:
                    summary.short_holds += 1
                if rep.steps is not None:
                    summary.steps.append(rep.steps)
                if rep.size_deg is not None:
                    summary.sizes_deg.append(rep.size_deg)
            sets.append(summary)
    return sets


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):d}:{secs:04.1f}"


def set_line(summary: SetSummary) -> str:
    """One human line for a set."""
    title = TITLES.get(summary.exercise, summary.exercise)
    if summary.direction:
        title += f" ({summary.direction})"
    target = f"/{summary.target}" if summary.target else ""
    parts = [f"{_clock(summary.t_start)}-{_clock(summary.t_end)}  {title}: {summary.reps}{target}"]
    parts[0] += " bouts" if summary.exercise == "toe_walk" else " reps"
    if summary.holds_s:
        parts.append(
            f"holds median {statistics.median(summary.holds_s):.1f} s "
            f"(min {min(summary.holds_s):.1f}, max {max(summary.holds_s):.1f})"
        )
        if summary.short_holds:
            parts.append(f"{summary.short_holds} short")
    if summary.steps:
        parts.append(f"{sum(summary.steps)} tiptoe steps")
    if summary.sizes_deg and summary.exercise == "ankle_circle":
        parts.append(f"size median {statistics.median(summary.sizes_deg):.0f} deg")
    return ", ".join(parts)


def timeline(events: Sequence[Event], duration_s: float, width: int = 72) -> str:
    """An ASCII strip of the session: one character per slice, marked by the activity."""
    if duration_s <= 0:
        return ""
    cells = [" "] * width
    scale = width / duration_s

    def mark(t0: float, t1: float, char: str) -> None:
        lo = max(0, min(width - 1, int(t0 * scale)))
        hi = max(lo, min(width - 1, int(t1 * scale)))
        for i in range(lo, hi + 1):
            if cells[i] in (" ", "."):
                cells[i] = char

    for event in events:
        char = TIMELINE_MARKS.get(event.exercise, "?")
        if event.type == "step" and event.t is not None:
            mark(event.t, event.t, char)
        elif event.type == "set" and event.t_start is not None and event.t_end is not None:
            mark(event.t_start, event.t_end, char)
    legend = "  ".join(f"{m}={TITLES[e]}" for e, m in TIMELINE_MARKS.items())
    return f"|{''.join(cells)}| {_clock(duration_s)}\n {legend}"
