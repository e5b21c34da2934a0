"""`sensord analyze`: a recording through the same streaming pipeline the daemon runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sensord.cli.app import app
from sensord.errors import InputError
from sensord.model import PLACEMENTS, Event, Placement
from sensord.pipeline import CHUNK_SAMPLES, VISIBLE, Pipeline, PipelineConfig

if TYPE_CHECKING:
    from sensord.recording import Recording

#: Samples per block when feeding the recording (the result is the same for any block size;
#: blocks keep memory flat for long files): the pipeline's own pass size, its fastest.
FEED_BLOCK = CHUNK_SAMPLES


def run_pipeline(recording: Recording, placement: Placement) -> tuple[list[Event], Pipeline]:
    """Feeds a recording through a fresh pipeline; returns its events in time order."""
    side = recording.meta.side if recording.meta.side in ("left", "right") else None
    pipeline = Pipeline(PipelineConfig(placement=placement, side=side))  # type: ignore[arg-type]
    events: list[Event] = []
    for block in recording.blocks(FEED_BLOCK):
        events.extend(pipeline.feed(block))
    events.extend(pipeline.finish())
    events.sort(key=lambda e: e.time_s)
    return events, pipeline


def _placement(option: str | None, recording: Recording) -> Placement:
    value = option or recording.meta.placement or "instep"
    if value not in PLACEMENTS:
        raise InputError(f"placement {value!r} is not one of {', '.join(PLACEMENTS)}")
    return value  # type: ignore[return-value]


@app.command()
def analyze(
    file: Annotated[Path, typer.Argument(help="A recording (CSV, see docs/recording.md).")],
    placement: Annotated[str | None, typer.Option(
        help="Where the wearable sat: instep or ankle (default: the file's metadata, else "
             "instep).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print events as JSON lines.")] = False,
    lenient: Annotated[bool, typer.Option(
        help="Skip malformed lines (and count them) instead of stopping at the first.")] = False,
    plot: Annotated[Path | None, typer.Option(
        help="Also draw pitch, roll, gyro and the detections to this PNG (needs matplotlib: "
             "pip install 'sensord[plot]').")] = None,
) -> None:
    """Count and time the exercises in a recording."""
    # Imported here so that other commands (the daemon) do not carry them.
    from sensord.recording import read_recording  # noqa: PLC0415

    recording = read_recording(file, lenient=lenient)
    where = _placement(placement, recording)
    events, pipeline = run_pipeline(recording, where)
    if plot is not None:
        from sensord.plot import plot_session  # noqa: PLC0415 - matplotlib is optional

        plot_session(recording.block, events, where, plot)
    if as_json:
        for event in events:
            typer.echo(json.dumps(event.to_dict(), separators=(",", ":")))
        return
    _print_summary(file, recording, where, events, pipeline)


def _print_summary(
    file: Path, recording: Recording, placement: Placement, events: list[Event],
    pipeline: Pipeline,
) -> None:
    from sensord.report import TITLES, set_line, summarize_sets, timeline  # noqa: PLC0415

    block = recording.block
    duration = float(block.t_s[-1] - block.t_s[0]) if len(block) > 1 else 0.0
    rate = (len(block) - 1) / duration if duration > 0 else 0.0
    meta = recording.meta
    side = f", {meta.side} foot" if meta.side else ""
    echo = typer.echo
    echo(f"{file}: {duration / 60:.1f} min at {rate:.0f} Hz, {placement} placement{side}")
    if recording.skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(recording.skipped_reasons.items()))
        echo(f"  skipped {recording.skipped} malformed lines ({reasons})")
    sets = summarize_sets(events)
    echo("")
    if sets:
        echo("Sets")
        for summary in sets:
            echo("  " + set_line(summary))
    else:
        echo("No exercise sets recognised.")
    walk_steps = sum(1 for e in events if e.type == "step" and e.exercise == "walk")
    toe_steps = sum(1 for e in events if e.type == "step" and e.exercise == "toe_walk")
    echo(f"Steps: {walk_steps} walking, {toe_steps} on tiptoe")
    t0 = float(block.t_s[0]) if len(block) else 0.0
    shifted = [_shift(e, t0) for e in events]
    echo("")
    echo(timeline(shifted, duration))
    stats = pipeline.stats
    echo("")
    echo(
        f"Signal: {stats.gaps} gaps ({stats.gap_s:.1f} s without samples), mounting estimated "
        f"{stats.mounting_offset_deg:.0f} deg from nominal"
        + ("" if stats.flat_evidence_s else " (no flat standing seen: nominal assumed)")
    )
    hidden = [TITLES[e] for e in TITLES if e not in VISIBLE[placement]]
    if hidden:
        echo(
            f"Note: with the {placement} placement these are not counted (the shank barely moves "
            f"in them): {', '.join(hidden)}. Wear the sensor on the instep to count them."
        )


def _shift(event: Event, t0: float) -> Event:
    def minus(value: float | None) -> float | None:
        return None if value is None else value - t0

    return Event(
        type=event.type, exercise=event.exercise, t_start=minus(event.t_start),
        t_end=minus(event.t_end), t=minus(event.t),
    )
