"""Workout sessions: the pipeline's events measured against the routine. Pure: no I/O, no clock.

One ``WorkoutTracker`` per wearable (so per side). It consumes the pipeline's events (CONTRACTS.md
section 4) with the times they carry, and the caller's wall clock only to stamp sessions. A
session starts when an exercise is recognised (``session.auto_start``) or by command, and ends
after ``session.idle_end_s`` without exercise activity, by command, or when the stream ends.

What it tracks, per exercise of the routine: reps against the target; holds shorter than the
prescribed hold (flagged, not counted as full); circles per direction; toe-walking bouts, their
length against ``bout_min_s``/``bout_max_s`` and the rest before each against ``rest_s``; sets
(closed by the pipeline's ``set`` events or by a change of exercise); and the progress through
the routine (what is done, what is next). Out come ``SessionStart`` and ``SessionSummary`` events
for the daemon to publish and keep, and a ``SessionSnapshot`` for the activity topic and the
live view.

Times: ``t_s`` is the wearable's sample clock (seconds, as in the events). While the wearable is
away no samples arrive, so the daemon calls ``advance`` with the sample clock extrapolated by
``SampleClock``; idle sessions then still end. ``wall_s`` is Unix time in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sensord.config import SessionConfig
from sensord.model import ActivityState, Event, Side
from sensord.routine import DEFAULT_ROUTINE, ExerciseTarget, Routine

StartReason = Literal["auto", "command"]
EndReason = Literal["idle", "command", "finish"]
Status = Literal["todo", "in_progress", "done"]


def iso_utc(wall_s: float) -> str:
    """Unix seconds -> ISO-8601 UTC with milliseconds (``2025-01-31T08:15:00.250Z``)."""
    stamp = datetime.fromtimestamp(wall_s, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _round(value: float | None, decimals: int = 3) -> float | None:
    return None if value is None else round(value, decimals)


@dataclass(frozen=True, slots=True)
class ExerciseSummary:
    """One exercise of a session against its target.

    ``reps`` counts every rep seen (bouts for ``toe_walk``), ``full`` those that count, ``short``
    the holds or bouts that fell short. ``done``/``units`` measure progress: ``units`` is
    ``target_reps`` times the number of circle directions (1 for the others); ``done`` counts
    full reps up to the target in each. ``directions`` holds full circles per direction. Hold
    figures are seconds; the toe-walking fields are None for the other exercises.
    """

    exercise: str
    target_reps: int | None
    reps: int = 0
    full: int = 0
    short: int = 0
    sets: int = 0
    done: int = 0
    units: int = 0
    directions: dict[str, int] | None = None
    hold_target_s: float | None = None
    hold_mean_s: float | None = None
    hold_min_s: float | None = None
    hold_max_s: float | None = None
    steps: int | None = None
    long_bouts: int | None = None
    short_rests: int | None = None
    rest_min_s: float | None = None

    @property
    def complete(self) -> bool:
        return self.units > 0 and self.done >= self.units

    @property
    def status(self) -> Status:
        if self.complete:
            return "done"
        return "in_progress" if self.reps > 0 else "todo"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target_reps, "reps": self.reps, "full": self.full,
            "short": self.short, "sets": self.sets, "done": self.done, "units": self.units,
            "complete": self.complete, "status": self.status,
        }
        for name in (
            "directions", "hold_target_s", "hold_mean_s", "hold_min_s", "hold_max_s", "steps",
            "long_bouts", "short_rests", "rest_min_s",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = dict(value) if isinstance(value, dict) else value
        return out

    @classmethod
    def from_dict(cls, exercise: str, data: Mapping[str, Any]) -> ExerciseSummary:
        names = set(cls.__dataclass_fields__) - {"exercise", "target_reps"}
        kwargs = {k: v for k, v in data.items() if k in names}
        return cls(exercise=exercise, target_reps=data.get("target"), **kwargs)


@dataclass(frozen=True, slots=True)
class SessionStart:
    """A session began (published so dashboards can show it at once)."""

    session_id: str
    device: str | None
    side: Side | None
    t_s: float
    wall_s: float
    reason: StartReason

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "session_start", "session_id": self.session_id, "device": self.device,
            "side": self.side, "t": round(self.t_s, 4), "started_at": iso_utc(self.wall_s),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A finished session: what was done against the routine (published and kept in history).

    ``t_start``/``t_end`` are on the sample clock (first and last exercise activity, or the
    command times); ``started_wall_s``/``ended_wall_s`` are Unix seconds. ``reps`` sums the full
    reps of every exercise; ``progress`` is done/units over the routine, 0 to 1.
    """

    session_id: str
    device: str | None
    side: Side | None
    routine: str
    start_reason: StartReason
    end_reason: EndReason
    t_start: float
    t_end: float
    started_wall_s: float
    ended_wall_s: float
    exercises: tuple[ExerciseSummary, ...]
    walk_steps: int = 0

    def __post_init__(self) -> None:
        # Rounded as published, so a summary read back from JSON compares equal.
        for name, decimals in (
            ("t_start", 4), ("t_end", 4), ("started_wall_s", 3), ("ended_wall_s", 3),
        ):
            object.__setattr__(self, name, round(getattr(self, name), decimals))

    @property
    def duration_s(self) -> float:
        return max(0.0, self.t_end - self.t_start)

    @property
    def reps(self) -> int:
        return sum(e.full for e in self.exercises)

    @property
    def progress(self) -> float:
        units = sum(e.units for e in self.exercises)
        return 0.0 if units == 0 else sum(min(e.done, e.units) for e in self.exercises) / units

    @property
    def done(self) -> tuple[str, ...]:
        return tuple(e.exercise for e in self.exercises if e.complete)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(e.exercise for e in self.exercises if e.units > 0 and not e.complete)

    def exercise(self, exercise: str) -> ExerciseSummary | None:
        return next((e for e in self.exercises if e.exercise == exercise), None)

    def to_dict(self) -> dict[str, Any]:
        """The session event object (``"type": "session"``)."""
        return {
            "type": "session", "session_id": self.session_id, "device": self.device,
            "side": self.side, "routine": self.routine, "start_reason": self.start_reason,
            "end_reason": self.end_reason, "t_start": round(self.t_start, 4),
            "t_end": round(self.t_end, 4), "duration_s": round(self.duration_s, 3),
            "started_at": iso_utc(self.started_wall_s), "ended_at": iso_utc(self.ended_wall_s),
            "started_wall_s": round(self.started_wall_s, 3),
            "ended_wall_s": round(self.ended_wall_s, 3),
            "reps": self.reps, "progress": round(self.progress, 3),
            "complete": not self.missing, "done": list(self.done), "missing": list(self.missing),
            "walk_steps": self.walk_steps,
            "exercises": {e.exercise: e.to_dict() for e in self.exercises},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionSummary:
        """Rebuilds a summary from ``to_dict`` output (the history keeps that JSON)."""
        return cls(
            session_id=str(data["session_id"]), device=data.get("device"),
            side=data.get("side"), routine=str(data.get("routine", "")),
            start_reason=data.get("start_reason", "auto"),
            end_reason=data.get("end_reason", "finish"),
            t_start=float(data["t_start"]), t_end=float(data["t_end"]),
            started_wall_s=float(data["started_wall_s"]),
            ended_wall_s=float(data["ended_wall_s"]),
            exercises=tuple(
                ExerciseSummary.from_dict(name, value)
                for name, value in dict(data.get("exercises", {})).items()
            ),
            walk_steps=int(data.get("walk_steps", 0)),
        )


SessionEvent = SessionStart | SessionSummary


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    """The live picture for the activity topic and the status view.

    ``set_reps`` counts reps in the open set of ``exercise`` against ``target``; ``hold_s`` is the
    running hold timer (from the pipeline's ActivityState); ``rest_s`` the time since the last
    toe-walking bout ended, against ``rest_target_s``. ``next`` is the exercise to do now: the
    current one while it is unfinished, else the first unfinished one of the routine.
    """

    active: bool
    session_id: str | None = None
    t_s: float | None = None
    elapsed_s: float | None = None
    exercise: str | None = None
    set_reps: int = 0
    target: int | None = None
    hold_s: float | None = None
    hold_target_s: float | None = None
    direction: str | None = None
    rest_s: float | None = None
    rest_target_s: float | None = None
    next: str | None = None
    next_direction: str | None = None
    progress: float = 0.0
    exercises: tuple[ExerciseSummary, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "active": self.active, "session_id": self.session_id, "t": _round(self.t_s, 3),
            "elapsed_s": _round(self.elapsed_s, 1), "exercise": self.exercise,
            "set_reps": self.set_reps, "target": self.target, "hold_s": _round(self.hold_s, 2),
            "hold_target_s": self.hold_target_s, "direction": self.direction,
            "rest_s": _round(self.rest_s, 1), "rest_target_s": self.rest_target_s,
            "next": self.next, "next_direction": self.next_direction,
            "progress": round(self.progress, 3),
            "exercises": {e.exercise: e.to_dict() for e in self.exercises},
        }


@dataclass(slots=True)
class _Exercise:
    """Mutable per-exercise state of the open session."""

    target: ExerciseTarget | None
    holds_s: list[float] = field(default_factory=list)
    reps: int = 0
    full: int = 0
    short: int = 0
    by_direction: dict[str, int] = field(default_factory=dict)
    sets: int = 0
    open_set_reps: int = 0
    steps: int = 0
    long_bouts: int = 0
    short_rests: int = 0
    rests_s: list[float] = field(default_factory=list)
    last_bout_end_s: float | None = None

    def close_set(self) -> None:
        if self.open_set_reps > 0:
            self.sets += 1
            self.open_set_reps = 0


@dataclass(slots=True)
class _Session:
    session_id: str
    reason: StartReason
    t_start: float
    wall_start_s: float
    last_activity_t: float
    exercises: dict[str, _Exercise]
    current: str | None = None
    walk_steps: int = 0
    toe_steps_in_bout: int = 0


class WorkoutTracker:
    """Follows one wearable's workout (see the module docstring).

    ``feed``, ``advance``, ``start``, ``stop`` and ``finish`` return the session events that
    happened (starts and summaries), in order.
    """

    def __init__(
        self, routine: Routine = DEFAULT_ROUTINE, config: SessionConfig | None = None, *,
        device: str | None = None, side: Side | None = None,
    ) -> None:
        self.routine = routine
        self.config = config or SessionConfig()
        self.device = device
        self.side = side
        self._session: _Session | None = None
        self._issued_ids: set[str] = set()
        #: Exercise events seen while no session was open and auto start is off.
        self.ignored_events = 0

    @property
    def active(self) -> bool:
        return self._session is not None

    @property
    def session_id(self) -> str | None:
        return None if self._session is None else self._session.session_id

    # --- commands --------------------------------------------------------------------------

    def start(self, t_s: float, wall_s: float) -> list[SessionEvent]:
        """Starts a session by command; a no-op while one is open."""
        if self._session is not None:
            return []
        return [self._open(t_s, wall_s, "command")]

    def stop(self, t_s: float, wall_s: float) -> list[SessionEvent]:
        """Ends the open session by command at ``t_s``; a no-op when none is open."""
        if self._session is None:
            return []
        return [self._close("command", max(t_s, self._session.last_activity_t), wall_s)]

    def cancel(self) -> None:
        """Drops the open session without a summary (the reset command)."""
        self._session = None

    def finish(self) -> list[SessionEvent]:
        """The stream ended: closes the open session at its last activity."""
        return self._end_at_last_activity("finish")

    def reconfigure(self, routine: Routine, config: SessionConfig) -> None:
        """A config reload: new targets and limits apply to the open session too."""
        self.routine = routine
        self.config = config
        if self._session is not None:
            for exercise, state in self._session.exercises.items():
                state.target = routine.target(exercise)
            for exercise in routine.exercises:
                self._session.exercises.setdefault(exercise, _Exercise(routine.target(exercise)))

    # --- the stream ------------------------------------------------------------------------

    def advance(self, t_s: float) -> list[SessionEvent]:
        """Time passed to ``t_s`` (sample clock): ends the session once it has been idle."""
        session = self._session
        if session is not None and t_s - session.last_activity_t >= self.config.idle_end_s:
            return self._end_at_last_activity("idle")
        return []

    def feed(self, events: Iterable[Event], wall_s: float) -> list[SessionEvent]:
        """Consumes pipeline events (in time order); ``wall_s`` is now, in Unix seconds."""
        out: list[SessionEvent] = []
        for event in events:
            out.extend(self._on_event(event, wall_s))
        return out

    def _on_event(self, event: Event, wall_s: float) -> list[SessionEvent]:
        out: list[SessionEvent] = []
        t = event.time_s
        if math.isnan(t):
            return out
        out.extend(self.advance(t))
        is_activity = _is_activity(event)
        if self._session is None:
            if not is_activity:
                return out
            if not self.config.auto_start:
                self.ignored_events += 1
                return out
            t_start = event.t_start if event.t_start is not None else t
            out.append(self._open(t_start, wall_s - (t - t_start), "auto"))
        session = self._session
        assert session is not None
        if is_activity:
            session.last_activity_t = max(session.last_activity_t, t)
        if event.type == "exercise":
            previous = session.exercises.get(event.previous or "")
            if previous is not None:
                previous.close_set()
            session.current = event.exercise if event.exercise in session.exercises else None
        elif event.type == "step":
            if event.exercise == "walk":
                session.walk_steps += 1
            elif event.exercise == "toe_walk":
                session.toe_steps_in_bout += 1
        elif event.type == "rep":
            self._on_rep(session, event)
        elif event.type == "set":
            state = session.exercises.get(event.exercise)
            if state is not None:
                state.close_set()
        return out

    def _on_rep(self, session: _Session, event: Event) -> None:
        state = session.exercises.get(event.exercise)
        if state is None:  # an exercise outside the configured routine: tracked, no target
            state = session.exercises[event.exercise] = _Exercise(None)
        if session.current != event.exercise:
            if session.current in session.exercises:
                session.exercises[session.current].close_set()
            session.current = event.exercise
        target = state.target
        state.reps += 1
        state.open_set_reps += 1
        full = True
        if event.hold_s is not None:
            state.holds_s.append(event.hold_s)
            if target is not None and target.hold_s is not None:
                full = event.hold_s >= target.hold_s - self.config.hold_tolerance_s
        if event.exercise == "toe_walk" and event.t_start is not None and event.t_end is not None:
            full = self._on_bout(session, state, event.t_start, event.t_end, event.steps)
        if full:
            state.full += 1
            if event.direction is not None:
                state.by_direction[event.direction] = state.by_direction.get(
                    event.direction, 0) + 1
        else:
            state.short += 1

    def _on_bout(
        self, session: _Session, state: _Exercise, t_start: float, t_end: float,
        steps: int | None,
    ) -> bool:
        """Checks a toe-walking bout's length and the rest before it; True if it counts."""
        target = state.target
        state.steps += steps if steps is not None else session.toe_steps_in_bout
        session.toe_steps_in_bout = 0
        if state.last_bout_end_s is not None:
            rest_s = t_start - state.last_bout_end_s
            state.rests_s.append(rest_s)
            if target is not None and target.rest_s is not None and (
                rest_s < target.rest_s - self.config.rest_tolerance_s
            ):
                state.short_rests += 1
        state.last_bout_end_s = t_end
        duration_s = t_end - t_start
        if target is None:
            return True
        if target.bout_max_s is not None and duration_s > target.bout_max_s + (
            self.config.bout_tolerance_s
        ):
            state.long_bouts += 1
        return target.bout_min_s is None or (
            duration_s >= target.bout_min_s - self.config.bout_tolerance_s
        )

    # --- opening and closing -------------------------------------------------------------------

    def _open(self, t_s: float, wall_s: float, reason: StartReason) -> SessionStart:
        name = self.device or "wearable"
        stamp = iso_utc(wall_s).replace("-", "").replace(":", "")
        session_id = f"{name}-{stamp}"
        # A replay at full speed can open two sessions within one millisecond of wall time.
        suffix = 1
        while session_id in self._issued_ids:
            suffix += 1
            session_id = f"{name}-{stamp}-{suffix}"
        self._issued_ids.add(session_id)
        exercises = {e: _Exercise(self.routine.target(e)) for e in self.routine.exercises}
        self._session = _Session(session_id, reason, t_s, wall_s, t_s, exercises)
        return SessionStart(session_id, self.device, self.side, t_s, wall_s, reason)

    def _end_at_last_activity(self, reason: EndReason) -> list[SessionEvent]:
        session = self._session
        if session is None:
            return []
        t_end = session.last_activity_t
        return [self._close(reason, t_end, session.wall_start_s + (t_end - session.t_start))]

    def _close(self, reason: EndReason, t_end: float, wall_end_s: float) -> SessionSummary:
        session = self._session
        assert session is not None
        self._session = None
        for state in session.exercises.values():
            state.close_set()
        return SessionSummary(
            session_id=session.session_id, device=self.device, side=self.side,
            routine=self.routine.name, start_reason=session.reason, end_reason=reason,
            t_start=session.t_start, t_end=t_end, started_wall_s=session.wall_start_s,
            ended_wall_s=max(wall_end_s, session.wall_start_s),
            exercises=self._summaries(session), walk_steps=session.walk_steps,
        )

    # --- views ---------------------------------------------------------------------------------

    def _summaries(self, session: _Session) -> tuple[ExerciseSummary, ...]:
        ordered = [*self.routine.exercises,
                   *(e for e in session.exercises if e not in self.routine.exercises)]
        return tuple(_summarise(e, session.exercises[e]) for e in ordered
                     if e in session.exercises)

    def snapshot(self, t_s: float, activity: ActivityState | None = None) -> SessionSnapshot:
        """The live picture at sample time ``t_s``; ``activity`` adds the running hold timer."""
        session = self._session
        if session is None:
            return SessionSnapshot(active=False, t_s=t_s)
        summaries = self._summaries(session)
        current = session.current
        if activity is not None and activity.exercise in session.exercises:
            current = activity.exercise
        state = session.exercises.get(current or "")
        target = state.target if state is not None else None
        rest_s: float | None = None
        if state is not None and current == "toe_walk" and state.last_bout_end_s is not None:
            rest_s = max(0.0, t_s - state.last_bout_end_s)
        next_exercise, next_direction = self._next(summaries, current)
        units = sum(e.units for e in summaries)
        done = sum(min(e.done, e.units) for e in summaries)
        return SessionSnapshot(
            active=True, session_id=session.session_id, t_s=t_s,
            elapsed_s=max(0.0, t_s - session.t_start), exercise=current,
            set_reps=state.open_set_reps if state is not None else 0,
            target=target.reps if target is not None else None,
            hold_s=activity.hold_s if activity is not None else None,
            hold_target_s=target.hold_s if target is not None else None,
            direction=activity.direction if activity is not None else None,
            rest_s=rest_s, rest_target_s=target.rest_s if target is not None else None,
            next=next_exercise, next_direction=next_direction,
            progress=0.0 if units == 0 else done / units, exercises=summaries,
        )

    def _next(
        self, summaries: tuple[ExerciseSummary, ...], current: str | None
    ) -> tuple[str | None, str | None]:
        by_name = {s.exercise: s for s in summaries}
        candidates = [current] if current in by_name else []
        candidates += [e for e in self.routine.exercises if e in by_name]
        for exercise in candidates:
            summary = by_name[exercise]
            if summary.units > 0 and not summary.complete:
                direction = None
                target = self.routine.target(exercise)
                if target is not None and target.directions:
                    counts = summary.directions or {}
                    direction = next(
                        (d for d in target.directions if counts.get(d, 0) < target.reps), None)
                return exercise, direction
        return None, None


def _is_activity(event: Event) -> bool:
    """Exercise activity keeps a session alive (and may open one); plain walking does not."""
    if event.exercise == "walk":
        return False
    return event.type in ("rep", "set") or event.exercise in (
        "plantar_flexion", "ankle_circle", "toe_press", "toe_walk")


def _summarise(exercise: str, state: _Exercise) -> ExerciseSummary:
    target = state.target
    reps_target = target.reps if target is not None else None
    directions = target.directions if target is not None else ()
    if reps_target is None:
        done, units = 0, 0
    elif directions:
        units = reps_target * len(directions)
        done = sum(min(state.by_direction.get(d, 0), reps_target) for d in directions)
    else:
        units = reps_target
        done = min(state.full, reps_target)
    holds = state.holds_s
    is_walk = exercise == "toe_walk"
    return ExerciseSummary(
        exercise=exercise, target_reps=reps_target, reps=state.reps, full=state.full,
        short=state.short, sets=state.sets + (1 if state.open_set_reps else 0), done=done,
        units=units,
        directions=dict(state.by_direction) if (directions or state.by_direction) else None,
        hold_target_s=target.hold_s if target is not None else None,
        hold_mean_s=_round(sum(holds) / len(holds)) if holds else None,
        hold_min_s=_round(min(holds)) if holds else None,
        hold_max_s=_round(max(holds)) if holds else None,
        steps=state.steps if is_walk else None,
        long_bouts=state.long_bouts if is_walk else None,
        short_rests=state.short_rests if is_walk else None,
        rest_min_s=_round(min(state.rests_s)) if is_walk and state.rests_s else None,
    )


class SampleClock:
    """Maps a monotonic clock onto a wearable's sample clock, for ``advance`` while no samples
    arrive: the sample time of the newest sample plus the monotonic time passed since."""

    def __init__(self) -> None:
        self._anchor: tuple[float, float] | None = None

    def on_samples(self, t_s: float, monotonic_s: float) -> None:
        """The newest sample (sample clock ``t_s``) arrived at ``monotonic_s``."""
        self._anchor = (t_s, monotonic_s)

    def estimate(self, monotonic_s: float) -> float | None:
        """The sample clock now, or None before the first sample."""
        if self._anchor is None:
            return None
        t_s, at_s = self._anchor
        return t_s + max(0.0, monotonic_s - at_s)


__all__ = [
    "EndReason", "ExerciseSummary", "SampleClock", "SessionEvent", "SessionSnapshot",
    "SessionStart", "SessionSummary", "StartReason", "WorkoutTracker", "iso_utc",
]
