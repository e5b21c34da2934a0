"""``sensord run``, ``sensord status`` and ``sensord demo``: the daemon, its live view and the
demo. Thin: options, logging and printing; the work is in sensord.runner, sensord.status and
sensord.demo. The live view's modules (rich) are imported by the commands that print: the daemon
does not carry them."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer._click.core import ParameterSource

from sensord.cli.app import app, configure_logging, is_debug
from sensord.config import Config, load_config
from sensord.errors import InputError
from sensord.runner import Runner, config_loader
from sensord.sinks.broker import broker_settings

__all__ = ["app", "demo", "run", "status"]

ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="Config file (default: the usual places).", show_default=False,
)]
BrokerOption = Annotated[str | None, typer.Option(
    "--broker", help="mqtt://[user@]host[:port] or mqtts://... (default: mqtt.url). The "
    "password comes from mqtt.password_file or SENSORD_MQTT_PASSWORD.", show_default=False,
)]


def _logging(ctx: typer.Context, config: Config) -> None:
    """The config's logging, unless ``--debug`` or ``--log-level`` was given."""
    if is_debug(ctx):
        configure_logging("debug", config.logging.levels)
        return
    level = config.logging.level
    root = ctx.parent
    if root is not None and root.get_parameter_source("log_level") is ParameterSource.COMMANDLINE:
        level = str(root.params["log_level"])
    configure_logging(
        level, config.logging.levels,
        repeat_window_s=config.logging.repeat_window_s,
        repeat_burst=config.logging.repeat_burst,
    )


@app.command("run")
def run(
    ctx: typer.Context,
    config_path: ConfigOption = None,
    broker: BrokerOption = None,
    speed: Annotated[float, typer.Option(
        "--speed", help="The wearables are virtual and stream this many times faster than "
        "real time (sensord wearable --speed): their samples are timed by their count.",
    )] = 1.0,
) -> None:
    """The daemon: connect to the configured wearables, follow the workout, publish it."""
    if speed <= 0:
        raise InputError(f"--speed must be positive, got {speed:g}")
    config = load_config(config_path)
    _logging(ctx, config)

    def on_reload(fresh: Config) -> None:
        _logging(ctx, fresh)

    runner = Runner(config, broker_url=broker, time_scale=speed,
                    reload=config_loader(config_path), on_reload=on_reload)
    asyncio.run(runner.run())


@app.command("status")
def status(  # noqa: PLR0917 - typer options
    config_path: ConfigOption = None,
    broker: BrokerOption = None,
    once: Annotated[bool, typer.Option(
        "--once", help="Print one snapshot and exit (with --json: for scripts).",
    )] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: a JSON object.")] = False,
    wait: Annotated[float, typer.Option(
        "--wait", help="Seconds to wait for the daemon to answer.", min=0.1,
    )] = 5.0,
    base_topic: Annotated[str | None, typer.Option(
        "--base-topic", help="The daemon's mqtt.base_topic (default: the config's).",
        show_default=False,
    )] = None,
) -> None:
    """The live view of the daemon, read from the broker (works against another host)."""
    from rich.console import Console  # noqa: PLC0415 - not in the daemon's memory

    from sensord.status import gather_snapshot, live  # noqa: PLC0415

    if as_json and not once:
        raise InputError("--json needs --once (the live view is for a terminal)")
    config = load_config(config_path)
    settings = broker_settings(config.mqtt, url=broker)
    base = base_topic or config.mqtt.base_topic
    if once:
        model = asyncio.run(gather_snapshot(settings, base, wait_s=wait))
        if as_json:
            typer.echo(json.dumps(model.snapshot(), separators=(",", ":")))
        else:
            Console().print(model.render())
        return
    stop = asyncio.Event()

    async def main() -> None:
        import signal  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await live(settings, base, wait_s=wait, stop=stop)

    asyncio.run(main())


@app.command("demo")
def demo(
    ctx: typer.Context,
    speed: Annotated[float, typer.Option(
        "--speed", help="Times faster than real time (10: the routine in about a minute).",
        min=0.1, max=50.0,
    )] = 1.0,
    seconds: Annotated[float | None, typer.Option(
        "--seconds", help="Stop after this many seconds (default: the whole routine).",
        min=1.0, show_default=False,
    )] = None,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", help="Keep the demo's database here (default: a temporary directory).",
        show_default=False,
    )] = None,
) -> None:
    """A virtual wearable doing the routine, the daemon, a broker and the live view."""
    from rich.console import Console  # noqa: PLC0415

    from sensord.demo import DemoOptions, run_demo  # noqa: PLC0415 - bumble is heavy

    if not is_debug(ctx):
        configure_logging("error")
    console = Console()
    options = DemoOptions(speed=speed, seconds=seconds, state_dir=state_dir,
                          live=sys.stdout.isatty())
    result = asyncio.run(run_demo(options, console))
    console.print(f"{result.events} events published to {result.broker}; "
                  f"sessions: {len(result.summaries)}")
