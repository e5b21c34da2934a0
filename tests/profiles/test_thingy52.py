"""Nordic Thingy:52: golden raw data and configuration from the firmware's structures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sensord.errors import DecodeError
from sensord.profiles import thingy52 as th
from sensord.profiles.thingy52 import Thingy52Decoder, Thingy52Emulator, Thingy52Profile

G = 9.80665
DEG = math.pi / 180

# ble_tms_raw_t: accel x y z (Q6.10 g), gyro x y z (Q11.5 deg/s), compass x y z (Q12.4 uT).
RAW = bytes.fromhex(
    "00 04" "00 fc" "00 02"  # acc: 1024 (1 g), -1024, 512 (0.5 g)
    "20 00" "e0 ff" "e0 7f"  # gyro: 32 (1 deg/s), -32, 32736 (1023 deg/s)
    "10 00" "20 00" "30 00"  # compass: ignored
)


def test_golden_raw_data() -> None:
    packet = Thingy52Decoder().decode(th.RAW_UUID.upper(), RAW)
    assert packet is not None
    assert packet.counter is None
    assert packet.device_time_s is None
    np.testing.assert_allclose(packet.acc_m_s2, [[G, -G, 0.5 * G]], rtol=1e-12)
    np.testing.assert_allclose(packet.gyro_rad_s, [[DEG, -DEG, 1023 * DEG]], rtol=1e-12)


@pytest.mark.parametrize("payload", [b"", RAW[:17], RAW + b"\x00", RAW * 2])
def test_raw_data_must_be_18_bytes(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        Thingy52Decoder().decode(th.RAW_UUID, payload)


def test_other_characteristics() -> None:
    assert Thingy52Decoder().decode(th.CONFIG_UUID, bytes(9)) is None
    with pytest.raises(DecodeError):
        Thingy52Decoder().decode("ef680407-9b35-4933-9b10-52ffa9740042", RAW)


def test_golden_start_write() -> None:
    (write,) = Thingy52Profile().start(100)
    assert write.char_uuid == "ef680401-9b35-4933-9b10-52ffa9740042"
    # pedometer 1000 ms, temperature 500 ms, compass 500 ms, 100 Hz, wake on motion: uint16 LE
    assert write.data == bytes.fromhex("e8 03 f4 01 f4 01 64 00 01")
    assert Thingy52Profile().start(160)[0].data[6:8] == bytes.fromhex("c8 00")  # 200 Hz
    assert Thingy52Profile().stop() == []


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("e8 03 f4 01 f4 01 64 00"),  # 8 bytes
        bytes.fromhex("63 00 f4 01 f4 01 64 00 01"),  # pedometer 99 ms
        bytes.fromhex("e8 03 f4 01 89 13 64 00 01"),  # compass 5001 ms
        bytes.fromhex("e8 03 f4 01 f4 01 00 00 01"),  # 0 Hz
        bytes.fromhex("e8 03 f4 01 f4 01 c9 00 01"),  # 201 Hz
        bytes.fromhex("e8 03 f4 01 f4 01 64 00 02"),  # wake on motion 2
    ],
)
def test_emulator_rejects_what_the_firmware_rejects(data: bytes) -> None:
    emulator = Thingy52Emulator()
    with pytest.raises(DecodeError):
        emulator.on_write(th.CONFIG_UUID, data)
    assert emulator.rate_hz == 10  # unchanged default


def test_emulator_config_read_back() -> None:
    emulator = Thingy52Emulator()
    assert emulator.read(th.CONFIG_UUID) == bytes.fromhex("e8 03 f4 01 f4 01 0a 00 01")
    emulator.on_write(th.CONFIG_UUID, Thingy52Profile().start(50)[0].data)
    assert emulator.rate_hz == 50
    assert emulator.read(th.CONFIG_UUID) == bytes.fromhex("e8 03 f4 01 f4 01 32 00 01")
    assert emulator.read(th.RAW_UUID) is None


def test_emulator_truncates_and_clamps_like_the_firmware() -> None:
    acc = np.array([[0.99999 * G, -0.5 / 1024 * G, 40 * G]])
    gyro = np.array([[2000 * DEG, -2000 * DEG, 0.0]])
    (note,) = Thingy52Emulator().encode(acc, gyro)
    counts = np.frombuffer(note.data, dtype="<i2")
    assert list(counts[:6]) == [1023, -1, 31 * 1024, 1023 * 32, -1024 * 32, 0]
