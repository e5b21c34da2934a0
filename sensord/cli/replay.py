"""`sensord replay`: a recording through the daemon path (pipeline, store, MQTT) as if it came
live from a wearable, so dashboards can be built and tested before any hardware is at hand."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sensord.cli.app import app
from sensord.config import Config, WearableConfig, load_config
from sensord.daemon import Daemon, RecordingSource, mqtt_sink, open_store
from sensord.errors import BrokerError, InputError
from sensord.model import PLACEMENTS
from sensord.sinks.base import NoCommands

if TYPE_CHECKING:
    from sensord.recording import Recording

__all__ = ["app", "replay"]


def _wearable(config: Config, device: str, recording: Recording,
              placement: str | None) -> Config:
    """The config with ``device`` among its wearables (placement and side from the recording
    when the config does not name the wearable; ``--placement`` wins over both)."""
    existing = next((w for w in config.wearables if w.name == device), None)
    if existing is None:
        meta = recording.meta
        existing = WearableConfig(
            name=device,
            placement="ankle" if meta.placement == "ankle" else "instep",
            side="left" if meta.side == "left" else "right" if meta.side == "right" else None,
            rate_hz=meta.rate_hz or 100.0,
        )
    if placement is not None:
        existing = dataclasses.replace(
            existing, placement="ankle" if placement == "ankle" else "instep"
        )
    others = tuple(w for w in config.wearables if w.name != device)
    return dataclasses.replace(config, wearables=(*others, existing))


@app.command("replay")
def replay(
    file: Annotated[Path, typer.Argument(help="The recording (CSV) to replay.")],
    *,
    device: Annotated[str, typer.Option(
        "--device", help="The wearable name the recording is replayed as.",
    )],
    speed: Annotated[float, typer.Option(
        "--speed", help="1 = real time, 10 = ten times faster, 0 = as fast as possible.",
    )] = 1.0,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="Config file (default: the usual locations).", show_default=False,
    )] = None,
    broker: Annotated[str | None, typer.Option(
        "--broker", help="mqtt://[user@]host[:port] or mqtts://... (default: mqtt.url). "
        "The password comes from mqtt.password_file or SENSORD_MQTT_PASSWORD.",
        show_default=False,
    )] = None,
    store_path: Annotated[Path | None, typer.Option(
        "--store", help="The outbox database (default: store.path, else the state directory).",
        show_default=False,
    )] = None,
    placement: Annotated[str | None, typer.Option(
        "--placement", help="instep or ankle (default: the config, else the recording).",
        show_default=False,
    )] = None,
    lenient: Annotated[bool, typer.Option("--lenient", help="Skip malformed lines.")] = False,
    drain_timeout_s: Annotated[float, typer.Option(
        "--drain-timeout", help="Seconds to wait at the end for the broker to take every event.",
    )] = 10.0,
) -> None:
    """Feed a recording through the daemon path (pipeline, store, MQTT) as wearable DEVICE."""
    if speed < 0:
        raise InputError(f"--speed must be 0 or more, got {speed:g}")
    if placement is not None and placement not in PLACEMENTS:
        raise InputError(f"--placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    from sensord.recording import read_recording  # noqa: PLC0415 - not for the daemon

    recording = read_recording(file, lenient=lenient)
    config = _wearable(load_config(config_path), device, recording, placement)
    store = open_store(config, str(store_path) if store_path is not None else None)
    try:
        sink = mqtt_sink(
            config, store, broker_url=broker, wearables=[device],
            commands=NoCommands("sensord replay does not take commands"), fail_on_refusal=True,
        )
        daemon = Daemon(config, store, sink)
        source = RecordingSource(recording.block, speed=speed)
        summary = asyncio.run(daemon.run(
            {device: source}, drain_timeout_s=drain_timeout_s, connect_wait_s=5.0,
        ))
        first_seq = store.last_seq(device) - summary.events[device] + 1
    finally:
        store.close()
    events = summary.events[device]
    seqs = f" (seq {first_seq}-{first_seq + events - 1})" if events else ""
    typer.echo(
        f"replayed {file} as {device!r}: {summary.samples[device]} samples, {events} "
        f"event(s){seqs}"
    )
    if not summary.drained:
        raise BrokerError(
            f"{summary.pending} event(s) were not delivered to {sink.broker.describe()} within "
            f"{drain_timeout_s:g} s; they wait in {store.path} and go out with the next "
            "sensord run or replay"
        )
