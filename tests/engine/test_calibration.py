"""Calibration from the data: gyro bias while still, mounting up to 25 degrees off (and worse)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sensord.dsp.frontend import FrontEnd
from sensord.dsp.resample import Resampler
from sensord.model import ImuBlock
from sensord.pipeline import Pipeline, analyze
from sensord.recording import read_recording
from tests.engine.kinematics import axis_angle


def _xio(shared_data: Path) -> ImuBlock:
    data = np.loadtxt(shared_data / "xio_fusion_sample" / "sensor_data.csv", delimiter=",",
                      skiprows=1)
    return ImuBlock.from_arrays(data[:, 0], data[:, 4:7] * 9.80665, np.radians(data[:, 1:4]))


def test_gyro_bias_is_learned_while_still(shared_data: Path) -> None:
    block = _xio(shared_data)
    # An offset added on purpose, on top of the sensor's own: the estimate must find both.
    offset = np.array([0.02, -0.015, 0.01])
    shifted = ImuBlock(block.t_s, block.acc_m_s2, block.gyro_rad_s + offset)
    still = block.t_s < 2.0  # the recording starts at rest
    expected = block.gyro_rad_s[still].mean(axis=0) + offset
    frontend = FrontEnd()
    resampler = Resampler()
    piece = shifted.slice(0, int(np.searchsorted(block.t_s, 3.0)))
    for chunk in resampler.feed(piece.t_s, piece.acc_m_s2, piece.gyro_rad_s):
        frontend.feed(chunk)
    np.testing.assert_allclose(frontend.gyro_bias_rad_s, expected, atol=0.003)


def _rotated(block: ImuBlock, rotation: np.ndarray) -> ImuBlock:
    """The same motion seen by a sensor mounted rotated by ``rotation`` (sensor to nominal)."""
    return ImuBlock(block.t_s, block.acc_m_s2 @ rotation, block.gyro_rad_s @ rotation)


@pytest.mark.parametrize("seed", range(4))
def test_a_strap_25_degrees_off_still_finds_every_landing(shared_data: Path, seed: int) -> None:
    block = read_recording(shared_data / "gaitmap_walk" / "walk_2x20m_left.csv").block
    truth = json.loads((shared_data / "gaitmap_walk" / "walk_2x20m_left.truth.json").read_text())
    rng = np.random.default_rng(seed)
    rotation = axis_angle(rng.normal(size=3), np.radians(25.0))
    steps = np.array([e.t for e in analyze(_rotated(block, rotation)) if e.type == "step"])
    errors = [float(np.min(np.abs(steps - t))) for t in truth["landings_t"]]
    assert max(errors) < 0.05, errors
    assert not [e for e in analyze(_rotated(block, rotation)) if e.exercise == "toe_walk"]


def test_the_mounting_estimate_finds_a_known_offset(shared_data: Path) -> None:
    """Standing before and after a walk tells the vertical; the walk the medio-lateral axis."""
    block = read_recording(shared_data / "gaitmap_walk" / "stairs_up_left.csv").block
    pipeline = Pipeline()
    pipeline.feed(block)
    pipeline.finish()
    # The stairs files are in the raw sensor frame, far off nominal: the estimate moved a lot.
    assert pipeline.stats.mounting_offset_deg > 30.0
    assert pipeline.stats.flat_evidence_s > 1.0
