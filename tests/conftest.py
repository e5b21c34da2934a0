"""Fixtures shared by every test area."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


def _find_shared_data() -> Path:
    """../shared/data beside the checkout (searched upwards, so worktrees find it too)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[2] / "shared" / "data"


SHARED_DATA = _find_shared_data()
BROKER_HOST = "127.0.0.1"
BROKER_PORT = 1883


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings beside the project (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def broker_url() -> str:
    """The local Mosquitto the test command starts (scripts/test). Fails loudly if absent."""
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(
            f"no MQTT broker on {BROKER_HOST}:{BROKER_PORT} ({exc}); "
            "run the tests with scripts/test"
        )
    return f"mqtt://{BROKER_HOST}:{BROKER_PORT}"
