"""Which exercise is under way, and when a set begins and ends: candidates in, events out.

Method (the notes' segmentation stage): detectors run all the time and propose candidates; a set
of an exercise opens only after a few consistent candidates in a row (two flexions, three
presses, two circles the same way, one tiptoe bout), and then the reps already seen are counted
retroactively. A circle that is unmistakable on its own (a smooth, round, full turn of exercise
size and pace, which everyday movement never made in the simulated sessions) opens its set at
once, so it is not held back until the next one. Everything else (walking, stairs, tapping,
fidgeting, a swinging leg) stays in the "other" state and produces no reps. A set ends after
its exercise's idle time, when another exercise opens (or the other circle direction), or when
walking starts; its ``set`` event reports reps against the routine's target. Inputs are
processed in order of the sample time at which they became certain, with timeouts in between,
so the events do not depend on how samples were split into blocks.
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
OPEN_GAP_S: Final = {"plantar_flexion": 15.0, "toe_press": 15.0, "ankle_circle": 1.5}
#: A hold exercise opens only on held reps (once open, a short hold still counts, flagged).
OPEN_HOLD_S: Final = {"plantar_flexion": 1.0, "toe_press": 1.5}
MAX_PENDING: Final = 6
CIRCLE_MIN_SIZE_DEG: Final = 8.0
CIRCLE_MIN_ASPECT: Final = 0.12
#: A circle this clear opens its set alone (measured on simulated sessions: exercise circles are
#: 14.6-47 degrees, aspect 0.35-0.99, 0.64-2.7 s; everyday movement made no valid circle of 8
#: degrees or more, its turns are walking or longer than 5 s).
CLEAR_CIRCLE_SIZE_DEG: Final = (14.0, 60.0)
CLEAR_CIRCLE_MIN_ASPECT: Final = 0.3
CLEAR_CIRCLE_MAX_S: Final = 3.5
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
    #: Consecutive candidates per exercise (circles per direction) not yet enough for a set.
    _pending: dict[str, list[RepCandidate | Circle]] = field(default_factory=dict)
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
        exercise = candidate.exercise
        current = self._set
        if current is not None and current.exercise == exercise:
            self._pending.pop(exercise, None)
            return [self._count(candidate)]
        run = [*self._pending.get(exercise, []), candidate]
        return self._offer(exercise, None, self._chain(run, OPEN_GAP_S[exercise]))

    def _offer(
        self, key: str, direction: Literal["cw", "ccw"] | None,
        run: list[RepCandidate | Circle],
    ) -> list[Event]:
        """Keeps ``run`` as the consecutive candidates of ``key``; opens a set when enough."""
        exercise = "ankle_circle" if key.startswith("ankle_circle") else key
        # Only held reps open a hold exercise; unheld ones in the same run are counted with them.
        needed = OPEN_HOLD_S.get(exercise, 0.0)
        convincing = [
            c for c in run if not isinstance(c, RepCandidate) or (c.hold_s or 0.0) >= needed]
        clear = isinstance(run[-1], Circle) and _clear_circle(run[-1])
        if len(convincing) < OPEN_COUNT[exercise] and not clear:
            self._pending[key] = run[-MAX_PENDING:]
            return []
        self._pending = {}
        events = self._open(exercise, direction, run[0].t_start)
        events.extend(self._count(candidate) for candidate in run)
        return events

    def _chain(
        self, run: list[RepCandidate | Circle], gap_s: float
    ) -> list[RepCandidate | Circle]:
        """The tail of ``run`` whose neighbours are at most ``gap_s`` apart and alike."""
        start = len(run) - 1
        while start > 0:
            before, after = run[start - 1], run[start]
            if after.t_start - before.t_end > gap_s:
                break
            if isinstance(before, RepCandidate) and isinstance(after, RepCandidate) and not (
                    self._consistent(before, after)):
                break
            start -= 1
        return run[start:]

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
        key = f"ankle_circle:{circle.direction}"
        current = self._set
        if current is not None and current.exercise == "ankle_circle":
            if not good:
                return []
            if circle.direction == current.direction:
                self._pending.pop(key, None)
                return [self._count(circle)]
        if not good:
            self._pending.pop(key, None)
            return []
        run = [*self._pending.get(key, []), circle]
        return self._offer(key, circle.direction, self._chain(run, OPEN_GAP_S["ankle_circle"]))

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
        continuing = self._set is not None and self._set.exercise == exercise
        events = self._close_set()
        if continuing:
            self._announced = exercise  # a new set of the same exercise (the other direction)
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


def _clear_circle(circle: Circle) -> bool:
    """A full, smooth, round turn of exercise size and pace: enough alone to open a set."""
    low, high = CLEAR_CIRCLE_SIZE_DEG
    return (
        circle.valid and low <= circle.size_deg <= high
        and circle.aspect >= CLEAR_CIRCLE_MIN_ASPECT
        and circle.t_end - circle.t_start <= CLEAR_CIRCLE_MAX_S
    )
