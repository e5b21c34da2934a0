"""The ``witmotion`` profile: WitMotion WT901BLE / BWT901BLECL (Bluetooth 5.0 modules).

Where the layout comes from: WitMotion's BWT901BLECL datasheet (section "Communication
Protocol": Flag 0x61 packets of acceleration, angular velocity and angle, low byte first; the
register table with RRATE = 0x03; unlock ``FF AA 69 88 B5``, set ``FF AA reg lo hi``, save
``FF AA 00 00 00``, read ``FF AA 27 reg 00`` answered by a 0x55 0x71 packet) and WitMotion's own
Bluetooth 5.0 SDK (which parses 20-byte 0x55 0x61 frames: acc / 32768 * 16 g, gyro / 32768 *
2000 deg/s, angle / 32768 * 180 deg, and uses the UUIDs below). Those UUIDs are built on
``...-00805f9a34fb``, not the Bluetooth base ``...-00805f9b34fb``: that is what the modules
report, so they are kept as they are.

Quirks handled: the device has no sample counter or timestamp (times come from arrival and the
nominal rate); some units send 16-byte frames (acc, gyro and one angle) and some send several
frames in one notification, so the decoder checks lengths and resynchronises on 0x55. It streams
whenever notifications are enabled, so there is no stop command: unsubscribing stops it.

No identify: the modules have no buzzer or motor, their LED shows the Bluetooth state, and
the Bluetooth modules' documented commands have none for it (the LEDOFF register 0x1B of the
wired WT901 register map is not documented for them), so sensord sends nothing.
"""

from __future__ import annotations

import math
import struct
from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from sensord.errors import DecodeError
from sensord.model import FloatArray
from sensord.profiles._common import DEG_TO_RAD, G_M_S2, quantise_i16, xyz
from sensord.profiles.base import (
    CharacteristicSpec,
    DecodedPacket,
    Decoder,
    Emulator,
    GattWrite,
    Notification,
    Profile,
    Quantisation,
    ServiceSpec,
)

SERVICE_UUID: Final = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID: Final = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID: Final = "0000ffe9-0000-1000-8000-00805f9a34fb"

HEADER: Final = 0x55
FLAG_MOTION: Final = 0x61  # acc, gyro, angle
FLAG_REGISTERS: Final = 0x71  # answer to a register read
FRAME_BYTES: Final = 20
SHORT_FRAME_BYTES: Final = 16  # some units: acc, gyro and one angle
MIN_MOTION_BYTES: Final = 14  # header, flag and six int16 (acc, gyro)
ATT_HEADER_BYTES: Final = 3

ACC_LSB_M_S2: Final = 16.0 * G_M_S2 / 32768.0
GYRO_LSB_RAD_S: Final = 2000.0 * DEG_TO_RAD / 32768.0
ANGLE_LSB_RAD: Final = math.pi / 32768.0  # 180 deg full scale

REG_SAVE: Final = 0x00
REG_RRATE: Final = 0x03
REG_READ: Final = 0x27
REG_KEY: Final = 0x69
KEY_UNLOCK: Final = 0xB588
#: Output rate (Hz) -> the RRATE register code.
RATE_CODES: Final = {
    0.2: 0x01, 0.5: 0x02, 1.0: 0x03, 2.0: 0x04, 5.0: 0x05, 10.0: 0x06, 20.0: 0x07, 50.0: 0x08,
    100.0: 0x09, 200.0: 0x0B,
}
DEFAULT_RATE_HZ: Final = 10.0  # the factory setting
COMMAND: Final = struct.Struct("<BBBH")  # FF AA register value(uint16 LE)
_MOTION: Final = struct.Struct("<6h")  # acc xyz, gyro xyz counts


def command(register: int, value: int) -> bytes:
    """One 5-byte register command: ``FF AA reg lo hi``."""
    return COMMAND.pack(0xFF, 0xAA, register, value)


UNLOCK: Final = command(REG_KEY, KEY_UNLOCK)  # FF AA 69 88 B5
SAVE: Final = command(REG_SAVE, 0)  # FF AA 00 00 00


