"""Identify per profile: the writes that make a wearable show itself, as the device parses them.

Golden bytes come from the layouts (docs/profiles.md for the sensord profile; ``ble_uis.h`` for
the Thingy:52 LED); hypothesis feeds any bytes to the device-side parsers, which must accept
them or refuse with DecodeError, as firmware answers an ATT error.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensord.errors import DecodeError
from sensord.profiles import PROFILES, Profile
from sensord.profiles import sensord_gatt as sg
from sensord.profiles import thingy52 as th
from sensord.profiles.base import GattWrite


def _gatt_properties(profile: Profile) -> dict[str, tuple[str, ...]]:
    return {c.uuid: c.properties for s in profile.gatt() for c in s.characteristics}


@pytest.mark.parametrize("profile_id", sorted(PROFILES))
def test_identify_writes_go_to_writable_characteristics_the_emulator_accepts(
    profile_id: str,
) -> None:
    profile = PROFILES[profile_id]
    plan = profile.identify(5.0)
    if plan is None:
        assert profile.identify_unsupported
        return
    props = _gatt_properties(profile)
    emulator = profile.emulator()
    for write in plan.writes:
        assert ("write" if write.response else "write-without-response") in props[write.char_uuid]
        emulator.on_write(write.char_uuid, write.data)
    assert emulator.identifies == 1
    if plan.saved_uuid is not None:
        assert "read" in props[plan.saved_uuid]


@pytest.mark.parametrize("profile_id", ["movesense", "witmotion"])
def test_devices_without_a_way_to_show_themselves_say_why(profile_id: str) -> None:
    profile = PROFILES[profile_id]
    assert profile.identify(5.0) is None
    assert profile.identify_end(None) == []
    assert profile.identify_unsupported != Profile.identify_unsupported  # a reason of its own


# --- sensord -----------------------------------------------------------------------------------


def test_sensord_identify_is_the_duration_in_ms_little_endian() -> None:
    plan = sg.SensordProfile().identify(5.0)
    assert plan.writes == (GattWrite(sg.IDENTIFY_UUID, bytes.fromhex("8813")),)  # 5000 ms
    assert plan.duration_s == 5.0
    assert plan.saved_uuid is None  # the firmware stops by itself


@pytest.mark.parametrize(("asked_s", "sent_ms"), [(0.0, 1), (0.2504, 250), (3600.0, 60_000)])
def test_sensord_identify_duration_is_clamped_to_what_firmware_accepts(
    asked_s: float, sent_ms: int
) -> None:
    plan = sg.SensordProfile().identify(asked_s)
    assert plan.writes[0].data == sent_ms.to_bytes(2, "little")
    assert plan.duration_s == sent_ms / 1000


def test_sensord_emulator_counts_identifies_and_zero_ends_without_counting() -> None:
    emulator = sg.SensordProfile().emulator()
    emulator.on_write(sg.IDENTIFY_UUID, bytes.fromhex("e803"))
    emulator.on_write(sg.IDENTIFY_UUID, bytes.fromhex("0000"))
    assert emulator.identifies == 1
    assert "1000 ms" in emulator.identify_note
    assert not emulator.streaming  # identify does not touch the stream


@given(st.binary(max_size=6))
def test_sensord_identify_parser_accepts_two_bytes_up_to_a_minute_else_refuses(
    data: bytes,
) -> None:
    try:
        duration_ms = sg.identify_ms(data)
    except DecodeError:
        assert len(data) != 2 or int.from_bytes(data, "little") > sg.MAX_IDENTIFY_MS
    else:
        assert len(data) == 2
        assert duration_ms == int.from_bytes(data, "little") <= sg.MAX_IDENTIFY_MS


# --- Thingy:52 ---------------------------------------------------------------------------------


def test_thingy_identify_is_a_white_full_breathe_and_saves_the_led_first() -> None:
    plan = th.Thingy52Profile().identify(5.0)
    # mode 2 (breathe), colour mix 7 (R+G+B), 100 %, 100 ms (0x0064) between breaths.
    assert plan.writes == (GattWrite(th.LED_UUID, bytes.fromhex("0207646400")),)
    assert plan.saved_uuid == th.LED_UUID


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("020614ac0d", "020614ac0d"),  # Nordic's default: cyan breathe, 20 %, 3.5 s
        ("01ff8000aa", "01ff8000"),  # constant orange; the fifth byte is stale
        ("0000000000", "00"),  # off
        ("030432ac0d", "030432"),  # one shot; the delay bytes are stale
    ],
)
def test_thingy_identify_end_writes_the_saved_setting_at_its_mode_length(
    stored: str, written: str
) -> None:
    writes = th.Thingy52Profile().identify_end(bytes.fromhex(stored))
    assert writes == [GattWrite(th.LED_UUID, bytes.fromhex(written))]


@pytest.mark.parametrize("stored", [None, b"", bytes.fromhex("09"), bytes.fromhex("0200000000")])
def test_thingy_identify_end_falls_back_to_nordics_default_when_unreadable(
    stored: bytes | None,
) -> None:
    assert th.Thingy52Profile().identify_end(stored) == [
        GattWrite(th.LED_UUID, th.DEFAULT_LED.pack())
    ]


@given(st.binary(max_size=7))
def test_thingy_led_parser_accepts_or_refuses_like_the_firmware(data: bytes) -> None:
    try:
        led = th.LedSetting.unpack(data)
    except DecodeError:
        return
    assert len(data) == th.LED_LENGTHS[data[0]]
    assert led.pack() == data  # what was accepted is stored exactly
    assert th.LedSetting.from_stored(led.stored()) == led


@given(st.binary(min_size=5, max_size=5))
def test_thingy_identify_end_always_writes_what_the_firmware_accepts(stored: bytes) -> None:
    (write,) = th.Thingy52Profile().identify_end(stored)
    th.LedSetting.unpack(write.data)  # never raises


def test_thingy_emulator_counts_the_identify_not_the_restore() -> None:
    profile = th.Thingy52Profile()
    emulator = profile.emulator()
    plan = profile.identify(5.0)
    saved = emulator.read(th.LED_UUID)
    for write in plan.writes:
        emulator.on_write(write.char_uuid, write.data)
    assert emulator.read(th.LED_UUID) == th.IDENTIFY_LED.stored()
    for write in profile.identify_end(saved):
        emulator.on_write(write.char_uuid, write.data)
    assert emulator.identifies == 1
    assert emulator.read(th.LED_UUID) == saved


def test_thingy_emulator_refuses_an_out_of_range_led_write() -> None:
    emulator = th.Thingy52Profile().emulator()
    with pytest.raises(DecodeError, match="intensity"):
        emulator.on_write(th.LED_UUID, bytes.fromhex("0207656400"))  # 101 %
    with pytest.raises(DecodeError, match="bytes"):
        emulator.on_write(th.LED_UUID, bytes.fromhex("02076464"))
    assert emulator.identifies == 0
