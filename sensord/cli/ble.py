"""`sensord scan`, `sensord record` and `sensord wearable`: the BLE area's commands.

Thin: argument checking, signals and printing; the work is in ``sensord.ble`` and
``sensord.virtual``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from sensord.ble.adapter import parse_adapter
from sensord.ble.health import LinkHealth
from sensord.ble.link import LinkConfig
from sensord.ble.scan import Target
from sensord.ble.scan import scan as scan_wearables
from sensord.cli.app import app
from sensord.config import Config, load_config
from sensord.errors import InputError
from sensord.model import PLACEMENTS, SIDES
from sensord.profiles import PROFILES, get_profile

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Config file (default: the usual places).")
]
AdapterOption = Annotated[
    str | None, typer.Option(
        help="hci0-style adapter (BlueZ) or bumble:TRANSPORT, e.g. "
             "bumble:tcp-client:127.0.0.1:9000 (default: ble.adapter from the config).")
]


def _run(main: Coroutine[Any, Any, T], stop: asyncio.Event) -> T:
    """Runs ``main`` with SIGINT and SIGTERM setting ``stop`` (a clean finish, not a crash)."""

    async def runner() -> T:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await main
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(runner())


def _config(path: Path | None) -> Config:
    return load_config(path)


@app.command("scan")
def scan_command(
    *,
    adapter: AdapterOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to listen.", min=0.1)] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    config: ConfigOption = None,
) -> None:
    """List nearby wearables: name, address, RSSI and the recognised profile."""
    settings = _config(config)
    chosen = parse_adapter(adapter or settings.ble.adapter)

    async def main() -> list[Any]:
        async with chosen:
            return await scan_wearables(chosen, timeout)

    results = _run(main(), asyncio.Event())
    if as_json:
        for r in results:
            typer.echo(json.dumps({"name": r.name, "address": r.address, "rssi_dbm": r.rssi_dbm,
                                   "profile": r.profile}))
        return
    if not results:
        typer.echo(f"no devices seen on {chosen.name} in {timeout:g} s", err=True)
        return
    typer.echo(f"{'NAME':<24} {'ADDRESS':<18} {'RSSI':>5}  PROFILE")
    for r in results:
        typer.echo(f"{(r.name or '-'):<24} {r.address:<18} {r.rssi_dbm:>5}  {r.profile or '-'}")


class _StatusLine:
    """The live line of ``record`` on stderr: rewritten in place on a terminal, otherwise a
    line every few seconds (logs and CI stay readable)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.tty = sys.stderr.isatty()
        self.every_s = every_s
        self._last = 0.0

    def __call__(self, health: LinkHealth, written: int) -> None:
        text = (
            f"{health.name}: {health.state} | {health.rate_hz:5.1f} Hz | loss "
            f"{health.loss_pct:5.2f} % | {written} samples | {health.reconnects} reconnects"
        )
        if self.tty:
            sys.stderr.write("\r" + text.ljust(100)[:100])
            sys.stderr.flush()
        elif time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


@app.command("record")
def record_command(
    *,
    device: Annotated[str, typer.Option(help="The wearable's advertised name or address.")],
    out: Annotated[Path, typer.Option(help="The recording to write (CSV).")],
    adapter: AdapterOption = None,
    duration: Annotated[float | None, typer.Option(
        help="Seconds of samples to record (default: until Ctrl-C).", min=0.0)] = None,
    profile: Annotated[str | None, typer.Option(
        help=f"Device profile: auto or one of {', '.join(PROFILES)} (default: the config's, "
             "else auto).")] = None,
    rate: Annotated[float | None, typer.Option(
        help="Sample rate to ask for, Hz (default: the config's, else 100).", min=0.1)] = None,
    placement: Annotated[str | None, typer.Option(help="instep or ankle (metadata).")] = None,
    side: Annotated[str | None, typer.Option(help="left or right (metadata).")] = None,
    wait: Annotated[float, typer.Option(
        help="Give up if no sample arrives within this many seconds.", min=1.0)] = 60.0,
    config: ConfigOption = None,
) -> None:
    """Capture a wearable's stream to a recording; Ctrl-C finishes the file cleanly."""
    settings = _config(config)
    configured = next((w for w in settings.wearables if device in (w.name, w.address)), None)
    if placement is not None and placement not in PLACEMENTS:
        raise InputError(f"--placement must be one of {', '.join(PLACEMENTS)}")
    if side is not None and side not in SIDES:
        raise InputError(f"--side must be one of {', '.join(SIDES)}")
    chosen_profile = profile or (configured.profile if configured else "auto")
    if chosen_profile != "auto":
        get_profile(chosen_profile)  # InputError listing the known ids
    target = Target.parse(device)
    link_config = LinkConfig(
        name=device if target.name else (configured.name if configured else device),
        address=target.address,
        profile=chosen_profile,
        rate_hz=rate or (configured.rate_hz if configured else 100.0),
        scan_timeout_s=settings.ble.scan_timeout_s,
        connect_timeout_s=settings.ble.connect_timeout_s,
        stale_after_s=settings.ble.stale_after_s,
        queue_blocks=settings.ble.queue_blocks,
    )
    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a directory")
    from sensord.ble.record import RecordOptions, record  # noqa: PLC0415 - not for the daemon

    options = RecordOptions(
        out=out, duration_s=duration, wait_s=wait,
        placement=placement or (configured.placement if configured else None),
        side=side or (configured.side if configured else None),
    )
    chosen_adapter = parse_adapter(
        adapter or (configured.adapter if configured and configured.adapter else None)
        or settings.ble.adapter
    )
    status = _StatusLine()
    stop = asyncio.Event()

    async def main() -> Any:
        async with chosen_adapter:
            return await record(link_config, chosen_adapter, options, stop, status)

    try:
        result = _run(main(), stop)
    finally:
        status.done()
    health = result.health
    typer.echo(
        f"{out}: {result.samples} samples, {result.duration_s:.1f} s, "
        f"{health.lost_samples} lost ({health.loss_pct:.2f} %) in {health.gaps} gaps, "
        f"{health.decode_errors} bad packets, {health.reconnects} reconnects"
    )