class WitmotionDecoder(Decoder):
    """Decodes 0x55 0x61 frames; stateless (the device carries no counter)."""

    def __init__(self) -> None:
        self.skipped_bytes = 0

    def decode(self, char_uuid: str, payload: bytes) -> DecodedPacket | None:
        if char_uuid.lower() != NOTIFY_UUID:
            raise DecodeError(f"witmotion: no samples on characteristic {char_uuid}")
        length = len(payload)
        if length == 0:
            raise DecodeError("witmotion: empty notification")
        if length in (FRAME_BYTES, SHORT_FRAME_BYTES) and payload[0] == HEADER:
            # The common case, one frame per notification: skip numpy's per-call overhead.
            if payload[1] == FLAG_REGISTERS:
                return None
            if payload[1] == FLAG_MOTION:
                counts = _MOTION.unpack_from(payload, 2)
                return DecodedPacket(
                    np.array([counts[:3]], dtype=np.float64) * ACC_LSB_M_S2,
                    np.array([counts[3:]], dtype=np.float64) * GYRO_LSB_RAD_S,
                )
        for size in (FRAME_BYTES, SHORT_FRAME_BYTES):
            if length % size == 0:
                rows = np.frombuffer(payload, dtype=np.uint8).reshape(-1, size)
                if np.all(rows[:, 0] == HEADER) and np.all(
                    (rows[:, 1] == FLAG_MOTION) | (rows[:, 1] == FLAG_REGISTERS)
                ):
                    return self._packet(rows[rows[:, 1] == FLAG_MOTION])
        return self._packet(self._resync(payload))

    def _resync(self, payload: bytes) -> NDArray[np.uint8]:
        """The motion frames of an irregular notification, as rows of their first 14 bytes."""
        length = len(payload)
        rows: list[bytes] = []
        i = payload.find(HEADER)
        skipped = i if i >= 0 else length
        while 0 <= i < length:
            size = 0
            for candidate in (FRAME_BYTES, SHORT_FRAME_BYTES):
                end = i + candidate
                if end == length or (end < length and payload[end] == HEADER):
                    size = candidate
                    break
            flag = payload[i + 1] if i + 1 < length else -1
            if size and flag in (FLAG_MOTION, FLAG_REGISTERS):
                if flag == FLAG_MOTION:
                    rows.append(payload[i : i + MIN_MOTION_BYTES])
                i += size
                continue
            nxt = payload.find(HEADER, i + 1)
            skipped += (nxt if nxt >= 0 else length) - i
            i = nxt
        self.skipped_bytes += skipped
        if not rows:
            if skipped:
                raise DecodeError(f"witmotion: no frame in {length} bytes")
            return np.empty((0, MIN_MOTION_BYTES), dtype=np.uint8)
        return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, MIN_MOTION_BYTES)

    @staticmethod
    def _packet(rows: NDArray[np.uint8]) -> DecodedPacket | None:
        if rows.shape[0] == 0:
            return None  # register answers only
        counts = np.ascontiguousarray(rows[:, 2:14]).view("<i2")
        return DecodedPacket(counts[:, :3] * ACC_LSB_M_S2, counts[:, 3:6] * GYRO_LSB_RAD_S)


