"""Identify through the link: bleak's API, the bumble backend and the virtual wearable.

The wearable counts what its emulator saw as an identify, so these tests check that the link's
writes reached the device, in the device's format, and that a setting the device keeps (the
Thingy:52 LED) is put back.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest
from bumble.link import LocalLink

from sensord.ble.adapter import BumbleAdapter
from sensord.ble.link import IdentifyError, LinkConfig, WearableLink
from sensord.model import LinkState
from sensord.profiles import get_profile
from sensord.profiles import thingy52 as th
from sensord.profiles.base import Profile, ServiceSpec
from sensord.profiles.sensord_gatt import IDENTIFY_UUID, SensordProfile
from sensord.virtual.central import BumbleCentral
from sensord.virtual.wearable import VirtualWearable
from tests.ble.support import running, wait_until


def _link(central: BumbleCentral, name: str, profile: str = "auto") -> WearableLink:
    config = LinkConfig(name=name, profile=profile, scan_timeout_s=2.0, connect_timeout_s=3.0)
    return WearableLink(config, BumbleAdapter.from_central(central))


@contextlib.asynccontextmanager
async def _streaming(
    link: LocalLink, central: BumbleCentral, profile: Profile, name: str
) -> AsyncIterator[tuple[VirtualWearable, WearableLink]]:
    """A virtual wearable and a link streaming from it (the link stops on the way out, the
    wearable after it)."""
    async with VirtualWearable(link, profile, name=name) as wearable:
        wearable_link = _link(central, wearable.name)
        async with running(wearable_link) as run:
            await run.samples_at_least(5, timeout_s=10)
            yield wearable, wearable_link


@contextlib.asynccontextmanager
async def _streaming_thingy(
    link: LocalLink, central: BumbleCentral
) -> AsyncIterator[tuple[VirtualWearable, th.Thingy52Emulator, WearableLink]]:
    """A virtual Thingy:52 streaming, with its emulator (the LED it shows)."""
    async with _streaming(link, central, get_profile("thingy52"), "Thingy-L") as (
            wearable, wearable_link):
        assert isinstance(wearable.emulator, th.Thingy52Emulator)
        yield wearable, wearable.emulator, wearable_link


@pytest.mark.asyncio
async def test_identify_reaches_a_sensord_wearable_while_it_streams(
    central: BumbleCentral, wearable: VirtualWearable
) -> None:
    heard: list[int] = []
    wearable.on_identify = lambda w: heard.append(w.stats.identified)
    link = _link(central, wearable.name)
    async with running(link) as run:
        await run.samples_at_least(20, timeout_s=10)
        message = await link.identify(2.0)
        await run.samples_at_least(run.samples + 20, timeout_s=10)  # the stream goes on
    assert message == "blinking its LED for 2 s"
    assert wearable.stats.identified == 1
    assert heard == [1]
    assert "2000 ms" in wearable.emulator.identify_note
    assert wearable.stats.rejected_writes == 0


@pytest.mark.asyncio
async def test_identify_on_a_thingy_breathes_white_then_puts_the_led_back(
    link: LocalLink, central: BumbleCentral
) -> None:
    async with _streaming_thingy(link, central) as (wearable, emulator, wearable_link):
        custom = th.LedSetting(th.LED_CONSTANT, rgb=(255, 128, 0))  # the user's own colour
        emulator.led = custom
        message = await wearable_link.identify(0.4)
        assert emulator.led == th.IDENTIFY_LED
        await wait_until(lambda: emulator.led == custom, timeout_s=3)
    assert message == "breathing its LED white for 0.4 s"
    assert wearable.stats.identified == 1


@pytest.mark.asyncio
async def test_a_second_identify_extends_the_first_and_still_restores_the_original(
    link: LocalLink, central: BumbleCentral
) -> None:
    async with _streaming_thingy(link, central) as (_, emulator, wearable_link):
        await wearable_link.identify(0.5)
        await wearable_link.identify(0.5)  # must not save the identify pattern itself
        await wait_until(lambda: emulator.led == th.DEFAULT_LED, timeout_s=3)


@pytest.mark.asyncio
async def test_leaving_during_an_identify_puts_the_led_back_first(
    link: LocalLink, central: BumbleCentral
) -> None:
    async with _streaming_thingy(link, central) as (wearable, emulator, wearable_link):
        await wearable_link.identify(60.0)
        assert emulator.led == th.IDENTIFY_LED
        wearable_link.stop()
        await wait_until(lambda: not wearable.connected, timeout_s=5)
        assert emulator.led == th.DEFAULT_LED


@pytest.mark.asyncio
async def test_a_link_lost_during_an_identify_restores_at_the_next_connection(
    link: LocalLink, central: BumbleCentral
) -> None:
    async with _streaming_thingy(link, central) as (wearable, emulator, wearable_link):
        await wearable_link.identify(60.0)
        await wearable.drop_link()
        await wait_until(lambda: wearable_link.health().connects >= 2, timeout_s=10)
        await wait_until(lambda: emulator.led == th.DEFAULT_LED, timeout_s=5)


@pytest.mark.asyncio
async def test_identify_when_not_connected_says_so(central: BumbleCentral) -> None:
    link = _link(central, "nobody-here")
    async with running(link):
        await wait_until(lambda: link.state is not LinkState.IDLE, timeout_s=5)
        with pytest.raises(IdentifyError, match="nobody-here is not connected"):
            await link.identify()


@pytest.mark.asyncio
@pytest.mark.parametrize("profile_id", ["movesense", "witmotion"])
async def test_identify_on_a_profile_without_a_way_names_the_profile_and_why(
    link: LocalLink, central: BumbleCentral, profile_id: str
) -> None:
    profile = get_profile(profile_id)
    async with _streaming(link, central, profile, f"{profile_id[:6]}-L") as (
            wearable, wearable_link):
        with pytest.raises(IdentifyError) as raised:
            await wearable_link.identify()
    assert f"not supported by profile {profile_id}" in str(raised.value)
    assert profile.identify_unsupported in str(raised.value)
    assert wearable.stats.rejected_writes == 0


class _OldFirmware(SensordProfile):
    """A sensord-profile device whose firmware predates the identify characteristic."""

    id: ClassVar[str] = "sensord"

    def gatt(self) -> tuple[ServiceSpec, ...]:
        (service,) = super().gatt()
        chars = tuple(c for c in service.characteristics if c.uuid != IDENTIFY_UUID)
        return (ServiceSpec(service.uuid, chars),)


@pytest.mark.asyncio
async def test_firmware_without_the_identify_characteristic_is_told_apart(
    link: LocalLink, central: BumbleCentral
) -> None:
    async with _streaming(link, central, _OldFirmware(), "sensord-old") as (
            wearable, wearable_link):
        with pytest.raises(IdentifyError, match="has no characteristic 42d90005"):
            await wearable_link.identify()
    assert wearable.stats.identified == 0
