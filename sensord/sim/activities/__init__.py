"""One generator per activity; ``generate`` dispatches a script segment to its generator and
``change_posture`` produces the transitions between postures."""

from __future__ import annotations

import numpy as np

from sensord.sim.activities.locomotion import stairs, toe_walk_set, walk
from sensord.sim.activities.lying import ankle_circle_set, lie
from sensord.sim.activities.seated import (
    fidget,
    foot_tap,
    leg_swing,
    plantar_flexion_set,
    sit,
)
from sensord.sim.activities.standing import stand, toe_press_set, weight_shift
from sensord.sim.activities.transitions import get_up, lie_down, sit_down, stand_up
from sensord.sim.script import Segment
from sensord.sim.state import Chunk, Context, Posture, State

__all__ = ["change_posture", "generate"]


def change_posture(ctx: Context, state: State, target: Posture, rng: np.random.Generator
                   ) -> list[Chunk]:
    """The transitions from the current posture to ``target`` (via standing if needed)."""
    chunks: list[Chunk] = []
    while state.posture != target:
        if state.posture == "seated":
            chunk = stand_up(ctx, state, rng)
        elif state.posture == "lying":
            chunk = get_up(ctx, state, rng)
        elif target == "seated":
            chunk = sit_down(ctx, state, rng)
        else:
            chunk = lie_down(ctx, state, rng)
        chunks.append(chunk)
        state = chunk.end
    return chunks


def _rest(ctx: Context, state: State, seg: Segment, rng: np.random.Generator, *,
          activity: str, extra: tuple[tuple[str, object], ...] = ()) -> Chunk:
    assert seg.duration_s is not None
    if state.posture == "seated":
        return sit(ctx, state, seg.duration_s, rng, activity=activity, extra=extra)
    if state.posture == "lying":
        return lie(ctx, state, seg.duration_s, rng, activity=activity, extra=extra)
    return stand(ctx, state, seg.duration_s, rng, activity=activity, extra=extra)


def generate(ctx: Context, state: State, seg: Segment, rng: np.random.Generator,
             set_key: int) -> Chunk:
    """The motion and truth of one segment, starting from ``state`` (already in posture)."""
    a = seg.activity
    if a == "plantar_flexion":
        assert seg.reps is not None
        return plantar_flexion_set(
            ctx, state, seg.reps, rng, set_key=set_key,
            hold_s=seg.params.get("hold_s"), amplitude_deg=seg.params.get("amplitude_deg"))
    if a == "ankle_circle":
        assert seg.reps is not None
        directions = (seg.direction,) if seg.direction is not None else ("cw", "ccw")
        return ankle_circle_set(ctx, state, seg.reps, directions, rng, first_set_key=set_key,
                                period_s=seg.params.get("period_s"),
                                size_deg=seg.params.get("size_deg"))
    if a == "toe_press":
        assert seg.reps is not None
        return toe_press_set(ctx, state, seg.reps, rng, set_key=set_key,
                             hold_s=seg.params.get("hold_s"))
    if a == "toe_walk":
        assert seg.reps is not None
        return toe_walk_set(ctx, state, seg.reps, rng, set_key=set_key,
                            bout_s=(seg.param("bout_min_s", 10.0), seg.param("bout_max_s", 20.0)),
                            rest_s=seg.param("rest_s", 10.0))
    if a in ("stairs_up", "stairs_down"):
        assert seg.reps is not None
        return stairs(ctx, state, a == "stairs_up", seg.reps, rng)
    if a == "transition":
        raise AssertionError("transitions are produced by change_posture")
    assert seg.duration_s is not None
    duration = seg.duration_s
    if a == "walk":
        return walk(ctx, state, duration, rng)
    if a == "stand":
        return stand(ctx, state, duration, rng)
    if a == "weight_shift":
        return weight_shift(ctx, state, duration, rng)
    if a == "sit":
        return sit(ctx, state, duration, rng)
    if a == "fidget":
        return fidget(ctx, state, duration, rng)
    if a == "foot_tap":
        return foot_tap(ctx, state, duration, rng)
    if a == "leg_swing":
        return leg_swing(ctx, state, duration, rng)
    if a == "lie":
        return lie(ctx, state, duration, rng)
    if a == "rest":
        return _rest(ctx, state, seg, rng, activity="rest")
    if a == "other_leg":
        extra = (("other_exercise", seg.exercise),) if seg.exercise else ()
        return _rest(ctx, state, seg, rng, activity="other_leg", extra=extra)
    raise AssertionError(f"no generator for {a!r}")
