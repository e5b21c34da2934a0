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

Identify uses the user interface service of ``ble_uis.h`` / ``m_ui.c`` (service 0x0300, LED
characteristic 0x0301, read/write: a mode byte then the mode's fields, ``ble_uis_led_t``; the
service refuses a write of the wrong length or out-of-range fields). The firmware stores every
LED write in flash and shows it on each connection, so an identify reads the setting first and
writes it back when it ends.

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
    IdentifyPlan,
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
UI_SERVICE_UUID: Final = "ef680300" + _BASE
LED_UUID: Final = "ef680301" + _BASE

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

LED_OFF: Final = 0
LED_CONSTANT: Final = 1
LED_BREATHE: Final = 2
LED_ONE_SHOT: Final = 3
#: Bytes of a write in each mode (the mode byte included).
LED_LENGTHS: Final = {LED_OFF: 1, LED_CONSTANT: 4, LED_BREATHE: 5, LED_ONE_SHOT: 3}
LED_STORED_BYTES: Final = 5  # a read gives the whole stored struct
COLOR_MIX_LIMITS: Final = (1, 7)  # bit 0 red, bit 1 green, bit 2 blue
INTENSITY_LIMITS_PCT: Final = (1, 100)
DELAY_LIMITS_MS: Final = (1, 10_000)
COLOR_CYAN: Final = 6
COLOR_WHITE: Final = 7
_BREATHE: Final = struct.Struct("<BBBH")  # mode, colour mix, intensity %, delay ms


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


@dataclass(frozen=True, slots=True)
class LedSetting:
    """The LED characteristic: constant ``rgb`` (0-255 each); breathe ``color_mix`` (1-7),
    ``intensity_pct`` (1-100) and ``delay_ms`` between breaths (1-10000); one shot (a single
    breath) ``color_mix`` and ``intensity_pct``; off has no fields."""

    mode: int
    rgb: tuple[int, int, int] = (0, 0, 0)
    color_mix: int = 0
    intensity_pct: int = 0
    delay_ms: int = 0

    def pack(self) -> bytes:
        if self.mode == LED_CONSTANT:
            return bytes((LED_CONSTANT, *self.rgb))
        if self.mode == LED_BREATHE:
            return _BREATHE.pack(LED_BREATHE, self.color_mix, self.intensity_pct, self.delay_ms)
        if self.mode == LED_ONE_SHOT:
            return bytes((LED_ONE_SHOT, self.color_mix, self.intensity_pct))
        return bytes((LED_OFF,))

    @classmethod
    def unpack(cls, data: bytes) -> LedSetting:
        """Parses a written value with the checks the firmware makes before accepting it."""
        if not data or data[0] not in LED_LENGTHS:
            raise DecodeError(f"thingy52 LED: unknown mode {data[:1].hex() or 'none'}")
        mode = data[0]
        if len(data) != LED_LENGTHS[mode]:
            raise DecodeError(
                f"thingy52 LED: {len(data)} bytes for mode {mode}, expected {LED_LENGTHS[mode]}"
            )
        if mode == LED_OFF:
            return cls(LED_OFF)
        if mode == LED_CONSTANT:
            return cls(LED_CONSTANT, rgb=(data[1], data[2], data[3]))
        setting = cls(mode, color_mix=data[1], intensity_pct=data[2])
        checks = [(setting.color_mix, COLOR_MIX_LIMITS, "colour mix"),
                  (setting.intensity_pct, INTENSITY_LIMITS_PCT, "intensity")]
        if mode == LED_BREATHE:
            setting = replace(setting, delay_ms=_BREATHE.unpack(data)[3])
            checks.append((setting.delay_ms, DELAY_LIMITS_MS, "delay"))
        for value, (low, high), what in checks:
            if not low <= value <= high:
                raise DecodeError(f"thingy52 LED: {what} {value} outside {low}..{high}")
        return setting

    @classmethod
    def from_stored(cls, data: bytes) -> LedSetting:
        """The setting a read returns: the stored struct, of which the mode's fields count
        (the bytes after them are left over from longer settings)."""
        if not data or data[0] not in LED_LENGTHS:
            raise DecodeError(f"thingy52 LED: unknown stored mode {data[:1].hex() or 'none'}")
        return cls.unpack(bytes(data[: LED_LENGTHS[data[0]]]))

    def stored(self) -> bytes:
        """What a read returns after this setting was written (zero padded here)."""
        return self.pack().ljust(LED_STORED_BYTES, b"\x00")


