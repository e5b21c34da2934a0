"""Which exercise is under way, and when a set begins and ends: candidates in, events out.

Method (the notes' segmentation stage): detectors run all the time and propose candidates; a set
of an exercise opens only after a few consistent candidates in a row (two flexions, three
presses, two circles the same way, one tiptoe bout), and then the reps already seen are counted
retroactively. Everything else (walking, stairs, tapping, fidgeting, a swinging leg) stays in the
"other" state and produces no reps. A set ends after its exercise's idle time, when another
exercise opens, or when walking starts; its ``set`` event reports reps against the routine's
target. Inputs are processed in order of the sample time at which they became certain, with
timeouts in between, so the events do not depend on how samples were split into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from sensord.detect.ankle_circle import Circle
from sensord.detect.base import RepCandidate
from sensord.detect.toe_walk import GaitNews
from sensord.model import ActivityState, Event
from sensord.routine import Routine

#: A set closes when no rep came for this long (seconds).
IDLE_S: Final = {
    "plantar_flexion": 25.0, "toe_press": 25.0, "ankle_circle": 6.0, "toe_walk": 45.0,
}
#: Candidates needed in a row to open a set, and the largest gap between them (seconds).
OPEN_COUNT: Final = {"plantar_flexion": 2, "toe_press": 3, "ankle_circle": 2}
OPEN_GAP_S: Final = {"plantar_flexion": 15.0, "toe_press": 12.0, "ankle_circle": 1.5}
CIRCLE_MIN_SIZE_DEG: Final = 8.0
CIRCLE_MIN_ASPECT: Final = 0.12
PRESS_AMPLITUDE_RATIO: Final = 3.0
WALK_STEPS_TO_ANNOUNCE: Final = 3
WALK_IDLE_S: Final = 5.0

Candidate = RepCandidate | Circle | GaitNews


@dataclass(slots=True)
class _Set:
    exercise: str
    direction: Literal["cw", "ccw"] | None
    t_start: float
    t_last: float
    reps: int = 0


@dataclass(slots=True)
class Recognizer:
    """Set and exercise bookkeeping (see the module docstring)."""

    routine: Routine
    _set: _Set | None = None
    _pending: list[RepCandidate | Circle] = field(default_factory=list)
    _announced: str | None = None
    _walk_steps: int = 0
    _last_step: float | None = None
    _in_bout: bool = False
    _bout_steps: int = 0

    # --- live state ------------------------------------------------------------------------

    def state(self, t_s: float, hold_s: float | None) -> ActivityState:
        current = self._set
        if current is not None:
            holding = current.exercise in ("plantar_flexion", "toe_press")
            return ActivityState(
                t_s=t_s, exercise=current.exercise, reps=current.reps,
                target=self._target(current.exercise), hold_s=hold_s if holding else None,
                direction=current.direction, steps=self._bout_steps,
            )
        if self._announced == "walk":
            return ActivityState(t_s=t_s, exercise="walk", steps=self._walk_steps)
        return ActivityState(t_s=t_s)

    # --- inputs ----------------------------------------------------------------------------

    def deadline(self) -> float | None:
        """The next sample time at which ``tick`` may close something."""
        times = []
        if self._set is not None and not (self._set.exercise == "toe_walk" and self._in_bout):
            times.append(self._set.t_last + IDLE_S[self._set.exercise])
        if self._announced == "walk" and self._last_step is not None:
            times.append(self._last_step + WALK_IDLE_S)
        return min(times) if times else None

    def tick(self, now: float) -> list[Event]:
        events: list[Event] = []
        current = self._set
        bout_running = current is not None and current.exercise == "toe_walk" and self._in_bout
        if current is not None and now >= current.t_last + IDLE_S[current.exercise] and not (
                bout_running):
            events.extend(self._close_set())
        if (
            self._announced == "walk" and self._last_step is not None
            and now >= self._last_step + WALK_IDLE_S
        ):
            self._announced = None
            self._walk_steps = 0
        return events

    def add(self, item: Candidate) -> list[Event]:
        if isinstance(item, GaitNews):
            return self._gait(item)
        if isinstance(item, Circle):
            return self._circle(item)
        return self._rep(item)

    def finish(self) -> list[Event]:
        return self._close_set()

    # --- exercises -------------------------------------------------------------------------

    def _rep(self, candidate: RepCandidate) -> list[Event]:
        current = self._set
        if current is not None and current.exercise == candidate.exercise:
            self._pending = []
            return [self._count(candidate)]
        same = [
            c for c in self._pending
            if isinstance(c, RepCandidate) and c.exercise == candidate.exercise
            and candidate.t_start - c.t_end <= OPEN_GAP_S[candidate.exercise]
        ]
        if same and not self._consistent(same[-1], candidate):
            same = []
        self._pending = [*same, candidate]
        if len(self._pending) < OPEN_COUNT[candidate.exercise]:
            return []
        events = self._open(candidate.exercise, None, self._pending[0].t_start)
        for pending in self._pending:
            events.append(self._count(pending))
        self._pending = []
        return events

    @staticmethod
    def _consistent(a: RepCandidate, b: RepCandidate) -> bool:
        if a.exercise != "toe_press":
            return True
        ratio = max(a.amplitude_deg, b.amplitude_deg) / max(
            1e-6, min(a.amplitude_deg, b.amplitude_deg))
        return ratio <= PRESS_AMPLITUDE_RATIO

    def _circle(self, circle: Circle) -> list[Event]:
        good = (
            circle.valid and circle.size_deg >= CIRCLE_MIN_SIZE_DEG
            and circle.aspect >= CIRCLE_MIN_ASPECT
        )
        current = self._set
        if current is not None and current.exercise == "ankle_circle":
            if not good:
                return []
            if circle.direction == current.direction:
                self._pending = []
                return [self._count(circle)]
        if not good:
            self._pending = [c for c in self._pending if not isinstance(c, Circle)]
            return []
        self._pending = [
            c for c in self._pending
            if isinstance(c, Circle) and c.direction == circle.direction
            and circle.t_start - c.t_end <= OPEN_GAP_S["ankle_circle"]
        ]
        self._pending.append(circle)
        if len(self._pending) < OPEN_COUNT["ankle_circle"]:
            return []
        events = self._open("ankle_circle", circle.direction, self._pending[0].t_start)
        for pending in self._pending:
            events.append(self._count(pending))
        self._pending = []
        return events

    def _gait(self, news: GaitNews) -> list[Event]:
        events: list[Event] = []
        if news.kind == "bout_start":
            self._in_bout = True
            self._bout_steps = 0
            current = self._set
            if current is None or current.exercise != "toe_walk":
                events.extend(self._open("toe_walk", None, news.t_start))
            return events
        if news.kind == "bout_end":
            self._in_bout = False
            self._bout_steps = 0
            if self._set is not None and self._set.exercise == "toe_walk":
                events.append(self._count_bout(news))
            return events
        # A landing.
        if news.exercise == "toe_walk":
            self._bout_steps += 1
            return [Event(type="step", exercise="toe_walk", t=news.t)]
        self._last_step = news.t
        self._walk_steps += 1
        current = self._set
        if current is not None and current.exercise != "toe_walk":
            events.extend(self._close_set())
        if (
            self._announced != "walk" and self._walk_steps >= WALK_STEPS_TO_ANNOUNCE
            and self._set is None
        ):
            self._announced = "walk"
            events.append(Event(type="exercise", exercise="walk", t=news.t))
        events.append(Event(type="step", exercise="walk", t=news.t))
        return events

    # --- sets --------------------------------------------------------------------------------

    def _target(self, exercise: str) -> int | None:
        target = self.routine.target(exercise)
        return None if target is None else target.reps

    def _open(
        self, exercise: str, direction: Literal["cw", "ccw"] | None, t_start: float
    ) -> list[Event]:
        events = self._close_set()
        self._set = _Set(exercise, direction, t_start, t_start)
        if self._announced != exercise:
            events.append(Event(
                type="exercise", exercise=exercise, t=t_start, t_start=t_start,
                previous=self._announced,
            ))
            self._announced = exercise
        self._walk_steps = 0
        return events

    def _close_set(self) -> list[Event]:
        current, self._set = self._set, None
        if current is None:
            return []
        self._announced = None
        return [Event(
            type="set", exercise=current.exercise, t_start=current.t_start,
            t_end=current.t_last, reps=current.reps, target=self._target(current.exercise),
            direction=current.direction,
        )]

    def _count(self, candidate: RepCandidate | Circle) -> Event:
        current = self._set
        assert current is not None
        current.reps += 1
        current.t_last = max(current.t_last, candidate.t_end)
        if isinstance(candidate, Circle):
            return Event(
                type="rep", exercise="ankle_circle", t_start=candidate.t_start,
                t_end=candidate.t_end, direction=candidate.direction,
                size_deg=candidate.size_deg,
            )
        target = self.routine.target(candidate.exercise)
        hold_target = None if target is None else target.hold_s
        return Event(
            type="rep", exercise=candidate.exercise, t_start=candidate.t_start,
            t_end=candidate.t_end, hold_s=candidate.hold_s, size_deg=candidate.amplitude_deg,
            hold_target_s=hold_target,
            short_hold=None if hold_target is None or candidate.hold_s is None
            else candidate.hold_s < hold_target - 0.5,
        )

    def _count_bout(self, news: GaitNews) -> Event:
        current = self._set
        assert current is not None
        current.reps += 1
        current.t_last = max(current.t_last, news.t)
        return Event(
            type="rep", exercise="toe_walk", t_start=news.t_start, t_end=news.t,
            steps=news.steps,
        )
