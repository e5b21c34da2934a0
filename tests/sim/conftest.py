"""Simulated sessions shared by the simulator's tests (each synthesised once per test run)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest

from sensord.sim import SimSpec, Simulation, simulate


@cache
def _cached(spec: SimSpec) -> Simulation:
    return simulate(spec)


@pytest.fixture(scope="session")
def sim_of() -> Callable[[SimSpec], Simulation]:
    """``sim_of(SimSpec(...))``: the session, synthesised at most once per test run."""
    return _cached