class WitmotionEmulator(Emulator):
    """A WT901BLE: register commands behind the unlock key, one frame per notification.

    ``frame_bytes`` (20, or 16 for the short-frame units) and ``frames_per_notification``
    reproduce the quirks of some units, for testing the link against them.
    """

    def __init__(self, frame_bytes: int = FRAME_BYTES, frames_per_notification: int = 1) -> None:
        if frame_bytes not in (FRAME_BYTES, SHORT_FRAME_BYTES):
            raise ValueError(f"frame_bytes must be 20 or 16, not {frame_bytes}")
        if frames_per_notification < 1:
            raise ValueError("frames_per_notification must be at least 1")
        self.frame_bytes = frame_bytes
        self.frames_per_notification = frames_per_notification
        self._rate_code = RATE_CODES[DEFAULT_RATE_HZ]
        self._unlocked = False
        self.saved_rate_code = self._rate_code
        self._mtu = 23

    @property
    def streaming(self) -> bool:
        return True

    @property
    def rate_hz(self) -> float:
        return next(hz for hz, code in RATE_CODES.items() if code == self._rate_code)

    def on_write(self, char_uuid: str, data: bytes) -> list[Notification]:
        if char_uuid.lower() != WRITE_UUID:
            raise DecodeError(f"witmotion: characteristic {char_uuid} is not writable")
        if len(data) != COMMAND.size or data[0] != 0xFF or data[1] != 0xAA:
            return []  # the module ignores what is not a command
        _, _, register, value = COMMAND.unpack(bytes(data))
        if register == REG_KEY:
            self._unlocked = value == KEY_UNLOCK
        elif register == REG_READ:
            return [self._register_answer(value & 0xFF)]
        elif not self._unlocked:
            pass  # a locked module ignores register writes
        elif register == REG_SAVE:
            if value == 0:
                self.saved_rate_code = self._rate_code
            self._unlocked = False
        elif register == REG_RRATE and value in RATE_CODES.values():
            self._rate_code = value
        return []

    def _register_answer(self, start: int) -> Notification:
        """A 0x55 0x71 frame: start register, then 8 registers (only RRATE is modelled)."""
        values = [self._rate_code if start + k == REG_RRATE else 0 for k in range(8)]
        frame = struct.pack("<BBH8h", HEADER, FLAG_REGISTERS, start, *values)
        return Notification(NOTIFY_UUID, frame)

    def samples_per_notification(self, mtu: int) -> int:
        self._mtu = mtu
        fit = (mtu - ATT_HEADER_BYTES) // self.frame_bytes
        return max(1, min(self.frames_per_notification, fit))

    def encode(self, acc_m_s2: FloatArray, gyro_rad_s: FloatArray) -> list[Notification]:
        acc, gyro = xyz("acc_m_s2", acc_m_s2), xyz("gyro_rad_s", gyro_rad_s)
        if acc.shape != gyro.shape:
            raise ValueError(f"acc {acc.shape} and gyro {gyro.shape} differ")
        # The module's own fusion reports angles; a tilt estimate from gravity stands in for it.
        roll = np.arctan2(acc[:, 1], acc[:, 2])
        pitch = np.arctan2(-acc[:, 0], np.hypot(acc[:, 1], acc[:, 2]))
        angles = np.column_stack((roll, pitch, np.zeros_like(roll)))
        n = acc.shape[0]
        frames = np.zeros((n, FRAME_BYTES), dtype=np.uint8)
        frames[:, 0] = HEADER
        frames[:, 1] = FLAG_MOTION
        values = np.hstack((
            quantise_i16(acc, ACC_LSB_M_S2),
            quantise_i16(gyro, GYRO_LSB_RAD_S),
            quantise_i16(angles, ANGLE_LSB_RAD),
        ))
        frames[:, 2:] = values.view(np.uint8).reshape(n, 18)
        frames = frames[:, : self.frame_bytes]
        per = self.samples_per_notification(self._mtu)
        return [
            Notification(NOTIFY_UUID, frames[start : start + per].tobytes())
            for start in range(0, n, per)
        ]


class WitmotionProfile(Profile):
    """WitMotion WT901BLE / BWT901BLECL."""

    id: ClassVar[str] = "witmotion"
    title: ClassVar[str] = "WitMotion WT901BLE / BWT901BLECL"
    service_uuid: ClassVar[str] = SERVICE_UUID
    name_prefixes: ClassVar[tuple[str, ...]] = ("WT901", "BWT901")
    notify_uuids: ClassVar[tuple[str, ...]] = (NOTIFY_UUID,)
    rates_hz: ClassVar[tuple[float, ...]] = tuple(sorted(RATE_CODES))
    default_rate_hz: ClassVar[float] = 100.0
    # Battery voltage is a register of the module, not the Battery Service.
    has_battery_service: ClassVar[bool] = False
    has_device_information: ClassVar[bool] = False
    identify_unsupported: ClassVar[str] = (
        "the module has no buzzer or motor and no documented command for its LED"
    )

    def gatt(self) -> tuple[ServiceSpec, ...]:
        return (
            ServiceSpec(
                SERVICE_UUID,
                (
                    CharacteristicSpec(NOTIFY_UUID, ("notify",), b"", "Data out"),
                    CharacteristicSpec(
                        WRITE_UUID, ("write", "write-without-response"), b"", "Commands in"
                    ),
                ),
            ),
        )

    def start(self, rate_hz: float) -> list[GattWrite]:
        code = RATE_CODES[self.nearest_rate(rate_hz)]
        return [
            GattWrite(WRITE_UUID, UNLOCK),
            GattWrite(WRITE_UUID, command(REG_RRATE, code)),
            GattWrite(WRITE_UUID, SAVE),
        ]

    def stop(self) -> list[GattWrite]:
        return []  # it streams while subscribed; the link's unsubscribe stops it

    def decoder(self, rate_hz: float) -> Decoder:
        del rate_hz  # no counter: the link times samples by arrival and the nominal rate
        return WitmotionDecoder()

    def emulator(self) -> Emulator:
        return WitmotionEmulator()

    def quantisation(self) -> Quantisation:
        return Quantisation(
            acc_step_m_s2=ACC_LSB_M_S2,
            gyro_step_rad_s=GYRO_LSB_RAD_S,
            acc_full_scale_m_s2=16.0 * G_M_S2,
            gyro_full_scale_rad_s=2000.0 * DEG_TO_RAD,
        )
