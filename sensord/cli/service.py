"""Operations commands: ``check-config``, ``history``, ``install-service``, ``diagnose``.

Each command is thin glue: the work lives in sensord.config, sensord.history, sensord.install
and sensord.diagnose, which know nothing about the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sensord.cli.app import app
from sensord.config import (
    Config,
    database_path,
    default_config_paths,
    load_config,
    unknown_env_variables,
)

__all__ = ["app", "config_summary"]


def config_summary(config: Config) -> list[str]:
    """Human lines describing a valid config (no secrets: a password is only said to be set)."""
    lines: list[str] = []
    if config.source:
        lines.append(f"config: {config.source}")
    else:
        looked = ", ".join(str(p) for p in default_config_paths())
        lines.append(f"config: none found (looked in {looked}); using the defaults")
    if config.env_keys:
        lines.append(f"set by SENSORD_* variables: {', '.join(config.env_keys)}")
    mqtt = config.mqtt
    login = f" as {mqtt.username}" if mqtt.username else ""
    lines.append(
        f"broker: {mqtt.url}{login}, topics under {mqtt.base_topic}/, "
        f"discovery {mqtt.discovery} ({mqtt.discovery_prefix})"
    )
    if not config.wearables:
        lines.append("wearables: none configured (add [[wearable]] tables)")
    for wearable in config.wearables:
        where = wearable.address or "by name"
        side = wearable.side or "side unknown"
        adapter = wearable.adapter or config.ble.adapter
        lines.append(
            f"wearable {wearable.name}: {where}, {wearable.placement}, {side}, "
            f"profile {wearable.profile}, {wearable.rate_hz:g} Hz, adapter {adapter}"
        )
    lines.append(f"database: {database_path(config.store)}")
    targets = []
    for exercise, target in config.routine.targets:
        extra = f" x {'/'.join(target.directions)}" if target.directions else ""
        hold = f" hold {target.hold_s:g} s" if target.hold_s else ""
        targets.append(f"{exercise} {target.reps}{extra}{hold}")
    lines.append(f"routine {config.routine.name}: {', '.join(targets)}")
    lines.append(
        f"session: ends after {config.session.idle_end_s:g} s idle, "
        f"auto start {'on' if config.session.auto_start else 'off'}"
    )
    return lines


@app.command("check-config")
def check_config(
    config_path: Annotated[Path | None, typer.Argument(
        metavar="C", help="The file to check. Default: the file sensord run would read.",
    )] = None,
) -> None:
    """Validate a config file without running anything; print a summary when it is valid."""
    config = load_config(config_path)
    for line in config_summary(config):
        typer.echo(line)
    for variable in unknown_env_variables():
        typer.echo(f"warning: {variable} is set but names no config key", err=True)
    typer.echo("config is valid")

