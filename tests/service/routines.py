"""Short simulated routines for the daemon's process tests, written as motion files for
`sensord wearable --motion FILE`, with their truth, and scoring of what the daemon published."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensord.model import Event
from sensord.recording import RecordingMeta, write_recording
from sensord.scoring import SessionScore, score_session
from sensord.sim import SimSpec, simulate
from sensord.sim.script import Script, Segment

#: Standing still first: the daemon connects during it, so no exercise is missed.
LEAD_IN_S = 60.0


@dataclass(frozen=True)
class Routine:
    motion: Path
    truth: dict[str, Any]
    duration_s: float

    def exercise_end_s(self) -> float:
        """Motion time when the last exercise ends."""
        return max(float(s["t_end"]) for s in self.truth["sets"])


def short_routine() -> Script:
    """The four exercises of the routine in order, with short pauses and three toe-walking
    bouts (the full ten would add two minutes of motion for nothing new)."""
    return Script("short", (
        Segment("stand", duration_s=LEAD_IN_S),
        Segment("rest", duration_s=4.0, posture="seated"),
        Segment("plantar_flexion", reps=10),
        Segment("rest", duration_s=5.0, posture="seated"),
        Segment("walk", duration_s=6.0),
        Segment("rest", duration_s=4.0, posture="lying"),
        Segment("ankle_circle", reps=10),
        Segment("rest", duration_s=4.0, posture="lying"),
        Segment("walk", duration_s=5.0),
        Segment("rest", duration_s=4.0, posture="standing"),
        Segment("toe_press", reps=10),
        Segment("rest", duration_s=6.0, posture="standing"),
        Segment("toe_walk", reps=3),
        Segment("stand", duration_s=70.0),
    ))


def one_exercise(exercise: str, posture: str, reps: int = 10) -> Script:
    """One set of one exercise after the lead-in, then standing still."""
    return Script(exercise, (
        Segment("stand", duration_s=LEAD_IN_S),
        Segment("rest", duration_s=3.0, posture=posture),
        Segment(exercise, reps=reps),
        Segment("rest", duration_s=40.0, posture=posture),
    ))


def write_routine(directory: Path, script: Script, *, side: str, seed: int) -> Routine:
    """Simulates ``script`` (unquantised, lossless, 200 Hz: the wearable quantises) and writes
    it as a motion file."""
    spec = SimSpec(routine=script, side=side, seed=seed, rate_hz=200.0,  # type: ignore[arg-type]
                   quantize=False)
    sim = simulate(spec)
    path = directory / f"{script.name}-{side}-{seed}.csv"
    write_recording(path, sim.block, RecordingMeta(rate_hz=200.0, side=side, placement="instep"))
    return Routine(path, sim.truth.to_json_dict(), float(sim.block.t_s[-1]))


def to_events(payloads: Sequence[dict[str, Any]]) -> list[Event]:
    """Published event objects of the pipeline (session events left out) back to ``Event``s."""
    kinds = ("rep", "step", "set", "exercise")
    names = set(Event.__dataclass_fields__)
    return [
        Event(**{k: v for k, v in p.items() if k in names})
        for p in payloads if p.get("type") in kinds
    ]


def aligned_score(events: list[Event], truth: dict[str, Any]) -> SessionScore:
    """Scores events whose clock is the daemon's (the host's, from when it connected) against
    the truth's: the offset is the median difference of the reps of the first set, paired in
    order."""
    return score_session(aligned(events, truth), truth)


def false_reps(events: list[Event], truth: dict[str, Any]) -> list[tuple[str, float, float]]:
    """Reps outside every truth set (exercise, start, end on the truth's clock): for messages."""
    out = []
    for event in aligned(events, truth):
        if event.type != "rep" or event.t_start is None or event.t_end is None:
            continue
        middle = (event.t_start + event.t_end) / 2
        if not any(s["exercise"] == event.exercise and s["t_start"] - 2 <= middle <= s["t_end"] + 2
                   for s in truth["sets"]):
            out.append((event.exercise, round(event.t_start, 2), round(event.t_end, 2)))
    return out


def aligned(events: list[Event], truth: dict[str, Any]) -> list[Event]:
    """The events moved onto the truth's clock (see ``aligned_score``)."""
    first = truth["sets"][0]
    truth_reps = [r for r in truth["reps"] if r["set"] == 0]
    ours = [e for e in events if e.type == "rep" and e.exercise == first["exercise"]]
    pairs = list(zip(truth_reps, ours, strict=False))
    assert pairs, "no rep of the first exercise to align the clocks with"
    offset = statistics.median(float(r["t_start"]) - (e.t_start or 0.0) for r, e in pairs)
    return [_shift(e, offset) for e in events]


def _shift(event: Event, offset: float) -> Event:
    def move(value: float | None) -> float | None:
        return None if value is None else value + offset

    return Event(**{
        **{k: getattr(event, k) for k in Event.__dataclass_fields__},
        "t_start": move(event.t_start), "t_end": move(event.t_end), "t": move(event.t),
    })
