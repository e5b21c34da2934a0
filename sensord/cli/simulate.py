"""`sensord simulate`: synthesise a session of the routine, with its ground truth.

Numbers are taken as text and checked here, so a bad value is one line naming the option and
exit code 2 (InputError), like every other sensord error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from sensord.cli.app import app
from sensord.errors import InputError
from sensord.model import PLACEMENTS, SIDES

__all__ = ["app", "simulate_command"]


def _number(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{option}: {text!r} is not a finite number")
    return value


def _integer(option: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a whole number") from None


def _choice(option: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise InputError(f"{option}: {text!r} is not one of {', '.join(allowed)}")
    return text


def _writable(option: str, path: Path) -> Path:
    if path.is_dir():
        raise InputError(f"{option}: {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise InputError(f"{option}: directory {path.parent} does not exist")
    return path


@app.command("simulate")
def simulate_command(
    *,
    out: Annotated[Path | None, typer.Option("--out", help="Recording to write (CSV).")] = None,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Ground truth to write (JSON).")] = None,
    routine: Annotated[str, typer.Option(
        "--routine", help="Script to simulate: default, everyday, mixed, walk or one "
        "exercise (docs/simulator.md).")] = "default",
    side: Annotated[str, typer.Option(
        "--side", help="Instrumented foot: left or right.")] = "right",
    placement: Annotated[str, typer.Option(
        "--placement", help="Where the wearable sits: instep or ankle.")] = "instep",
    rate: Annotated[str, typer.Option(
        "--rate", help="Output rate in Hz (25-400).")] = "100",
    seed: Annotated[str, typer.Option(
        "--seed", help="Random seed: the same seed, the same session.")] = "0",
    mounting_deg: Annotated[str, typer.Option(
        "--mounting-deg", help="Largest random mounting offset, degrees.")] = "25",
    loss: Annotated[str, typer.Option(
        "--loss", help="Fraction of radio packets lost (0-0.5).")] = "0",
    noise: Annotated[bool, typer.Option(
        "--noise/--no-noise", help="Sensor errors (bias, noise, quantisation) on or off.")] = True,
) -> None:
    """Synthesise a session of the routine from foot kinematics, with its ground truth."""
    # Imported here: every other command (the daemon above all) starts without the simulator.
    from sensord.sim import SCRIPT_NAMES, SimSpec, simulate  # noqa: PLC0415

    if out is None:
        raise InputError("--out FILE.csv is required")
    spec = SimSpec(
        routine=_choice("--routine", routine, SCRIPT_NAMES),
        side=_choice("--side", side, SIDES),  # type: ignore[arg-type]
        placement=_choice("--placement", placement, PLACEMENTS),  # type: ignore[arg-type]
        rate_hz=_number("--rate", rate),
        seed=_integer("--seed", seed),
        mounting_max_deg=_number("--mounting-deg", mounting_deg),
        loss=_number("--loss", loss),
        noise=noise,
    )
    spec.validate()
    _writable("--out", out)
    if truth is not None:
        _writable("--truth", truth)
    sim = simulate(spec)
    try:
        sim.write(out, truth)
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    t = sim.truth
    sets = ", ".join(
        f"{s.exercise}{'/' + s.direction if s.direction else ''} x{s.reps}" for s in t.sets
    ) or "none"
    typer.echo(
        f"wrote {out}: {len(sim.block)} samples, {t.duration_s:.1f} s at {spec.rate_hz:g} Hz, "
        f"{spec.side} {spec.placement}, {t.lost_samples} samples lost; sets: {sets}; "
        f"steps: {len(t.steps)}" + (f"; truth {truth}" if truth is not None else "")
    )
