"""Fixtures for the BLE tests: a virtual radio, a wearable on it and a central adapter.

Everything is built per test inside the test's own event loop (bumble objects bind to the loop
that creates them).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from bumble.link import LocalLink

from sensord.profiles import get_profile
from sensord.virtual.central import BumbleCentral
from sensord.virtual.wearable import VirtualWearable


@pytest.fixture(autouse=True)
def _quiet_bumble() -> None:
    # bumble formats a debug string per packet and warns about benign races: keep it quiet.
    logging.getLogger("bumble").setLevel(logging.ERROR)


@pytest.fixture
def link() -> LocalLink:
    return LocalLink()


@pytest_asyncio.fixture
async def wearable(link: LocalLink) -> AsyncIterator[VirtualWearable]:
    async with VirtualWearable(link, get_profile("sensord"), name="sensord-L", seed=1) as w:
        yield w


@pytest_asyncio.fixture
async def central(link: LocalLink) -> AsyncIterator[BumbleCentral]:
    adapter = await BumbleCentral.on_link(link)
    try:
        yield adapter
    finally:
        await adapter.close()
