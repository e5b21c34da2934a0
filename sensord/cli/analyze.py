"""`sensord analyze`: a recording through the same streaming pipeline the daemon runs."""

from __future__ import annotations

from sensord.cli.app import app

__all__ = ["app"]
