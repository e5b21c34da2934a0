"""The ``sensord`` profile: our own open GATT protocol for DIY wearables (nRF52/ESP32 + an IMU).

Where the layout comes from: it is defined here and specified for firmware authors in
docs/profiles.md ("The sensord GATT profile"); this module and that document must agree, and
the golden-byte tests in tests/profiles pin the layout byte by byte.

In short (all little-endian): one 128-bit service with a data characteristic (notify), a
configuration characteristic (read/write: run, acc range, gyro range, rate), a status
characteristic (read) and an identify characteristic (write: blink the LED or vibrate for a
number of milliseconds, so a person can tell which wearable is which). A data packet is an
8-byte header (type, sample count, range codes, flags, uint32 running counter of the first
sample) followed by ``n`` samples of six int16 values (ax ay az gx gy gz) scaled by the ranges
the header names, so a packet decodes on its own.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np

from sensord.errors import DecodeError, InputError
from sensord.model import FloatArray
from sensord.profiles._common import DEG_TO_RAD, G_M_S2, CounterUnwrapper, quantise_i16, xyz
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

# The UUID base 42d9xxxx-b725-4996-aa77-3d9249fd24ab was drawn at random for this profile.
SERVICE_UUID: Final = "42d90001-b725-4996-aa77-3d9249fd24ab"
DATA_UUID: Final = "42d90002-b725-4996-aa77-3d9249fd24ab"
CONFIG_UUID: Final = "42d90003-b725-4996-aa77-3d9249fd24ab"
STATUS_UUID: Final = "42d90004-b725-4996-aa77-3d9249fd24ab"
IDENTIFY_UUID: Final = "42d90005-b725-4996-aa77-3d9249fd24ab"

#: Accelerometer full-scale ranges (g) by range code.
ACC_RANGES_G: Final = (2.0, 4.0, 8.0, 16.0)
#: Gyroscope full-scale ranges (deg/s) by range code.
GYRO_RANGES_DPS: Final = (125.0, 250.0, 500.0, 1000.0, 2000.0)
RATES_HZ: Final = (25.0, 50.0, 100.0, 200.0, 400.0)

PACKET_TYPE_DATA: Final = 0x01
PROTOCOL_VERSION: Final = 1
HEADER: Final = struct.Struct("<BBBBI")  # type, n, ranges, flags, counter
SAMPLE_BYTES: Final = 12  # six int16
CONFIG: Final = struct.Struct("<BBBBH")  # run, acc code, gyro code, reserved, rate_hz
STATUS: Final = struct.Struct("<BBHfI")  # version, flags, reserved, actual rate, dropped
IDENTIFY: Final = struct.Struct("<H")  # how long to show itself (ms); 0 ends it
MAX_IDENTIFY_MS: Final = 60_000
MAX_SAMPLES: Final = 255  # the count is one byte
ATT_HEADER_BYTES: Final = 3  # opcode + handle of a notification
MAX_RATE_HZ: Final = 1000

STATUS_FLAG_STREAMING: Final = 0x01


def _lsb_acc_m_s2(code: int) -> float:
    """Metres per second squared per count: full scale +-range maps onto +-32768."""
    return ACC_RANGES_G[code] * G_M_S2 / 32768.0


def _lsb_gyro_rad_s(code: int) -> float:
    return GYRO_RANGES_DPS[code] * DEG_TO_RAD / 32768.0


def _range_code(value: float, table: tuple[float, ...], what: str) -> int:
    if value not in table:
        choices = ", ".join(f"{v:g}" for v in table)
        raise InputError(f"sensord profile: {what} {value:g} is not one of {choices}")
    return table.index(value)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """The configuration characteristic's value (6 bytes): what the central asks for and, read
    back, what the device applied."""

    run: bool
    acc_code: int
    gyro_code: int
    rate_hz: int

    def pack(self) -> bytes:
        return CONFIG.pack(int(self.run), self.acc_code, self.gyro_code, 0, self.rate_hz)

    @classmethod
    def unpack(cls, data: bytes) -> DeviceConfig:
        """Parses a written value the way firmware must: every field checked."""
        if len(data) != CONFIG.size:
            raise DecodeError(f"sensord config: {len(data)} bytes, expected {CONFIG.size}")
        run, acc_code, gyro_code, _reserved, rate_hz = CONFIG.unpack(data)
        if run not in (0, 1):
            raise DecodeError(f"sensord config: run byte {run} is not 0 or 1")
        if acc_code >= len(ACC_RANGES_G):
            raise DecodeError(f"sensord config: acc range code {acc_code} unknown")
        if gyro_code >= len(GYRO_RANGES_DPS):
            raise DecodeError(f"sensord config: gyro range code {gyro_code} unknown")
        if not 1 <= rate_hz <= MAX_RATE_HZ:
            raise DecodeError(f"sensord config: rate {rate_hz} Hz outside 1..{MAX_RATE_HZ}")
        return cls(bool(run), acc_code, gyro_code, rate_hz)


def identify_ms(data: bytes) -> int:
    """Parses an identify write the way firmware must: two bytes, at most a minute."""
    if len(data) != IDENTIFY.size:
        raise DecodeError(f"sensord identify: {len(data)} bytes, expected {IDENTIFY.size}")
    (duration_ms,) = IDENTIFY.unpack(data)
    if duration_ms > MAX_IDENTIFY_MS:
        raise DecodeError(f"sensord identify: {duration_ms} ms is more than {MAX_IDENTIFY_MS}")
    return int(duration_ms)


class SensordDecoder(Decoder):
    """Decodes data packets; the only state is the counter unwrapping (uint32 -> int)."""

    def __init__(self) -> None:
        self._counter = CounterUnwrapper(32)
        self._next: int | None = None

    @property
    def counter_restarts(self) -> int:
        """How often the device's counter went backwards (a device restart mid-connection)."""
        return self._counter.restarts

    def decode(self, char_uuid: str, payload: bytes) -> DecodedPacket | None:
        uuid = char_uuid.lower()
        if uuid != DATA_UUID:
            if uuid in (CONFIG_UUID, STATUS_UUID, IDENTIFY_UUID):
                return None
            raise DecodeError(f"sensord: no samples on characteristic {char_uuid}")
        if len(payload) < HEADER.size:
            raise DecodeError(f"sensord: packet of {len(payload)} bytes is shorter than its header")
        kind, n, ranges, _flags, raw_counter = HEADER.unpack_from(payload)
        if kind != PACKET_TYPE_DATA:
            raise DecodeError(f"sensord: unknown packet type 0x{kind:02x}")
        if n == 0 or len(payload) != HEADER.size + n * SAMPLE_BYTES:
            raise DecodeError(
                f"sensord: {len(payload)} bytes cannot hold the {n} samples the header announces"
            )
        acc_code, gyro_code = ranges & 0x0F, ranges >> 4
        if acc_code >= len(ACC_RANGES_G) or gyro_code >= len(GYRO_RANGES_DPS):
            raise DecodeError(f"sensord: unknown range codes 0x{ranges:02x}")
        counts = np.frombuffer(payload, dtype="<i2", offset=HEADER.size).reshape(n, 6)
        acc = counts[:, :3] * _lsb_acc_m_s2(acc_code)
        gyro = counts[:, 3:] * _lsb_gyro_rad_s(gyro_code)
        counter = self._counter.unwrap(raw_counter, self._next)
        self._next = counter + n
        return DecodedPacket(acc, gyro, counter=counter)


