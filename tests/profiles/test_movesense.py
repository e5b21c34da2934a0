"""Movesense GSP: golden commands and IMU6 packets, part joining, subscription slots."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from sensord.errors import DecodeError
from sensord.profiles import movesense as ms
from sensord.profiles.movesense import MovesenseDecoder, MovesenseEmulator, MovesenseProfile

DEG = math.pi / 180
IMU = 99  # our subscription's reference byte

# DATA (2), reference, uint32 ms timestamp, acc x y z, gyro x y z: float32 little-endian.
ONE_SAMPLE = bytes.fromhex(
    "02 63"
    "e8 03 00 00"  # 1000 ms
    "00 00 80 3f" "00 00 18 41" "00 00 00 c0"  # acc 1.0, 9.5, -2.0 m/s^2
    "00 00 b4 42" "00 00 00 00" "00 00 34 c2"  # gyro 90, 0, -45 deg/s
)


def body(timestamp_ms: int, acc: list[list[float]], gyro: list[list[float]]) -> bytes:
    """An IMU6 body built field by field from the documented layout (not by the emulator)."""
    out = struct.pack("<I", timestamp_ms)
    for row in acc:
        out += struct.pack("<3f", *row)
    for row in gyro:
        out += struct.pack("<3f", *row)
    return out


def test_golden_single_notification() -> None:
    packet = MovesenseDecoder(13).decode(ms.DATA_UUID, ONE_SAMPLE)
    assert packet is not None
    assert packet.device_time_s == 1.0
    assert packet.counter is None
    np.testing.assert_allclose(packet.acc_m_s2, [[1.0, 9.5, -2.0]])
    np.testing.assert_allclose(packet.gyro_rad_s, [[math.pi / 2, 0.0, -math.pi / 4]])


def test_golden_split_packet_is_joined() -> None:
    """Acc samples first, then gyro samples; the second part comes without type+reference."""
    acc = [[float(i), 2.0 * i, -1.0] for i in range(8)]
    gyro = [[10.0 * i, 0.0, 5.0] for i in range(8)]
    whole = body(123456, acc, gyro)  # 196 bytes: more than a 161-MTU notification holds
    decoder = MovesenseDecoder(104)
    assert decoder.decode(ms.DATA_UUID, bytes([2, IMU]) + whole[:156]) is None
    packet = decoder.decode(ms.DATA_UUID, bytes([3, IMU]) + whole[156:])
    assert packet is not None
    assert packet.device_time_s == pytest.approx(123.456)
    np.testing.assert_allclose(packet.acc_m_s2, acc)
    np.testing.assert_allclose(packet.gyro_rad_s, np.asarray(gyro) * DEG)


def test_three_parts_with_a_full_second_part() -> None:
    """Two full parts make a whole body by length alone; the third part still belongs to it."""
    n = 21  # 4 + 21 * 24 = 508 = 242 + 242 + 24 at MTU 247
    whole = body(0, [[1.0, 1.0, 1.0]] * n, [[2.0, 2.0, 2.0]] * n)
    decoder = MovesenseDecoder(416)
    assert decoder.decode(ms.DATA_UUID, bytes([2, IMU]) + whole[:242]) is None
    assert decoder.decode(ms.DATA_UUID, bytes([3, IMU]) + whole[242:484]) is None
    packet = decoder.decode(ms.DATA_UUID, bytes([4, IMU]) + whole[484:])
    assert packet is not None
    assert len(packet) == n


def test_smaller_batches_than_expected_come_one_packet_late_but_all_come() -> None:
    decoder = MovesenseDecoder(104)  # expects 8 samples per packet
    small = [body(t, [[float(t), 0.0, 0.0]] * 4, [[0.0, 0.0, 0.0]] * 4) for t in (0, 38, 77)]
    got = [decoder.decode(ms.DATA_UUID, bytes([2, IMU]) + b) for b in small]
    assert got[0] is None
    assert [p.device_time_s for p in got[1:] if p is not None] == [0.0, 0.038]
    assert decoder.dropped_fragments == 0


def test_command_results_and_other_references() -> None:
    decoder = MovesenseDecoder()
    assert decoder.decode(ms.DATA_UUID, bytes.fromhex("01 63 01 fb")) is None
    assert decoder.last_result == (IMU, 507)
    assert decoder.decode(ms.DATA_UUID, b"\x01\x01Hello") is None
    assert decoder.last_result == (1, None)
    assert decoder.decode(ms.DATA_UUID, bytes([2, 7]) + ONE_SAMPLE[2:]) is None


def test_fragment_errors() -> None:
    decoder = MovesenseDecoder(104)
    with pytest.raises(DecodeError, match="out of order"):
        decoder.decode(ms.DATA_UUID, bytes([3, IMU]) + bytes(40))
    decoder.decode(ms.DATA_UUID, bytes([2, IMU]) + bytes(101))  # incomplete first part
    decoder.decode(ms.DATA_UUID, ONE_SAMPLE)  # a new packet: the fragment is dropped
    assert decoder.dropped_fragments == 1
    with pytest.raises(DecodeError, match="type"):
        decoder.decode(ms.DATA_UUID, bytes([9, IMU]) + bytes(28))
    with pytest.raises(DecodeError):
        decoder.decode(ms.DATA_UUID, b"\x02")
    nans = struct.pack("<6f", *[math.nan] * 6)
    with pytest.raises(DecodeError, match="non-finite"):
        MovesenseDecoder(13).decode(ms.DATA_UUID, bytes([2, IMU]) + bytes(4) + nans)


def test_timestamp_wraps_forward() -> None:
    decoder = MovesenseDecoder(13)
    times = []
    for ms_ in (0xFFFFFFB0, 0x00000010):
        packet = decoder.decode(ms.DATA_UUID, bytes([2, IMU]) + body(ms_, [[0.0] * 3], [[0.0] * 3]))
        assert packet is not None
        times.append(packet.device_time_s)
    assert times[1] - times[0] == pytest.approx(0.096)


def test_golden_commands() -> None:
    writes = MovesenseProfile().start(100)
    assert {w.char_uuid for w in writes} == {"34800001-7185-4d5d-b431-630e7050e8f0"}
    assert [w.data for w in writes] == [
        bytes([0, 1]),  # HELLO, reference 1
        bytes([2, IMU]),  # UNSUBSCRIBE a leftover of ours
        bytes([1, IMU]) + b"/Meas/IMU6/104",  # SUBSCRIBE at the nearest rate
    ]
    assert [w.data for w in MovesenseProfile().stop()] == [bytes([2, IMU])]


def test_emulator_subscription_slots_and_errors() -> None:
    emulator = MovesenseEmulator()
    (hello,) = emulator.on_write(ms.COMMAND_UUID, bytes([0, 5]))
    assert hello.data == b"\x01\x05Hello"
    (missing,) = emulator.on_write(ms.COMMAND_UUID, bytes([1, 9]) + b"/Meas/IMU6/100")
    assert missing.data == bytes.fromhex("01 09 01 94")  # 404
    for ref in range(10, 14):
        assert emulator.on_write(ms.COMMAND_UUID, bytes([1, ref]) + b"/Meas/IMU6/52") == []
    (full,) = emulator.on_write(ms.COMMAND_UUID, bytes([1, 20]) + b"/Meas/IMU6/52")
    assert full.data == bytes.fromhex("01 14 01 fb")  # 507: no free slot
    emulator.on_disconnect()
    assert not emulator.streaming
    with pytest.raises(DecodeError):
        emulator.on_write(ms.COMMAND_UUID, bytes([7, 1]))
    with pytest.raises(DecodeError):
        emulator.on_write(ms.DATA_UUID, bytes([0, 1]))


def test_leaking_emulator_runs_out_of_slots_unless_unsubscribed() -> None:
    emulator = MovesenseEmulator(leak_subscriptions=True)
    profile = MovesenseProfile()
    for _ in range(6):  # reconnects that never reach stop(): start() frees our own slot
        for write in profile.start(104):
            assert emulator.on_write(write.char_uuid, write.data) in ([], [ms.Notification(
                ms.DATA_UUID, b"\x01\x01Hello")])
        emulator.on_disconnect()
    assert emulator.streaming
    for ref in (30, 31, 32):
        emulator.on_write(ms.COMMAND_UUID, bytes([1, ref]) + b"/Meas/IMU6/13")
    (full,) = emulator.on_write(ms.COMMAND_UUID, bytes([1, 40]) + b"/Meas/IMU6/13")
    assert full.data[2:] == bytes.fromhex("01 fb")


def test_emulator_batches_and_splits_by_mtu() -> None:
    emulator = MovesenseEmulator()
    for write in MovesenseProfile().start(104):
        emulator.on_write(write.char_uuid, write.data)
    assert emulator.samples_per_notification(161) == 8
    notes = emulator.encode(np.ones((8, 3)), np.ones((8, 3)))
    assert [(n.data[0], len(n.data)) for n in notes] == [(2, 158), (3, 42)]
    assert emulator.samples_per_notification(23) == 2  # three 18-byte parts at most
