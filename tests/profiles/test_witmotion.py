"""WitMotion WT901BLE: golden frames from the datasheet layout, resync, the register commands."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensord.errors import DecodeError
from sensord.profiles import witmotion as wm
from sensord.profiles.witmotion import WitmotionDecoder, WitmotionEmulator, WitmotionProfile

G = 9.80665
DEG = math.pi / 180

# 0x55 0x61, then acc x y z, gyro x y z, angle x y z, int16 low byte first (datasheet 6.1.1).
FRAME_A = bytes.fromhex(
    "55 61"
    "00 08" "00 f8" "00 00"  # acc: +2048 (1 g at 16 g full scale), -2048, 0
    "10 00" "00 00" "00 80"  # gyro: +16 (0.977 deg/s at 2000 full scale), 0, -32768 (-2000)
    "00 40" "00 00" "00 00"  # angles: +16384 (90 deg), 0, 0
)
FRAME_B = bytes.fromhex("55 61 00 00 00 00 00 10 ff 7f 00 00 00 00 00 00 00 00 00 00")  # az 2 g
REGISTER_ANSWER = bytes.fromhex("55 71 03 00 09 00") + bytes(14)


def decode(payload: bytes) -> np.ndarray:
    packet = WitmotionDecoder().decode(wm.NOTIFY_UUID, payload)
    assert packet is not None
    return np.hstack((packet.acc_m_s2 / G, packet.gyro_rad_s / DEG))


def test_golden_frame() -> None:
    np.testing.assert_allclose(
        decode(FRAME_A), [[1, -1, 0, 16 * 2000 / 32768, 0, -2000]], rtol=1e-12, atol=1e-12
    )


def test_two_frames_in_one_notification() -> None:
    np.testing.assert_allclose(
        decode(FRAME_A + FRAME_B)[1], [0, 0, 2.0, 32767 * 2000 / 32768, 0, 0], atol=1e-12
    )


def test_short_16_byte_frames() -> None:
    """Some units drop the last two angles: acc and gyro are still all there."""
    got = decode(FRAME_A[:16] + FRAME_B[:16] + FRAME_A[:16])
    assert got.shape == (3, 6)
    np.testing.assert_allclose(got[0], decode(FRAME_A)[0])


def test_resync_on_0x55_after_garbage_and_a_cut_frame() -> None:
    decoder = WitmotionDecoder()
    packet = decoder.decode(wm.NOTIFY_UUID, b"\x00\x12" + FRAME_A + FRAME_B + FRAME_A[:9])
    assert packet is not None
    assert len(packet) == 2
    assert decoder.skipped_bytes == 2 + 9


def test_register_answers_carry_no_samples() -> None:
    assert WitmotionDecoder().decode(wm.NOTIFY_UUID, REGISTER_ANSWER) is None
    assert len(decode(REGISTER_ANSWER + FRAME_A)) == 1


@pytest.mark.parametrize(
    "payload", [b"", b"\x55", bytes(20), b"\x55\x62" + bytes(18), FRAME_A[:13]]
)
def test_malformed(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        WitmotionDecoder().decode(wm.NOTIFY_UUID, payload)


def test_wrong_characteristic() -> None:
    with pytest.raises(DecodeError):
        WitmotionDecoder().decode(wm.WRITE_UUID, FRAME_A)


@given(st.lists(st.binary(min_size=18, max_size=18), min_size=1, max_size=12))
def test_aligned_frames_always_decode_whatever_their_values(bodies: list[bytes]) -> None:
    """Data bytes may contain 0x55 0x61: aligned frames must still give one sample each."""
    payload = b"".join(b"\x55\x61" + body for body in bodies)
    got = decode(payload)
    assert got.shape == (len(bodies), 6)
    expected = [struct.unpack("<6h", body[:12]) for body in bodies]
    np.testing.assert_allclose(got[:, 0], [e[0] * 16 / 32768 for e in expected], rtol=1e-12)


def test_golden_start_commands() -> None:
    writes = WitmotionProfile().start(100)
    assert [w.data.hex(" ") for w in writes] == [
        "ff aa 69 88 b5",  # unlock
        "ff aa 03 09 00",  # RRATE = 0x09: 100 Hz
        "ff aa 00 00 00",  # save
    ]
    assert {w.char_uuid for w in writes} == {"0000ffe9-0000-1000-8000-00805f9a34fb"}
    assert WitmotionProfile().start(200)[1].data == bytes.fromhex("ff aa 03 0b 00")
    assert WitmotionProfile().start(60)[1].data == bytes.fromhex("ff aa 03 08 00")  # 50 Hz
    assert WitmotionProfile().stop() == []


def test_emulator_needs_the_unlock_and_saves() -> None:
    emulator = WitmotionEmulator()
    assert emulator.rate_hz == 10  # factory setting
    emulator.on_write(wm.WRITE_UUID, bytes.fromhex("ff aa 03 0b 00"))
    assert emulator.rate_hz == 10  # locked: ignored
    for write in WitmotionProfile().start(200):
        emulator.on_write(write.char_uuid, write.data)
    assert emulator.rate_hz == 200
    assert emulator.saved_rate_code == 0x0B
    assert emulator.on_write(wm.WRITE_UUID, b"junk") == []
    (answer,) = emulator.on_write(wm.WRITE_UUID, bytes.fromhex("ff aa 27 03 00"))
    assert answer.data[:6] == bytes.fromhex("55 71 03 00 0b 00")
    assert len(answer.data) == 20
    with pytest.raises(DecodeError):
        emulator.on_write(wm.NOTIFY_UUID, bytes.fromhex("ff aa 69 88 b5"))


def test_emulator_quirks_pack_like_the_units() -> None:
    acc = np.array([[0.0, 0.0, G]] * 5)
    gyro = np.zeros((5, 3))
    short = WitmotionEmulator(frame_bytes=16, frames_per_notification=3)
    assert short.samples_per_notification(23) == 1
    assert short.samples_per_notification(247) == 3
    notes = short.encode(acc, gyro)
    assert [len(n.data) for n in notes] == [48, 32]
    np.testing.assert_allclose(decode(b"".join(n.data for n in notes))[:, 2], 1.0, atol=1e-3)
    with pytest.raises(ValueError, match="frame_bytes"):
        WitmotionEmulator(frame_bytes=18)


def test_emulator_reports_tilt_angles() -> None:
    (note,) = WitmotionEmulator().encode(np.array([[0.0, G, 0.0]]), np.zeros((1, 3)))
    roll = struct.unpack_from("<h", note.data, 14)[0] * 180 / 32768
    assert roll == pytest.approx(90, abs=0.01)


@given(st.lists(st.floats(-0.999, 0.999), min_size=6, max_size=6))
def test_round_trip_rounds_to_the_nearest_count(values: list[float]) -> None:
    q = WitmotionProfile().quantisation()
    acc = np.array([values[:3]]) * q.acc_full_scale_m_s2
    gyro = np.array([values[3:]]) * q.gyro_full_scale_rad_s
    (note,) = WitmotionEmulator().encode(acc, gyro)
    packet = WitmotionDecoder().decode(note.char_uuid, note.data)
    assert packet is not None
    assert np.max(np.abs(packet.acc_m_s2 - acc)) <= q.acc_step_m_s2 / 2 * (1 + 1e-9)
    assert np.max(np.abs(packet.gyro_rad_s - gyro)) <= q.gyro_step_rad_s / 2 * (1 + 1e-9)
