"""The ``thingy52`` profile: the Nordic Thingy:52 motion service (firmware v2.x).

Where the layout comes from: Nordic's Thingy:52 firmware sources, ``ble_tms.h`` (base UUID
EF68xxxx-9B35-4933-9B10-52FFA9740042, motion service 0x0400, configuration 0x0401, raw data
0x0406; ``ble_tms_raw_t`` = accel, gyro, compass, three int16 each; ``ble_tms_config_t`` =
pedometer interval ms, temperature compensation interval ms, compass compensation interval ms,
motion processing frequency Hz (uint16 each), wake on motion (uint8), with the limits the service
checks on a write) and ``m_motion.c`` (raw values leave the 16Q16 motion driver as Q6.10 g for the
accelerometer, Q11.5 deg/s for the gyroscope and Q12.4 uT for the compass, clamped to the
integer range of each format; the default configuration is 1000/500/500 ms, 10 Hz, wake on
motion on).

The raw stream runs while its notifications are enabled (the firmware enables the motion driver
on the CCCD write and disables it on disconnect), so ``start`` only writes the configuration with
the rate and ``stop`` writes nothing. There is no counter or timestamp: one sample per
notification, timed by arrival and the nominal rate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import ClassVar, Final

import numpy as np

from sensord.errors import DecodeError
from sensord.model import FloatArray
from sensord.profiles._common import DEG_TO_RAD, G_M_S2, xyz
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

_BASE: Final = "-9b35-4933-9b10-52ffa9740042"
CONFIGURATION_SERVICE_UUID: Final = "ef680100" + _BASE  # what a Thingy advertises
MOTION_SERVICE_UUID: Final = "ef680400" + _BASE
CONFIG_UUID: Final = "ef680401" + _BASE
RAW_UUID: Final = "ef680406" + _BASE

RAW: Final = struct.Struct("<9h")  # acc xyz, gyro xyz, compass xyz
CONFIG: Final = struct.Struct("<HHHHB")
ACC_LSB_M_S2: Final = G_M_S2 / 1024.0  # Q6.10 g
GYRO_LSB_RAD_S: Final = DEG_TO_RAD / 32.0  # Q11.5 deg/s
# The firmware clamps the integer part: [-32, 31] g and [-1024, 1023] deg/s.
ACC_LIMITS_COUNTS: Final = (-32 * 1024, 31 * 1024)
GYRO_LIMITS_COUNTS: Final = (-1024 * 32, 1023 * 32)

PEDO_LIMITS_MS: Final = (100, 5000)
TEMP_LIMITS_MS: Final = (100, 5000)
COMPASS_LIMITS_MS: Final = (100, 5000)
MOTION_LIMITS_HZ: Final = (1, 200)
RATES_HZ: Final = (10.0, 20.0, 25.0, 50.0, 100.0, 200.0)


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """The motion configuration characteristic (9 bytes)."""

    pedo_interval_ms: int = 1000
    temp_interval_ms: int = 500
    compass_interval_ms: int = 500
    motion_freq_hz: int = 10
    wake_on_motion: int = 1

    def pack(self) -> bytes:
        return CONFIG.pack(
            self.pedo_interval_ms, self.temp_interval_ms, self.compass_interval_ms,
            self.motion_freq_hz, self.wake_on_motion,
        )

    @classmethod
    def unpack(cls, data: bytes) -> MotionConfig:
        """Parses a written value with the checks the firmware makes before accepting it."""
        if len(data) != CONFIG.size:
            raise DecodeError(f"thingy52 config: {len(data)} bytes, expected {CONFIG.size}")
        config = cls(*CONFIG.unpack(data))
        checks = (
            (config.pedo_interval_ms, PEDO_LIMITS_MS, "pedometer interval"),
            (config.temp_interval_ms, TEMP_LIMITS_MS, "temperature interval"),
            (config.compass_interval_ms, COMPASS_LIMITS_MS, "compass interval"),
            (config.motion_freq_hz, MOTION_LIMITS_HZ, "motion frequency"),
            (config.wake_on_motion, (0, 1), "wake on motion"),
        )
        for value, (low, high), what in checks:
            if not low <= value <= high:
                raise DecodeError(f"thingy52 config: {what} {value} outside {low}..{high}")
        return config


class Thingy52Decoder(Decoder):
    """Decodes raw-data notifications; stateless."""

    def decode(self, char_uuid: str, payload: bytes) -> DecodedPacket | None:
        uuid = char_uuid.lower()
        if uuid != RAW_UUID:
            if uuid == CONFIG_UUID:
                return None
            raise DecodeError(f"thingy52: no samples on characteristic {char_uuid}")
        if len(payload) != RAW.size:
            raise DecodeError(f"thingy52: raw data of {len(payload)} bytes, expected {RAW.size}")
        counts = np.frombuffer(payload, dtype="<i2").reshape(1, 9)
        return DecodedPacket(counts[:, 0:3] * ACC_LSB_M_S2, counts[:, 3:6] * GYRO_LSB_RAD_S)


class Thingy52Emulator(Emulator):
    """A Thingy:52: the configuration characteristic and one raw sample per notification."""

    def __init__(self) -> None:
        self.config = MotionConfig()

    @property
    def streaming(self) -> bool:
        return True

    @property
    def rate_hz(self) -> float:
        return float(self.config.motion_freq_hz)

    def on_write(self, char_uuid: str, data: bytes) -> list[Notification]:
        if char_uuid.lower() != CONFIG_UUID:
            raise DecodeError(f"thingy52: characteristic {char_uuid} is not writable")
        self.config = MotionConfig.unpack(bytes(data))
        return []

    def read(self, char_uuid: str) -> bytes | None:
        return self.config.pack() if char_uuid.lower() == CONFIG_UUID else None

    def samples_per_notification(self, mtu: int) -> int:
        del mtu
        return 1

    def encode(self, acc_m_s2: FloatArray, gyro_rad_s: FloatArray) -> list[Notification]:
        acc, gyro = xyz("acc_m_s2", acc_m_s2), xyz("gyro_rad_s", gyro_rad_s)
        if acc.shape != gyro.shape:
            raise ValueError(f"acc {acc.shape} and gyro {gyro.shape} differ")
        # The firmware truncates 16Q16 values with a right shift (towards minus infinity).
        acc_counts = np.clip(np.floor(acc / ACC_LSB_M_S2), *ACC_LIMITS_COUNTS)
        gyro_counts = np.clip(np.floor(gyro / GYRO_LSB_RAD_S), *GYRO_LIMITS_COUNTS)
        raw = np.hstack((acc_counts, gyro_counts, np.zeros_like(acc_counts))).astype("<i2")
        return [Notification(RAW_UUID, row.tobytes()) for row in raw]


class Thingy52Profile(Profile):
    """Nordic Thingy:52 (firmware v2.x motion service)."""

    id: ClassVar[str] = "thingy52"
    title: ClassVar[str] = "Nordic Thingy:52 motion service"
    service_uuid: ClassVar[str] = MOTION_SERVICE_UUID
    scan_uuids: ClassVar[tuple[str, ...]] = (CONFIGURATION_SERVICE_UUID,)
    name_prefixes: ClassVar[tuple[str, ...]] = ("Thingy",)
    notify_uuids: ClassVar[tuple[str, ...]] = (RAW_UUID,)
    rates_hz: ClassVar[tuple[float, ...]] = RATES_HZ
    default_rate_hz: ClassVar[float] = 100.0
    has_battery_service: ClassVar[bool] = True
    # Firmware and name live in the Thingy configuration service, not in 0x180A.
    has_device_information: ClassVar[bool] = False

    def gatt(self) -> tuple[ServiceSpec, ...]:
        return (
            ServiceSpec(
                MOTION_SERVICE_UUID,
                (
                    CharacteristicSpec(
                        CONFIG_UUID, ("read", "write"), MotionConfig().pack(), "Motion config"
                    ),
                    CharacteristicSpec(RAW_UUID, ("notify",), b"", "Raw motion data"),
                ),
            ),
        )

    def start(self, rate_hz: float) -> list[GattWrite]:
        # The other fields keep Nordic's defaults: a write replaces the whole configuration.
        rate = int(self.nearest_rate(rate_hz))
        return [GattWrite(CONFIG_UUID, replace(MotionConfig(), motion_freq_hz=rate).pack())]

    def stop(self) -> list[GattWrite]:
        return []  # disabling the raw notifications (the link's unsubscribe) stops the driver

    def decoder(self, rate_hz: float) -> Decoder:
        del rate_hz
        return Thingy52Decoder()

    def emulator(self) -> Emulator:
        return Thingy52Emulator()

    def quantisation(self) -> Quantisation:
        return Quantisation(
            acc_step_m_s2=ACC_LSB_M_S2,
            gyro_step_rad_s=GYRO_LSB_RAD_S,
            acc_full_scale_m_s2=31.0 * G_M_S2,
            gyro_full_scale_rad_s=1023.0 * DEG_TO_RAD,
        )
