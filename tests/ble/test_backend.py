"""Contract tests of the bumble backend for bleak: it must behave as bleak on BlueZ does.

Everything goes through bleak's public API (BleakScanner, BleakClient) with ``backend=``; the
peripheral is the virtual wearable on a bumble LocalLink.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bumble.link import LocalLink

from sensord.profiles import get_profile
from sensord.profiles.sensord_gatt import CONFIG_UUID, DATA_UUID, SERVICE_UUID
from sensord.virtual.backend import BumbleClient, BumbleDeviceDetails, BumbleScanner
from sensord.virtual.central import BumbleCentral
from sensord.virtual.gatt_table import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    DEVICE_INFO_UUIDS,
    DEVICE_INFORMATION_UUID,
)
from sensord.virtual.wearable import VirtualWearable

WAIT_S = 5.0


async def _find(central: BumbleCentral, name: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_name(
        name, timeout=2.0, backend=BumbleScanner, bumble=central
    )
    assert device is not None, f"{name} not found"
    return device


@pytest.mark.asyncio
async def test_scan_reports_full_name_service_rssi_and_typed_address(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    # "sensord-L" is short enough to advertise whole; a longer name must come from the
    # scan response, merged into the same advertisement data.
    async with BleakScanner(backend=BumbleScanner, bumble=central) as scanner:
        await asyncio.sleep(0.3)
        found = scanner.discovered_devices_and_advertisement_data
    device, data = found[wearable.address]
    assert data.local_name == "sensord-L"
    assert SERVICE_UUID in data.service_uuids
    assert data.rssi == wearable.rssi_dbm
    assert isinstance(device.details, BumbleDeviceDetails)
    assert device.details.address.to_string(False) == wearable.address


@pytest.mark.asyncio
async def test_long_name_arrives_through_the_scan_response(
    link: LocalLink, central: BumbleCentral
) -> None:
    name = "sensord-left-ankle-07"  # too long to share 31 bytes with flags and a 128-bit UUID
    async with VirtualWearable(link, get_profile("sensord"), name=name):
        device = await _find(central, name)
    assert device.name == name


@pytest.mark.asyncio
async def test_service_uuid_filter_only_reports_matching_devices(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    other_uuid = "0000feed-0000-1000-8000-00805f9b34fb"
    matching = await BleakScanner.discover(
        timeout=0.3, service_uuids=[SERVICE_UUID], backend=BumbleScanner, bumble=central
    )
    assert [d.address for d in matching] == [wearable.address]
    none = await BleakScanner.discover(
        timeout=0.3, service_uuids=[other_uuid], backend=BumbleScanner, bumble=central
    )
    assert none == []


@pytest.mark.asyncio
async def test_connect_fills_services_with_profile_battery_and_device_information(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    device = await _find(central, "sensord-L")
    async with BleakClient(device, timeout=WAIT_S, backend=BumbleClient, bumble=central) as c:
        uuids = {s.uuid for s in c.services}
        assert {SERVICE_UUID, BATTERY_SERVICE_UUID, DEVICE_INFORMATION_UUID} <= uuids
        data_char = c.services.get_characteristic(DATA_UUID)
        assert data_char is not None
        assert "notify" in data_char.properties
        assert c.mtu_size == wearable.mtu
        assert (await c.read_gatt_char(BATTERY_LEVEL_UUID)) == bytearray([wearable.battery_pct])
        manufacturer = await c.read_gatt_char(DEVICE_INFO_UUIDS["manufacturer"])
        assert manufacturer.decode() == wearable.device_info.manufacturer


@pytest.mark.asyncio
async def test_disconnected_callback_fires_on_own_disconnect_as_on_bluez(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    device = await _find(central, "sensord-L")
    fired: list[float] = []
    once = asyncio.Event()

    def on_disconnect(_client: BleakClient) -> None:
        fired.append(time.monotonic())
        once.set()

    client = BleakClient(
        device, disconnected_callback=on_disconnect, timeout=WAIT_S,
        backend=BumbleClient, bumble=central,
    )
    await client.connect()
    await client.disconnect()
    await asyncio.wait_for(once.wait(), WAIT_S)
    await asyncio.sleep(0.05)
    assert len(fired) == 1
    assert not client.is_connected


@pytest.mark.asyncio
async def test_disconnected_callback_fires_when_the_peripheral_drops_the_link(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    device = await _find(central, "sensord-L")
    lost = asyncio.Event()
    client = BleakClient(
        device, disconnected_callback=lambda _c: lost.set(), timeout=WAIT_S,
        backend=BumbleClient, bumble=central,
    )
    await client.connect()
    started = time.monotonic()
    assert await wearable.drop_link()
    await asyncio.wait_for(lost.wait(), WAIT_S)
    assert time.monotonic() - started < 0.5
    assert not client.is_connected
    with pytest.raises(BleakError):
        await client.read_gatt_char(BATTERY_LEVEL_UUID)


@pytest.mark.asyncio
async def test_connect_to_an_absent_wearable_fails_within_its_timeout_and_frees_the_adapter(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    device = await _find(central, "sensord-L")
    await wearable.vanish()
    for _ in range(2):  # a second attempt proves the controller let go of the first
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(WAIT_S):
                await BleakClient(
                    device, timeout=0.5, backend=BumbleClient, bumble=central
                ).connect()
        assert 0.45 < time.monotonic() - started < 1.0
    await wearable.come_back()
    async with BleakClient(device, timeout=WAIT_S, backend=BumbleClient, bumble=central) as c:
        assert c.is_connected


@pytest.mark.asyncio
async def test_a_cancelled_connect_releases_the_controller(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    device = await _find(central, "sensord-L")
    await wearable.vanish()
    attempt = asyncio.create_task(
        BleakClient(device, timeout=30, backend=BumbleClient, bumble=central).connect()
    )
    await asyncio.sleep(0.1)
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(attempt, WAIT_S)
    await wearable.come_back()
    async with BleakClient(device, timeout=WAIT_S, backend=BumbleClient, bumble=central) as c:
        assert c.is_connected


@pytest.mark.asyncio
async def test_connect_by_unknown_address_string_reports_not_found(
    central: BumbleCentral,
) -> None:
    with pytest.raises((BleakError, TimeoutError)):
        async with asyncio.timeout(WAIT_S):
            await BleakClient(
                "C0:11:22:33:44:55", timeout=0.3, backend=BumbleClient, bumble=central
            ).connect()


@pytest.mark.asyncio
async def test_notifications_arrive_as_bytearrays_and_bad_writes_are_refused(
    wearable: VirtualWearable, central: BumbleCentral
) -> None:
    device = await _find(central, "sensord-L")
    received: list[bytearray] = []
    got = asyncio.Event()

    def on_data(_char: object, data: bytearray) -> None:
        received.append(data)
        got.set()

    async with BleakClient(device, timeout=WAIT_S, backend=BumbleClient, bumble=central) as c:
        with pytest.raises(BleakError, match="VALUE_NOT_ALLOWED"):
            await c.write_gatt_char(CONFIG_UUID, b"\x07", response=True)
        await c.start_notify(DATA_UUID, on_data)
        for write in wearable.profile.start(100.0):
            await c.write_gatt_char(write.char_uuid, write.data, response=write.response)
        await asyncio.wait_for(got.wait(), WAIT_S)
        await c.stop_notify(DATA_UUID)
        count = len(received)
        await asyncio.sleep(0.2)
        assert len(received) == count, "notifications continued after stop_notify"
    assert all(isinstance(r, bytearray) for r in received)


@pytest.mark.asyncio
async def test_a_bumble_future_cancelled_by_a_link_drop_becomes_bleak_error(
    central: BumbleCentral,
) -> None:
    client = BumbleClient(
        "C0:11:22:33:44:55", disconnected_callback=None, timeout=1.0, bumble=central
    )
    future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(future.cancel)
    with pytest.raises(BleakError, match="link went down"):
        await client._gatt("read", future)
