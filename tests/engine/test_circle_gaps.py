"""Ankle circles across packets lost for about half a second: the turn goes on while the
stream is away, and the circle it hid is counted, once."""

from __future__ import annotations

import pytest

from sensord.model import ImuBlock
from sensord.pipeline import analyze
from sensord.sim import SimSpec, simulate


@pytest.mark.parametrize("gap_s", [0.3, 0.55, 0.8])
def test_a_circle_survives_a_short_break(gap_s: float) -> None:
    sim = simulate(SimSpec(routine="ankle_circle", seed=2, rate_hz=100.0, loss=0.0,
                           mounting_max_deg=0.0))
    for truth_set in sim.truth.sets:
        reps = [r for r in sim.truth.reps if r.exercise == "ankle_circle"
                and truth_set.t_start <= r.t_start < truth_set.t_end]
        # Packets lost in the middle of the fifth circle of every set.
        middle = (reps[4].t_start + reps[4].t_end) / 2.0
        t = sim.block.t_s
        keep = (t < middle) | (t >= middle + gap_s)
        gapped = ImuBlock(t[keep], sim.block.acc_m_s2[keep], sim.block.gyro_rad_s[keep])
        counted = [e for e in analyze(gapped) if e.type == "set"
                   and e.exercise == "ankle_circle" and e.direction == truth_set.direction]
        assert [e.reps for e in counted] == [truth_set.reps]
