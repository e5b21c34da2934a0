"""Commands of this area register on the shared app here."""

from __future__ import annotations

from sensord.cli.app import app

__all__ = ["app"]
