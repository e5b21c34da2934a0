"""The prescription sensord tracks: per exercise the reps, holds, bouts and rests.

The default is the routine of the project's source text (four foot exercises for back pain); a
user edits it in the config's ``[routine.<exercise>]`` tables. The pipeline only needs the targets
(a ``set`` event reports reps against them); session tracking uses the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sensord.model import EXERCISES


@dataclass(frozen=True, slots=True)
class ExerciseTarget:
    """The prescription for one exercise.

    ``reps`` is reps per set (bouts for ``toe_walk``). ``hold_s`` is the prescribed hold for the
    hold exercises; shorter holds are flagged, not counted as full. ``directions`` lists the circle
    directions to do, each one a set of ``reps``. ``bout_min_s``/``bout_max_s``/``rest_s`` describe
    toe-walking bouts and the rest after each. ``per_side`` says both legs are to be done.
    """

    reps: int
    hold_s: float | None = None
    per_side: bool = True
    directions: tuple[str, ...] = ()
    bout_min_s: float | None = None
    bout_max_s: float | None = None
    rest_s: float | None = None


@dataclass(frozen=True, slots=True)
class Routine:
    """An ordered set of exercise targets, keyed by exercise id."""

    name: str
    targets: tuple[tuple[str, ExerciseTarget], ...]

    def target(self, exercise: str) -> ExerciseTarget | None:
        for exercise_id, target in self.targets:
            if exercise_id == exercise:
                return target
        return None

    @property
    def exercises(self) -> tuple[str, ...]:
        return tuple(exercise_id for exercise_id, _ in self.targets)


DEFAULT_ROUTINE: Final = Routine(
    name="default",
    targets=(
        ("plantar_flexion", ExerciseTarget(reps=10, hold_s=5.0)),
        ("ankle_circle", ExerciseTarget(reps=10, directions=("cw", "ccw"))),
        ("toe_press", ExerciseTarget(reps=10, hold_s=5.0, per_side=False)),
        ("toe_walk", ExerciseTarget(
            reps=10, per_side=False, bout_min_s=10.0, bout_max_s=20.0, rest_s=10.0,
        )),
    ),
)

ROUTINES: Final = {"default": DEFAULT_ROUTINE}

assert DEFAULT_ROUTINE.exercises == EXERCISES