#: What the firmware shows while connected until a central writes the LED (m_ui.h).
DEFAULT_LED: Final = LedSetting(LED_BREATHE, color_mix=COLOR_CYAN, intensity_pct=20,
                                delay_ms=3500)
#: Identify: white at full brightness, breathing as fast as the firmware allows.
IDENTIFY_LED: Final = LedSetting(LED_BREATHE, color_mix=COLOR_WHITE, intensity_pct=100,
                                 delay_ms=100)


class Thingy52Decoder(Decoder):
    """Decodes raw-data notifications; stateless."""

    def decode(self, char_uuid: str, payload: bytes) -> DecodedPacket | None:
        uuid = char_uuid.lower()
        if uuid != RAW_UUID:
            if uuid in (CONFIG_UUID, LED_UUID):
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
        self.led = DEFAULT_LED
        self._before: LedSetting | None = None  # the setting an identify replaced
        self._identifies = 0

    @property
    def streaming(self) -> bool:
        return True

    @property
    def identifies(self) -> int:
        """LED writes that changed the light; writing back the setting the first of them
        replaced ends an identify and is not counted."""
        return self._identifies

    @property
    def identify_note(self) -> str:
        led = self.led
        return (f"LED mode {led.mode}, colour mix {led.color_mix}, {led.intensity_pct} %, "
                f"{led.delay_ms} ms between breaths")

    @property
    def rate_hz(self) -> float:
        return float(self.config.motion_freq_hz)

    def on_write(self, char_uuid: str, data: bytes) -> list[Notification]:
        uuid = char_uuid.lower()
        if uuid == LED_UUID:
            led = LedSetting.unpack(bytes(data))
            if led == self._before:
                self._before = None
            elif led != self.led:
                self._identifies += 1
                if self._before is None:
                    self._before = self.led
            self.led = led
            return []
        if uuid != CONFIG_UUID:
            raise DecodeError(f"thingy52: characteristic {char_uuid} is not writable")
        self.config = MotionConfig.unpack(bytes(data))
        return []

    def read(self, char_uuid: str) -> bytes | None:
        uuid = char_uuid.lower()
        if uuid == LED_UUID:
            return self.led.stored()
        return self.config.pack() if uuid == CONFIG_UUID else None

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
            ServiceSpec(
                UI_SERVICE_UUID,
                (CharacteristicSpec(LED_UUID, ("read", "write"), DEFAULT_LED.stored(), "LED"),),
            ),
        )

    def start(self, rate_hz: float) -> list[GattWrite]:
        # The other fields keep Nordic's defaults: a write replaces the whole configuration.
        rate = int(self.nearest_rate(rate_hz))
        return [GattWrite(CONFIG_UUID, replace(MotionConfig(), motion_freq_hz=rate).pack())]

    def stop(self) -> list[GattWrite]:
        return []  # disabling the raw notifications (the link's unsubscribe) stops the driver

    def identify(self, duration_s: float) -> IdentifyPlan:
        """The LED breathes white at full brightness; the setting it had is saved first."""
        return IdentifyPlan(
            (GattWrite(LED_UUID, IDENTIFY_LED.pack()),), duration_s,
            "breathing its LED white", saved_uuid=LED_UUID,
        )

    def identify_end(self, saved: bytes | None) -> list[GattWrite]:
        """Writes back the saved LED setting (Nordic's default if it could not be read)."""
        led = DEFAULT_LED
        if saved is not None:
            try:
                led = LedSetting.from_stored(saved)
            except DecodeError:
                led = DEFAULT_LED
        return [GattWrite(LED_UUID, led.pack())]

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
