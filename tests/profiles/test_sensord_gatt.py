"""The sensord profile: golden bytes from docs/profiles.md, config handling, counter unwrapping."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensord.errors import DecodeError, InputError
from sensord.profiles import sensord_gatt as sg
from sensord.profiles.sensord_gatt import SensordProfile

G = 9.80665
DEG = math.pi / 180

# Hand-built from the layout table in docs/profiles.md, field by field.
GOLDEN_16G_2000DPS = bytes.fromhex(
    "01"  # packet type: data
    "02"  # two samples
    "43"  # ranges: acc code 3 (16 g) in the low nibble, gyro code 4 (2000 deg/s) in the high
    "00"  # flags
    "05000000"  # counter of the first sample: 5
    "0008" "0000" "00f8" "1000" "0000" "f0ff"  # ax=+2048 az=-2048 gx=+16 gz=-16
    "0000" "0000" "0008" "0000" "ff7f" "0080"  # az=+2048 gy=+32767 gz=-32768
)


def test_golden_packet_16g_2000dps() -> None:
    packet = sg.SensordDecoder().decode(sg.DATA_UUID, GOLDEN_16G_2000DPS)
    assert packet is not None
    assert packet.counter == 5
    assert packet.device_time_s is None
    # 2048 counts at 16 g full scale (32768 counts) is 1 g.
    np.testing.assert_allclose(packet.acc_m_s2, [[G, 0, -G], [0, 0, G]], rtol=1e-12)
    dps = 2000 / 32768
    np.testing.assert_allclose(
        packet.gyro_rad_s,
        [[16 * dps * DEG, 0, -16 * dps * DEG], [0, 32767 * dps * DEG, -2000 * DEG]],
        rtol=1e-12,
    )
    assert packet.acc_m_s2.dtype == np.float64
    assert packet.acc_m_s2.shape == (2, 3)


def test_golden_packet_2g_125dps_upper_case_uuid() -> None:
    payload = bytes.fromhex("01 01 00 00 ff ff ff ff 00 40 00 c0 00 00 00 40 00 00 00 00")
    packet = sg.SensordDecoder().decode(sg.DATA_UUID.upper(), payload)
    assert packet is not None
    assert packet.counter == 0xFFFFFFFF
    np.testing.assert_allclose(packet.acc_m_s2, [[G, -G, 0]])  # 16384 counts = 1 g at 2 g
    np.testing.assert_allclose(packet.gyro_rad_s, [[62.5 * DEG, 0, 0]])  # 16384 = 62.5 deg/s


def test_golden_config_writes() -> None:
    profile = SensordProfile()
    (start,) = profile.start(100)
    assert start.char_uuid == "42d90003-b725-4996-aa77-3d9249fd24ab"
    assert start.response
    # run=1, acc code 3 (16 g), gyro code 4 (2000 deg/s), reserved, rate 100 (uint16 LE)
    assert start.data == bytes.fromhex("01 03 04 00 64 00")
    (stop,) = profile.stop()
    assert stop.data[0] == 0
    assert SensordProfile(4, 500).start(190)[0].data == bytes.fromhex("01 01 02 00 c8 00")


def test_counter_wraps_forward_and_survives_restart() -> None:
    decoder = sg.SensordDecoder()
    one = bytes(12)

    def packet(counter: int, n: int = 1) -> bytes:
        return bytes([1, n, 0x43, 0]) + struct.pack("<I", counter) + one * n

    counters = []
    for raw in (0xFFFFFFFE, 0xFFFFFFFF, 0, 3):  # wraps, then a 2-sample gap
        decoded = decoder.decode(sg.DATA_UUID, packet(raw))
        assert decoded is not None
        counters.append(decoded.counter)
    assert counters == [0xFFFFFFFE, 0xFFFFFFFF, 0x100000000, 0x100000003]
    # The device restarts its numbering: the counter goes on from where the stream was.
    restarted = decoder.decode(sg.DATA_UUID, packet(0, 2))
    assert restarted is not None
    assert restarted.counter == 0x100000004
    assert decoder.counter_restarts == 1
    after = decoder.decode(sg.DATA_UUID, packet(2))
    assert after is not None
    assert after.counter == 0x100000006


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "shorter than its header"),
        (bytes.fromhex("01 01 43 00 00 00 00"), "shorter than its header"),
        (bytes.fromhex("02 01 43 00 00 00 00 00") + bytes(12), "unknown packet type"),
        (bytes.fromhex("01 00 43 00 00 00 00 00"), "cannot hold"),
        (bytes.fromhex("01 02 43 00 00 00 00 00") + bytes(12), "cannot hold"),
        (bytes.fromhex("01 01 43 00 00 00 00 00") + bytes(13), "cannot hold"),
        (bytes.fromhex("01 01 44 00 00 00 00 00") + bytes(12), "range codes"),
        (bytes.fromhex("01 01 53 00 00 00 00 00") + bytes(12), "range codes"),
    ],
)
def test_malformed_packets_are_decode_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        sg.SensordDecoder().decode(sg.DATA_UUID, payload)


def test_other_characteristics() -> None:
    decoder = sg.SensordDecoder()
    assert decoder.decode(sg.STATUS_UUID, b"\x01") is None
    with pytest.raises(DecodeError):
        decoder.decode("0000ffe4-0000-1000-8000-00805f9b34fb", GOLDEN_16G_2000DPS)


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("01 03 04 00 64"),  # short
        bytes.fromhex("02 03 04 00 64 00"),  # run byte
        bytes.fromhex("01 04 04 00 64 00"),  # acc code
        bytes.fromhex("01 03 05 00 64 00"),  # gyro code
        bytes.fromhex("01 03 04 00 00 00"),  # rate 0
        bytes.fromhex("01 03 04 00 e9 03"),  # rate 1001
    ],
)
def test_emulator_rejects_bad_config(data: bytes) -> None:
    emulator = sg.SensordEmulator()
    with pytest.raises(DecodeError):
        emulator.on_write(sg.CONFIG_UUID, data)
    assert not emulator.streaming


def test_emulator_config_read_back_and_status() -> None:
    emulator = SensordProfile().emulator()
    emulator.on_write(sg.CONFIG_UUID, bytes.fromhex("01 00 01 00 a0 00"))  # 160 Hz asked
    assert emulator.streaming
    assert emulator.rate_hz == 200  # nearest supported
    assert emulator.read(sg.CONFIG_UUID) == bytes.fromhex("01 00 01 00 c8 00")
    status = emulator.read(sg.STATUS_UUID)
    assert status is not None
    assert struct.unpack("<BBHfI", status) == (1, 1, 0, 200.0, 0)
    assert emulator.read(sg.DATA_UUID) is None
    emulator.on_disconnect()
    assert not emulator.streaming
    with pytest.raises(DecodeError):
        emulator.on_write(sg.DATA_UUID, b"\x00")


def test_emulator_numbers_samples_and_restarts_at_zero() -> None:
    emulator = sg.SensordEmulator()
    emulator.on_write(sg.CONFIG_UUID, SensordProfile().start(100)[0].data)
    first = emulator.encode(np.zeros((3, 3)), np.zeros((3, 3)))
    second = emulator.encode(np.zeros((2, 3)), np.zeros((2, 3)))
    assert [n.data[4:8] for n in (*first, *second)] == [bytes(4), bytes([3, 0, 0, 0])]
    emulator.on_write(sg.CONFIG_UUID, SensordProfile().start(100)[0].data)
    assert emulator.encode(np.zeros((1, 3)), np.zeros((1, 3)))[0].data[4:8] == bytes(4)


def test_emulator_packs_what_the_mtu_allows() -> None:
    emulator = sg.SensordEmulator()
    assert emulator.samples_per_notification(23) == 1
    assert emulator.samples_per_notification(247) == 19  # (247 - 3 - 8) // 12
    assert emulator.samples_per_notification(517) == 42
    spn = emulator.samples_per_notification(247)
    (note,) = emulator.encode(np.zeros((spn, 3)), np.zeros((spn, 3)))
    assert len(note.data) <= 247 - 3


def test_emulator_saturates_like_an_imu() -> None:
    emulator = sg.SensordEmulator()
    (note,) = emulator.encode(np.array([[1e3, -1e3, 0.0]]), np.array([[100.0, -100.0, 0.0]]))
    packet = sg.SensordDecoder().decode(note.char_uuid, note.data)
    assert packet is not None
    full = SensordProfile().quantisation()
    np.testing.assert_allclose(
        packet.acc_m_s2[0, :2], [32767 * full.acc_step_m_s2, -full.acc_full_scale_m_s2]
    )
    np.testing.assert_allclose(packet.gyro_rad_s[0, 1], -full.gyro_full_scale_rad_s)


def test_profile_rejects_unknown_ranges() -> None:
    with pytest.raises(InputError, match="acc range"):
        SensordProfile(acc_range_g=3)
    with pytest.raises(InputError, match="gyro range"):
        SensordProfile(gyro_range_dps=300)


def test_gatt_table() -> None:
    (service,) = SensordProfile().gatt()
    assert service.uuid == sg.SERVICE_UUID
    props = {c.uuid: c.properties for c in service.characteristics}
    assert props == {
        sg.DATA_UUID: ("notify",),
        sg.CONFIG_UUID: ("read", "write"),
        sg.STATUS_UUID: ("read",),
        sg.IDENTIFY_UUID: ("write",),
    }


@given(
    n=st.integers(1, 255),
    ranges=st.integers(0, 255),
    counter=st.integers(0, 0xFFFFFFFF),
    body=st.binary(max_size=255 * 12 + 4),
)
def test_any_header_and_body_decode_or_raise_decode_error(
    n: int, ranges: int, counter: int, body: bytes
) -> None:
    payload = bytes([1, n, ranges, 0]) + struct.pack("<I", counter) + body
    try:
        packet = sg.SensordDecoder().decode(sg.DATA_UUID, payload)
    except DecodeError:
        assert len(body) != 12 * n or (ranges & 0xF) > 3 or (ranges >> 4) > 4
        return
    assert packet is not None
    assert len(packet) == n
    assert packet.counter == counter
    assert np.all(np.isfinite(packet.acc_m_s2))


@given(
    acc_code=st.integers(0, 3),
    gyro_code=st.integers(0, 4),
    values=st.lists(st.floats(-0.999, 0.999), min_size=6, max_size=6),
)
def test_round_trip_rounds_to_the_nearest_count(
    acc_code: int, gyro_code: int, values: list[float]
) -> None:
    """The device rounds, so every range is off by at most half a count, not a whole one."""
    profile = SensordProfile(sg.ACC_RANGES_G[acc_code], sg.GYRO_RANGES_DPS[gyro_code])
    q = profile.quantisation()
    acc = np.array([values[:3]]) * q.acc_full_scale_m_s2
    gyro = np.array([values[3:]]) * q.gyro_full_scale_rad_s
    (note,) = profile.emulator().encode(acc, gyro)
    packet = sg.SensordDecoder().decode(note.char_uuid, note.data)
    assert packet is not None
    assert np.max(np.abs(packet.acc_m_s2 - acc)) <= q.acc_step_m_s2 / 2 * (1 + 1e-9)
    assert np.max(np.abs(packet.gyro_rad_s - gyro)) <= q.gyro_step_rad_s / 2 * (1 + 1e-9)
