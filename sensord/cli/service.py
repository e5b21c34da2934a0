"""Operations commands: ``check-config``, ``history``, ``install-service``, ``diagnose``.

Each command is thin glue: the work lives in sensord.config, sensord.history, sensord.install
and sensord.diagnose, which know nothing about the terminal. Those and rich are imported by the
commands that use them, so the daemon (``sensord run``) does not carry them.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from sensord.cli.app import app
from sensord.config import (
    Config,
    database_path,
    default_config_paths,
    load_config,
    unknown_env_variables,
)
from sensord.errors import ConfigError, SensordError

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from sensord.history import DayTotal
    from sensord.session import SessionSummary

__all__ = ["app", "config_summary", "daily_chart", "sessions_table"]


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



# --- sensord history ---------------------------------------------------------------------------

_SHORT_NAMES: Final = {
    "plantar_flexion": "flexion", "ankle_circle": "circles", "toe_press": "presses",
    "toe_walk": "toe walk",
}
_COLOURS: Final = {
    "plantar_flexion": "cyan", "ankle_circle": "magenta", "toe_press": "yellow",
    "toe_walk": "green",
}
_BAR_WIDTH: Final = 40


def _exercise_cell(summary: SessionSummary) -> str:
    parts = []
    for exercise in summary.exercises:
        if exercise.reps == 0:
            continue
        name = _SHORT_NAMES.get(exercise.exercise, exercise.exercise)
        if exercise.directions:
            counts = " ".join(f"{d} {n}" for d, n in exercise.directions.items())
            text = f"{name} {counts}"
        else:
            text = f"{name} {exercise.full}"
        if exercise.target_reps is not None:
            text += f"/{exercise.units}" if exercise.directions else f"/{exercise.target_reps}"
        if exercise.short:
            text += f" ({exercise.short} short)"
        parts.append(text)
    return ", ".join(parts) or "-"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def sessions_table(sessions: list[SessionSummary]) -> Table:
    """Past sessions, newest first, as a rich table."""
    from rich.table import Table  # noqa: PLC0415 - see the module docstring

    table = Table(title="Workout sessions", title_justify="left")
    table.add_column("started")
    table.add_column("wearable")
    table.add_column("time", justify="right")
    table.add_column("reps", justify="right")
    table.add_column("routine", justify="right")
    table.add_column("exercises")
    for summary in sessions:
        started = datetime.fromtimestamp(summary.started_wall_s, UTC).astimezone()
        wearable = summary.device or "-"
        if summary.side:
            wearable += f" ({summary.side})"
        done = "done" if not summary.missing else f"{summary.progress:.0%}"
        table.add_row(
            started.strftime("%Y-%m-%d %H:%M"), wearable, _duration(summary.duration_s),
            str(summary.reps), done, _exercise_cell(summary),
        )
    return table


def daily_chart(days: list[DayTotal]) -> Text:
    """A bar per day, coloured by exercise, scaled to the busiest day."""
    from rich.text import Text  # noqa: PLC0415

    most = max((d.reps for d in days), default=0)
    text = Text()
    text.append("Reps per day\n", style="bold")
    for day in days:
        text.append(day.day.strftime("%a %d %b "))
        used = 0
        for exercise, count in day.reps_by_exercise:
            cells = round(count * _BAR_WIDTH / most) if most else 0
            cells = max(cells, 1) if count else 0
            text.append("█" * cells, style=_COLOURS.get(exercise, "white"))
            used += cells
        text.append(" " * max(0, _BAR_WIDTH + 1 - used))
        text.append(f"{day.reps:>4}\n" if day.reps else "   -\n")
    legend = Text("  ".join(f"█ {_SHORT_NAMES[e]}" for e in _COLOURS))
    for exercise, colour in _COLOURS.items():
        legend.highlight_words([f"█ {_SHORT_NAMES[exercise]}"], style=colour)
    text.append_text(legend)
    return text


@app.command("history")
def history(
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per session (the published summary), newest first.",
    )] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many sessions to list.")] = 20,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days in the bar chart.")] = 14,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="The config file (for store.path).",
    )] = None,
    db: Annotated[Path | None, typer.Option(
        "--db", help="The database file. Default: store.path, else the state directory.",
    )] = None,
) -> None:
    """Past workout sessions as a table and a per-day bar chart of reps."""
    from rich.console import Console  # noqa: PLC0415

    from sensord.history import History  # noqa: PLC0415

    path = db if db is not None else database_path(load_config(config_path).store)
    if not path.exists():
        sessions: list[SessionSummary] = []
        totals: list[DayTotal] = []
    else:
        with History(path, readonly=True) as store:
            sessions = store.sessions(limit=limit)
            totals = store.daily_reps(today=datetime.now(UTC).astimezone().date(), days=days)
    if as_json:
        for summary in sessions:
            typer.echo(json.dumps(summary.to_dict(), separators=(",", ":")))
        return
    console = Console()
    if not sessions:
        console.print(f"No workout sessions recorded yet (history: {path}).")
        return
    console.print(sessions_table(sessions))
    console.print(daily_chart(totals))


# --- sensord install-service ---------------------------------------------------------------------


@app.command("install-service")
def install_service(
    user: Annotated[bool, typer.Option(
        "--user", help="Install for this user's session instead of system-wide.",
    )] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print what would be done (and the unit) without doing it.",
    )] = False,
    root: Annotated[Path | None, typer.Option(
        "--root", help="Install the system service into another root directory (an image).",
    )] = None,
    enable: Annotated[bool, typer.Option(
        "--enable/--no-enable", help="Enable the unit after writing it.",
    )] = True,
) -> None:
    """Write the systemd unit, a starter config and the service user, and enable the unit."""
    from sensord.install import WriteFile, apply, describe, plan_install  # noqa: PLC0415

    actions = plan_install(user=user, root=root, enable=enable)
    if dry_run:
        for line in describe(actions):
            typer.echo(line)
        return
    if not user and root is None and os.geteuid() != 0:
        raise SensordError(
            "installing the system service needs root: run it with sudo, or use --user "
            "(--dry-run shows the plan)"
        )
    for line in apply(actions):
        typer.echo(line)
    config = next(a.path for a in actions if isinstance(a, WriteFile) and a.path.suffix == ".toml")
    manager = "systemctl --user" if user else "systemctl"
    typer.echo(f"next: add your wearables to {config}, check it with `sensord check-config "
               f"{config}`, then `{manager} start sensord`")


# --- sensord diagnose ----------------------------------------------------------------------------


@app.command("diagnose")
def diagnose(
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="The config file. Default: the file sensord run would read.",
    )] = None,
    broker: Annotated[str | None, typer.Option(
        "--broker", help="Probe this broker (mqtt://host[:port]) instead of mqtt.url.",
    )] = None,
) -> None:
    """Versions, adapters, broker reachability and the config, with MAC addresses anonymised."""
    from sensord.diagnose import anonymise, collect  # noqa: PLC0415

    lines: list[str] = []
    try:
        config = load_config(config_path)
        config_lines = config_summary(config)
    except ConfigError as exc:
        config = Config()
        config_lines = [f"config PROBLEM: {exc}", "(probing with the defaults)"]
    findings = asyncio.run(collect(config, broker))
    lines += [finding.line() for finding in findings]
    lines += ["", *config_lines]
    problems = sum(1 for f in findings if f.ok is False) + (1 if "PROBLEM" in config_lines[0]
                                                            else 0)
    lines.append("")
    lines.append(f"{problems} problem{'s' if problems != 1 else ''} found")
    for line in lines:
        typer.echo(anonymise(line))
