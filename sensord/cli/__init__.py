"""Command line entry point. Importing the command modules registers their commands."""

from __future__ import annotations

from sensord.cli import analyze, ble, daemon, replay, service, simulate
from sensord.cli.app import app

__all__ = ["analyze", "app", "ble", "daemon", "main", "replay", "service", "simulate"]


def main() -> None:
    """Console-script entry point (``sensord``)."""
    app()
