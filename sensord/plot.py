"""A picture of what was counted and why: foot angles, gyro, and the detections over them.

matplotlib is an optional extra (``pip install 'sensord[plot]'``); nothing else imports this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sensord.dsp.frontend import FrontEnd
from sensord.dsp.resample import Resampler
from sensord.errors import InputError
from sensord.model import Event, ImuBlock, Placement

COLOURS = {
    "plantar_flexion": "tab:blue", "ankle_circle": "tab:purple", "toe_press": "tab:green",
    "toe_walk": "tab:red", "walk": "tab:gray",
}


def plot_session(block: ImuBlock, events: list[Event], placement: Placement, path: Path) -> None:
    """Draws pitch/roll, the segment-frame gyro and the events to a PNG at ``path``."""
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional dependency

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        raise InputError("--plot needs matplotlib: pip install 'sensord[plot]'") from exc
    resampler = Resampler()
    frontend = FrontEnd(placement)
    features = [
        f for chunk in resampler.feed(block.t_s, block.acc_m_s2, block.gyro_rad_s)
        for f in frontend.feed(chunk)
    ]
    if not features:
        raise InputError("the recording is too short to plot")
    t = np.concatenate([f.t_s for f in features])
    pitch = np.concatenate([f.pitch_deg for f in features])
    roll = np.concatenate([f.roll_deg for f in features])
    gyro = np.concatenate([f.gyro_rad_s for f in features])
    fig, (ax_angle, ax_gyro) = plt.subplots(2, 1, sharex=True, figsize=(14, 7))
    ax_angle.plot(t, pitch, lw=0.8, label="pitch (toes up +)")
    ax_angle.plot(t, roll, lw=0.8, label="roll (left edge up +)")
    ax_angle.set_ylabel("degrees")
    for axis, name in enumerate("xyz"):
        ax_gyro.plot(t, gyro[:, axis], lw=0.6, label=f"gyro {name}")
    ax_gyro.set_ylabel("rad/s")
    ax_gyro.set_xlabel("time (s)")
    for event in events:
        colour = COLOURS.get(event.exercise, "black")
        if event.type == "rep" and event.t_start is not None and event.t_end is not None:
            ax_angle.axvspan(event.t_start, event.t_end, color=colour, alpha=0.15)
            label = event.direction or (f"{event.hold_s:.1f}s" if event.hold_s else "")
            ax_angle.text(event.t_end, ax_angle.get_ylim()[1], label, fontsize=6, rotation=90,
                          va="top", ha="right", color=colour)
        elif event.type == "step" and event.t is not None:
            ax_gyro.axvline(event.t, color=colour, lw=0.5, alpha=0.6)
    ax_angle.legend(loc="upper right", fontsize=7)
    ax_gyro.legend(loc="upper right", fontsize=7)
    ax_angle.set_title(f"{placement} placement: shaded = reps, lines = landings")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