@app.command("wearable")
def wearable_command(
    *,
    profile: Annotated[str, typer.Option(
        help=f"Device profile to emulate: {', '.join(PROFILES)}.")] = "sensord",
    name: Annotated[list[str] | None, typer.Option(
        help="Advertised name (repeat for several wearables; default: PREFIX-virtual).")] = None,
    motion: Annotated[str | None, typer.Option(
        help="What the wearable feels: a recording FILE.csv, 'routine' (the simulated "
             "routine) or nothing (built-in ankle pumps).")] = None,
    speed: Annotated[float, typer.Option(help="Times faster than real time.", min=0.01)] = 1.0,
    side: Annotated[str, typer.Option(help="Foot of the simulated routine: left or right.")] = (
        "right"),
    seed: Annotated[int, typer.Option(help="Seed of the simulated routine.", min=0)] = 0,
    listen: Annotated[str, typer.Option(
        help="Where other processes reach the virtual radio: tcp-server:HOST:PORT (PORT 0 "
             "picks one).")] = "tcp-server:127.0.0.1:9000",
    mtu: Annotated[int, typer.Option(help="Largest ATT MTU the wearable accepts.")] = 247,
    battery: Annotated[int, typer.Option(help="Battery level, %.", min=0, max=100)] = 87,
    loss: Annotated[float, typer.Option(help="Probability a packet is lost.")] = 0.0,
    corrupt: Annotated[float, typer.Option(help="Probability a packet is corrupted.")] = 0.0,
    rate_scale: Annotated[float, typer.Option(
        help="The device's clock against what it claims (1.01 = 1 % fast).")] = 1.0,
    drop_every: Annotated[float | None, typer.Option(
        help="Drop the link every this many seconds (a reconnect drill).")] = None,
) -> None:
    """Run virtual wearables on a Bluetooth stack written in Python (bumble); other processes
    reach them with --adapter bumble:tcp-client:HOST:PORT."""
    from sensord.virtual.hci_server import HciServer  # noqa: PLC0415 - bumble is heavy
    from sensord.virtual.motion import load_motion  # noqa: PLC0415
    from sensord.virtual.serve import ServeOptions, default_name, serve  # noqa: PLC0415
    from sensord.virtual.wearable import VirtualWearable  # noqa: PLC0415

    chosen = get_profile(profile)
    options = ServeOptions(
        profile=chosen, names=tuple(name or [default_name(chosen)]),
        motion=load_motion(motion, side=side, seed=seed),
        listen=listen, speed=speed, mtu=mtu, battery_pct=battery, loss_probability=loss,
        corrupt_probability=corrupt, rate_scale=rate_scale, drop_every_s=drop_every,
    )
    options.check()
    stop = asyncio.Event()

    def ready(server: HciServer, wearables: Sequence[VirtualWearable]) -> None:
        host = server.host or "127.0.0.1"
        for wearable in wearables:
            typer.echo(f"wearable {wearable.name} ({chosen.id}) at {wearable.address}")
        typer.echo(f"listening on {server.listen_spec}; reach it with "
                   f"--adapter bumble:tcp-client:{host}:{server.port}")
        sys.stdout.flush()

    def identified(wearable: VirtualWearable) -> None:
        typer.echo(f"wearable {wearable.name}: identify #{wearable.stats.identified} "
                   f"({wearable.emulator.identify_note})")
        sys.stdout.flush()

    _run(serve(options, stop, ready, identified), stop)
