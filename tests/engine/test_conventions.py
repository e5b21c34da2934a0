"""Sign conventions pinned with analytic motions (tests/engine/kinematics.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sensord.pipeline import analyze
from tests.engine.kinematics import axis_angle, imu_from_orientation, rot, smooth_step

LYING_LEG_UP = rot("y", np.array([-1.2]))[0]  # foot pointing up and back, top facing the head


def circles(direction: str, n: int = 10, period_s: float = 1.5, size_deg: float = 30.0):
    """Orientation of a foot whose toes trace ``n`` circles, lead-in and lead-out still."""
    sign = 1.0 if direction == "cw" else -1.0
    amp = np.radians(size_deg / 2)

    def orientation(t: np.ndarray) -> np.ndarray:
        end = 3.0 + n * period_s
        active = smooth_step(t, 3.0, 3.3) * (1 - smooth_step(t, end - 0.3, end))
        phase = 2 * np.pi * np.clip(t - 3.0, 0.0, n * period_s) / period_s
        # Toes at +x; yaw (about z) moves them along +y, pitch (about y) along -z. A cw turn
        # (CONTRACTS.md 3) takes them +y -> +z -> -y -> -z.
        yaw = amp * active * np.cos(phase)
        pitch = -amp * active * np.sin(sign * phase)
        return LYING_LEG_UP @ rot("z", yaw) @ rot("y", pitch)

    return orientation, 8.0 + n * period_s


@pytest.mark.parametrize("direction", ["cw", "ccw"])
@pytest.mark.parametrize("tilt_deg", [0.0, 25.0])
def test_circle_direction_follows_the_contract(direction: str, tilt_deg: float) -> None:
    orientation, seconds = circles(direction)
    mounting = axis_angle(np.array([0.3, -0.5, 0.8]), np.radians(tilt_deg))
    block = imu_from_orientation(orientation, seconds, mounting=mounting)
    events = analyze(block)
    reps = [e for e in events if e.type == "rep"]
    assert reps, events
    assert {e.exercise for e in reps} == {"ankle_circle"}
    assert {e.direction for e in reps} == {direction}
    assert 9 <= len(reps) <= 10
    sizes = [e.size_deg for e in reps if e.size_deg is not None]
    assert 20 < float(np.median(sizes)) < 40


def test_back_and_forth_pumping_is_not_a_circle() -> None:
    amp = np.radians(15)

    def orientation(t: np.ndarray) -> np.ndarray:
        return LYING_LEG_UP @ rot("y", amp * np.sin(2 * np.pi * t / 1.2) * smooth_step(t, 2, 3))

    events = analyze(imu_from_orientation(orientation, 25.0))
    assert not [e for e in events if e.type == "rep"]


SEATED_LEG_OUT = rot("y", np.array([-1.3]))[0]  # heel on the floor, foot pointing up (~75 deg)


def holds(base: np.ndarray, amplitude_deg: float, holds_s: list[float], tremor_deg: float = 0.5):
    """Point-hold-return reps about the foot's y axis: negative amplitude = toes down."""
    starts = 3.0 + np.cumsum([0.0, *[h + 4.0 for h in holds_s[:-1]]])
    amp = np.radians(amplitude_deg)

    def orientation(t: np.ndarray) -> np.ndarray:
        angle = np.zeros_like(t)
        for start, hold in zip(starts, holds_s, strict=True):
            angle += smooth_step(t, start, start + 0.8) * (
                1 - smooth_step(t, start + 0.8 + hold, start + 1.6 + hold))
        held = angle > 0.999
        tremor = np.radians(tremor_deg) * np.sin(2 * np.pi * 9.0 * t) * held
        # Positive rotation about y takes the toes down.
        return base @ rot("y", -amp * angle + tremor)

    return orientation, float(starts[-1] + holds_s[-1] + 6.0)


def test_plantar_flexion_reps_and_holds() -> None:
    truth = [5.0, 5.0, 4.0, 6.0, 5.0, 3.0, 5.0, 5.5, 5.0, 4.5]
    orientation, seconds = holds(SEATED_LEG_OUT, -30.0, truth)
    events = analyze(imu_from_orientation(orientation, seconds))
    reps = [e for e in events if e.type == "rep"]
    assert [e.exercise for e in reps] == ["plantar_flexion"] * 10
    errors = [abs((e.hold_s or 0.0) - h) for e, h in zip(reps, truth, strict=True)]
    assert float(np.median(errors)) <= 0.3, errors
    sets = [e for e in events if e.type == "set"]
    assert [(s.exercise, s.reps, s.target) for s in sets] == [("plantar_flexion", 10, 10)]
    assert [e.short_hold for e in reps].count(True) == 2  # 4.0 and 3.0 s are under 4.5 s


def test_foot_tapping_is_not_plantar_flexion() -> None:
    """Seated, heel down, toes tapping at 2.5 Hz: quick excursions, no holds, no reps."""
    amp = np.radians(15.0)

    def orientation(t: np.ndarray) -> np.ndarray:
        taps = 0.5 - 0.5 * np.cos(2 * np.pi * 2.5 * t)
        return SEATED_LEG_OUT @ rot("y", -amp * taps * smooth_step(t, 3.0, 3.5))

    events = analyze(imu_from_orientation(orientation, 40.0))
    assert not [e for e in events if e.type == "rep"]


STANDING_ON_BALL = rot("y", np.array([-0.17]))[0]  # forefoot on a ball: toes ~10 deg up


def test_toe_presses_on_a_ball() -> None:
    truth = [5.0] * 10
    orientation, seconds = holds(STANDING_ON_BALL, 4.0, truth, tremor_deg=0.3)
    events = analyze(imu_from_orientation(orientation, seconds))
    reps = [e for e in events if e.type == "rep"]
    assert [e.exercise for e in reps] == ["toe_press"] * 10
    # The cosine ramps spend a while within the plateau tolerance (a quarter of a 4 degree
    # press): about half a second over 5 s with these ramps, a few hundredths on the simulator.
    assert float(np.median([abs((e.hold_s or 0) - 5.0) for e in reps])) <= 0.6
