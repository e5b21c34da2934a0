"""The pipeline on real foot-IMU recordings with motion-capture truth (../shared/data)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from sensord.model import ImuBlock
from sensord.pipeline import analyze
from sensord.recording import read_recording

WALKS = [
    "walk_2x20m_left", "walk_2x20m_right",
    "walk_2x20m_raw_mounting_left", "walk_2x20m_raw_mounting_right",
]
STAIRS = ["stairs_up_left", "stairs_up_right", "stairs_down_left", "stairs_down_right"]


def _truth(shared_data: Path, name: str) -> dict[str, object]:
    truth_name = name.replace("raw_mounting_", "") + ".truth.json"
    return json.loads((shared_data / "gaitmap_walk" / truth_name).read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", WALKS)
def test_walk_landings_match_motion_capture(shared_data: Path, name: str) -> None:
    recording = read_recording(shared_data / "gaitmap_walk" / f"{name}.csv")
    events = analyze(recording.block)
    truth = _truth(shared_data, name)
    landings = np.array(truth["landings_t"])  # type: ignore[arg-type]
    lo, hi = truth["annotated_span_t"]  # type: ignore[misc]
    steps = np.array([e.t for e in events if e.type == "step" and e.exercise == "walk"])
    # The truth annotates strides inside the span except the turn (its README: landings in the
    # turn lie between annotated strides); leave out detections inside such an unannotated gap.
    stride = float(np.median(np.diff(landings)))
    inside = (steps >= lo) & (steps <= hi)
    for a, b in itertools.pairwise(landings):
        if b - a > 1.6 * stride:
            inside &= ~((steps > a + 0.5 * stride) & (steps < b - 0.5 * stride))
    in_span = steps[inside]
    # Count within 3 % of the truth.
    assert abs(in_span.size - landings.size) <= 0.03 * landings.size, (in_span, landings)
    # Each true landing matched by a detected one; median timing error under 0.1 s.
    errors = np.array([np.min(np.abs(in_span - t)) for t in landings])
    assert np.median(errors) < 0.1
    assert np.mean(errors < 0.1) >= 0.95
    assert not [e for e in events if e.exercise == "toe_walk"]
    assert not [e for e in events if e.type in ("rep", "set")]


@pytest.mark.parametrize("name", STAIRS)
def test_stairs_give_no_reps_and_no_tiptoe(shared_data: Path, name: str) -> None:
    recording = read_recording(shared_data / "gaitmap_walk" / f"{name}.csv")
    events = analyze(recording.block)
    assert not [e for e in events if e.type in ("rep", "set")]
    assert not [e for e in events if e.exercise == "toe_walk"]
    # Stairs are still walking: the landings are reported as steps.
    assert sum(1 for e in events if e.type == "step") >= 15


def test_hand_held_recording_gives_no_reps(shared_data: Path) -> None:
    """x-io's sample is a sensor turned by hand: not foot exercise, nothing is counted."""
    path = shared_data / "xio_fusion_sample" / "sensor_data.csv"
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    block = ImuBlock.from_arrays(data[:, 0], data[:, 4:7] * 9.80665, np.radians(data[:, 1:4]))
    events = analyze(block)
    assert not [e for e in events if e.type in ("rep", "set")]
