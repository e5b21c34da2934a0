"""The typer application: the only place that configures logging and chooses exit codes.

Commands live in sibling modules, one per area, and register themselves on ``app``. Every
``SensordError`` a command raises becomes one line on stderr and its exit code (2 for bad input
or config, 1 for runtime failures); ``--debug`` (anywhere on the command line) shows the
traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any, Final

import typer
from typer.core import TyperGroup

from sensord import __version__
from sensord.errors import SensordError
from sensord.logfilter import RepeatFilter

_DEBUG_FLAG: Final = "--debug"
_LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JOURNAL_FORMAT: Final = "<%(syslog_level)s>%(name)s: %(message)s"
_SYSLOG_LEVELS: Final = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class _SensordGroup(TyperGroup):
    """Maps our errors to exit codes and lets ``--debug`` appear after the subcommand too."""

    # The context type is typer's vendored click Context, which typer does not export.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if _DEBUG_FLAG in args:
            args = [a for a in args if a != _DEBUG_FLAG]
            ctx.meta["sensord.debug"] = True
            _configure_logging(ctx, force_debug=True)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SensordError as exc:
            if ctx.meta.get("sensord.debug"):
                traceback.print_exc()
            typer.echo(f"sensord: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("sensord: interrupted", err=True)
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_SensordGroup,
    name="sensord",
    help="Counts and times foot exercises from a foot-worn IMU and publishes them over MQTT.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _JournalFormatter(logging.Formatter):
    """journald adds its own timestamps; it reads the ``<N>`` prefix as the priority."""

    def format(self, record: logging.LogRecord) -> str:
        record.syslog_level = _SYSLOG_LEVELS.get(record.levelname, 6)
        return super().format(record)


def configure_logging(
    level: str = "info", levels: dict[str, str] | None = None, *,
    repeat_window_s: float = 60.0, repeat_burst: int = 3,
) -> None:
    """Sets up stderr logging: a default level plus per-subsystem levels (``{"ble": "debug"}``).

    Under systemd (``JOURNAL_STREAM`` set) lines carry a syslog priority and no timestamp.
    Repeated warnings and errors are rate-limited (sensord.logfilter.RepeatFilter).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter(_JOURNAL_FORMAT))
    else:
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.addFilter(RepeatFilter(repeat_window_s, repeat_burst))
    root.addHandler(handler)
    root.setLevel(_level(level))
    for name, sub_level in (levels or {}).items():
        logger_name = name if name.startswith("sensord") or "." in name else f"sensord.{name}"
        logging.getLogger(logger_name).setLevel(_level(sub_level))
    # bumble formats a debug string for every packet: keep it quiet unless asked.
    if not (levels and "bumble" in levels):
        logging.getLogger("bumble").setLevel(logging.ERROR)


def _level(name: str) -> int:
    value = logging.getLevelName(name.upper())
    if not isinstance(value, int):
        raise SensordError(f"unknown log level {name!r} (use debug, info, warning or error)")
    return value


def _configure_logging(ctx: Any, *, force_debug: bool = False) -> None:
    configure_logging("debug" if force_debug else str(ctx.meta.get("sensord.log_level", "warning")))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sensord {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks and debug logs (also accepted after a command)."
    ),
    log_level: str = typer.Option(
        "warning", "--log-level", help="Log level on stderr: debug, info, warning, error."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Counts and times foot exercises from a foot-worn IMU and publishes them over MQTT."""
    del version
    if debug:
        ctx.meta["sensord.debug"] = True
    if not ctx.meta.get("sensord.debug"):
        ctx.meta["sensord.log_level"] = log_level
        configure_logging(log_level)


def is_debug(ctx: typer.Context) -> bool:
    """True when ``--debug`` was given (for commands that print extra detail)."""
    return bool(ctx.meta.get("sensord.debug"))
