"""Motion simulator: synthetic foot-worn IMU sessions with ground truth.

``simulate(SimSpec(...))`` synthesises a session of the routine (or any script of activities)
from the kinematics of a leg model and returns the samples (``ImuBlock``), the recording
metadata and the ``Truth``. ``stream_blocks`` streams sessions endlessly. See docs/simulator.md.
"""

from __future__ import annotations

from sensord.sim.script import ACTIVITIES, SCRIPT_NAMES, Script, Segment, builtin_script
from sensord.sim.session import SimSpec, Simulation, Trace, simulate
from sensord.sim.stream import sessions, stream_blocks
from sensord.sim.truth import TRUTH_VERSION, Truth, read_truth

__all__ = [
    "ACTIVITIES",
    "SCRIPT_NAMES",
    "TRUTH_VERSION",
    "Script",
    "Segment",
    "SimSpec",
    "Simulation",
    "Trace",
    "Truth",
    "builtin_script",
    "read_truth",
    "sessions",
    "simulate",
    "stream_blocks",
]