class SensordEmulator(Emulator):
    """A sensord-profile device: applies configuration writes, numbers and packs samples."""

    def __init__(self, acc_code: int = 3, gyro_code: int = 4) -> None:
        self._config = DeviceConfig(False, acc_code, gyro_code, 100)
        self._counter = 0
        self.dropped = 0
        self._identifies = 0
        self._identify_ms = 0

    @property
    def streaming(self) -> bool:
        return self._config.run

    @property
    def identifies(self) -> int:
        return self._identifies

    @property
    def identify_note(self) -> str:
        return f"blinking its LED for {self._identify_ms} ms"

    @property
    def rate_hz(self) -> float:
        return float(self._config.rate_hz)

    @property
    def counter(self) -> int:
        """The index the next sample will carry (uint32 on the wire)."""
        return self._counter

    def on_write(self, char_uuid: str, data: bytes) -> list[Notification]:
        uuid = char_uuid.lower()
        if uuid == IDENTIFY_UUID:
            duration_ms = identify_ms(bytes(data))
            if duration_ms > 0:  # 0 ends an indication (this emulator has none to end)
                self._identifies += 1
                self._identify_ms = duration_ms
            return []
        if uuid != CONFIG_UUID:
            raise DecodeError(f"sensord: characteristic {char_uuid} is not writable")
        asked = DeviceConfig.unpack(bytes(data))
        rates = np.asarray(RATES_HZ)
        applied = float(rates[int(np.argmin(np.abs(rates - asked.rate_hz)))])
        self._config = DeviceConfig(asked.run, asked.acc_code, asked.gyro_code, int(applied))
        if asked.run:
            self._counter = 0  # every start (or restart) numbers samples from zero
        return []

    def on_disconnect(self) -> None:
        """Firmware stops streaming when the central goes away."""
        self._config = DeviceConfig(
            False, self._config.acc_code, self._config.gyro_code, self._config.rate_hz
        )

    def read(self, char_uuid: str) -> bytes | None:
        uuid = char_uuid.lower()
        if uuid == CONFIG_UUID:
            return self._config.pack()
        if uuid == STATUS_UUID:
            flags = STATUS_FLAG_STREAMING if self.streaming else 0
            return STATUS.pack(PROTOCOL_VERSION, flags, 0, self.rate_hz, self.dropped)
        return None

    def samples_per_notification(self, mtu: int) -> int:
        return max(1, min(MAX_SAMPLES, (mtu - ATT_HEADER_BYTES - HEADER.size) // SAMPLE_BYTES))

    def encode(self, acc_m_s2: FloatArray, gyro_rad_s: FloatArray) -> list[Notification]:
        acc, gyro = xyz("acc_m_s2", acc_m_s2), xyz("gyro_rad_s", gyro_rad_s)
        if acc.shape != gyro.shape:
            raise ValueError(f"acc {acc.shape} and gyro {gyro.shape} differ")
        out: list[Notification] = []
        ranges = self._config.acc_code | (self._config.gyro_code << 4)
        acc_lsb = _lsb_acc_m_s2(self._config.acc_code)
        gyro_lsb = _lsb_gyro_rad_s(self._config.gyro_code)
        for start in range(0, acc.shape[0], MAX_SAMPLES):
            stop = min(start + MAX_SAMPLES, acc.shape[0])
            counts = np.hstack(
                (quantise_i16(acc[start:stop], acc_lsb), quantise_i16(gyro[start:stop], gyro_lsb))
            )
            header = HEADER.pack(
                PACKET_TYPE_DATA, stop - start, ranges, 0, self._counter & 0xFFFFFFFF
            )
            self._counter += stop - start
            out.append(Notification(DATA_UUID, header + counts.tobytes()))
        return out


class SensordProfile(Profile):
    """The open sensord profile; ``acc_range_g`` and ``gyro_range_dps`` are what ``start``
    configures (the decoder reads the ranges from each packet, so it needs neither)."""

    id: ClassVar[str] = "sensord"
    title: ClassVar[str] = "sensord open GATT profile (DIY nRF52/ESP32 wearables)"
    service_uuid: ClassVar[str] = SERVICE_UUID
    name_prefixes: ClassVar[tuple[str, ...]] = ("sensord",)
    notify_uuids: ClassVar[tuple[str, ...]] = (DATA_UUID,)
    rates_hz: ClassVar[tuple[float, ...]] = RATES_HZ
    default_rate_hz: ClassVar[float] = 100.0
    has_battery_service: ClassVar[bool] = True
    has_device_information: ClassVar[bool] = True

    def __init__(self, acc_range_g: float = 16.0, gyro_range_dps: float = 2000.0) -> None:
        self.acc_code = _range_code(acc_range_g, ACC_RANGES_G, "acc range (g)")
        self.gyro_code = _range_code(gyro_range_dps, GYRO_RANGES_DPS, "gyro range (deg/s)")

    def gatt(self) -> tuple[ServiceSpec, ...]:
        stopped = DeviceConfig(False, self.acc_code, self.gyro_code, int(self.default_rate_hz))
        status = STATUS.pack(PROTOCOL_VERSION, 0, 0, self.default_rate_hz, 0)
        return (
            ServiceSpec(
                SERVICE_UUID,
                (
                    CharacteristicSpec(DATA_UUID, ("notify",), b"", "IMU samples"),
                    CharacteristicSpec(
                        CONFIG_UUID, ("read", "write"), stopped.pack(), "Run, ranges and rate"
                    ),
                    CharacteristicSpec(STATUS_UUID, ("read",), status, "Device status"),
                    CharacteristicSpec(IDENTIFY_UUID, ("write",), b"", "Identify (ms)"),
                ),
            ),
        )

    def quantisation(self) -> Quantisation:
        return Quantisation(
            acc_step_m_s2=_lsb_acc_m_s2(self.acc_code),
            gyro_step_rad_s=_lsb_gyro_rad_s(self.gyro_code),
            acc_full_scale_m_s2=ACC_RANGES_G[self.acc_code] * G_M_S2,
            gyro_full_scale_rad_s=GYRO_RANGES_DPS[self.gyro_code] * DEG_TO_RAD,
        )

    def _config(self, run: bool, rate_hz: float) -> GattWrite:
        rate = int(self.nearest_rate(rate_hz))
        return GattWrite(CONFIG_UUID, DeviceConfig(run, self.acc_code, self.gyro_code, rate).pack())

    def start(self, rate_hz: float) -> list[GattWrite]:
        return [self._config(True, rate_hz)]

    def stop(self) -> list[GattWrite]:
        return [self._config(False, self.default_rate_hz)]

    def identify(self, duration_s: float) -> IdentifyPlan:
        """One write: the firmware blinks (or vibrates) for the time asked and then stops."""
        duration_ms = max(1, min(MAX_IDENTIFY_MS, round(duration_s * 1000.0)))
        return IdentifyPlan(
            (GattWrite(IDENTIFY_UUID, IDENTIFY.pack(duration_ms)),), duration_ms / 1000.0,
            "blinking its LED",
        )

    def decoder(self, rate_hz: float) -> Decoder:
        del rate_hz  # every packet carries its counter and ranges
        return SensordDecoder()

    def emulator(self) -> Emulator:
        return SensordEmulator(self.acc_code, self.gyro_code)
