"""The ``movesense`` profile: the Movesense GATT SensorData Protocol (GSP) with ``/Meas/IMU6``.

Where the layout comes from: Movesense's "GATT SensorData Protocol specification" (GD-77, on
movesense.com: service 34802252-7185-4d5d-b431-630e7050e8f0, command characteristic
34800001-..., data characteristic 34800002-...; commands ``[command, reference, data]`` with
HELLO = 0, SUBSCRIBE = 1 (data: the resource path), UNSUBSCRIBE = 2; notifications ``[type,
reference, data]`` with COMMAND_RESULT = 1, DATA = 2, DATA_PART2 = 3), the ``gatt_sensordata_app``
sample firmware (the HELLO answer, the 507 "insufficient storage" answer ``01 FB`` when no
subscription slot is free, every subscription dropped on disconnect) and its Python client
sample (a DATA_PART2 body is appended to the DATA body without its type and reference bytes;
IMU data is a uint32 millisecond timestamp of the first sample, then all the accelerometer
samples, then all the gyroscope samples, each x y z float32 little-endian).

Units on the wire: acceleration in m/s^2, angular rate in deg/s. Rates: 13, 26, 52, 104, 208 and
416 Hz. A packet that does not fit one notification is split into DATA and DATA_PART2 (and
DATA_PART3 = 4, which later firmware uses for the largest packets); the decoder joins them. The
device's subscription slots are few and a leaked one answers 507 until a reboot, so ``start``
first releases the reference it is about to use and ``stop`` always unsubscribes.

No identify: the sensor's LED is a Whiteboard resource that takes a PUT (``/Ui/Ind/Visual``,
``/Component/Led``), and GSP carries only HELLO, SUBSCRIBE and UNSUBSCRIBE (later sample
firmware adds log fetching), so a GSP central cannot light it. A custom firmware could add a
command for it; the sample firmware has none.
"""

from __future__ import annotations

import struct
from typing import ClassVar, Final

import numpy as np

from sensord.errors import DecodeError
from sensord.model import FloatArray
from sensord.profiles._common import DEG_TO_RAD, G_M_S2, CounterUnwrapper, xyz
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

SERVICE_UUID: Final = "34802252-7185-4d5d-b431-630e7050e8f0"
COMMAND_UUID: Final = "34800001-7185-4d5d-b431-630e7050e8f0"
DATA_UUID: Final = "34800002-7185-4d5d-b431-630e7050e8f0"

CMD_HELLO: Final = 0
CMD_SUBSCRIBE: Final = 1
CMD_UNSUBSCRIBE: Final = 2
RESP_COMMAND_RESULT: Final = 1
RESP_DATA: Final = 2
RESP_DATA_PART2: Final = 3
RESP_DATA_PART3: Final = 4

HELLO_REFERENCE: Final = 1
#: The client-chosen reference byte of our IMU6 subscription (never 0).
IMU_REFERENCE: Final = 99
RATES_HZ: Final = (13.0, 26.0, 52.0, 104.0, 208.0, 416.0)
IMU_PATH_PREFIX: Final = "/Meas/IMU6/"

TIMESTAMP_BYTES: Final = 4
SAMPLE_BYTES: Final = 24  # acc xyz + gyro xyz, float32 each
HEADER_BYTES: Final = 2  # type, reference
ATT_HEADER_BYTES: Final = 3
MAX_PARTS: Final = 3  # DATA, DATA_PART2, DATA_PART3
#: Samples the sensor batches per packet: it sends about 13 packets per second at any rate.
SAMPLES_PER_PACKET: Final = {rate: max(1, round(rate / 13.0)) for rate in RATES_HZ}
MAX_BODY_BYTES: Final = TIMESTAMP_BYTES + SAMPLE_BYTES * 64
SUBSCRIPTION_SLOTS: Final = 4
STATUS_INSUFFICIENT_STORAGE: Final = 507
STATUS_NOT_FOUND: Final = 404

ACC_FULL_SCALE_M_S2: Final = 16.0 * G_M_S2
GYRO_FULL_SCALE_RAD_S: Final = 2000.0 * DEG_TO_RAD


def _ulp32(magnitude: float) -> float:
    """One float32 unit in the last place at ``magnitude`` (an upper bound of the spacing)."""
    return float(np.spacing(np.float32(magnitude)))


def subscribe(rate_hz: float) -> bytes:
    """The SUBSCRIBE command for ``/Meas/IMU6/<rate>``."""
    path = f"{IMU_PATH_PREFIX}{int(rate_hz)}".encode("ascii")
    return bytes([CMD_SUBSCRIBE, IMU_REFERENCE]) + path


class MovesenseDecoder(Decoder):
    """Joins DATA / DATA_PART2 / DATA_PART3 into packets and decodes IMU6 bodies.

    State: the packet being assembled and the unwrapping of the uint32 millisecond timestamp.
    GSP does not say how many parts a packet has, so completeness is inferred: a body must be a
    timestamp plus whole samples; a continuation shorter than the first part ends the packet (the
    device fills every part but the last); a body that is whole but could still continue (its
    last part was full, or it is a single DATA smaller than the sensor's batch for the rate) is
    held and emitted when the next DATA shows it was complete. The held case costs one packet of
    latency and never happens with the sensor's own batch sizes. ``last_result`` keeps the last
    COMMAND_RESULT (reference, status or None) so the link can tell a 507 from silence.
    """

    def __init__(self, rate_hz: float = 104.0) -> None:
        nearest = min(RATES_HZ, key=lambda rate: abs(rate - rate_hz))
        self._batch = SAMPLES_PER_PACKET[nearest]
        self._pending: bytes | None = None
        self._parts = 0
        self._first_len = 0
        self._time_ms = CounterUnwrapper(32)
        self.last_result: tuple[int, int | None] | None = None
        self.dropped_fragments = 0

    def decode(self, char_uuid: str, payload: bytes) -> DecodedPacket | None:
        uuid = char_uuid.lower()
        if uuid != DATA_UUID:
            raise DecodeError(f"movesense: no samples on characteristic {char_uuid}")
        if len(payload) < HEADER_BYTES:
            raise DecodeError(f"movesense: notification of {len(payload)} bytes")
        kind, reference = payload[0], payload[1]
        body = bytes(payload[HEADER_BYTES:])
        if kind == RESP_COMMAND_RESULT:
            status = int.from_bytes(body, "big") if len(body) == 2 else None
            self.last_result = (reference, status)
            return None
        if reference != IMU_REFERENCE:
            return None  # another client's stream on the same sensor
        if kind == RESP_DATA:
            return self._on_first_part(body)
        if kind in (RESP_DATA_PART2, RESP_DATA_PART3):
            return self._on_continuation(kind, body)
        raise DecodeError(f"movesense: unknown notification type {kind}")

    @staticmethod
    def _whole(body: bytes) -> int:
        """The number of samples in ``body`` if it is a whole IMU6 body, else 0."""
        samples_bytes = len(body) - TIMESTAMP_BYTES
        if samples_bytes < SAMPLE_BYTES or samples_bytes % SAMPLE_BYTES:
            return 0
        return samples_bytes // SAMPLE_BYTES

    def _on_first_part(self, body: bytes) -> DecodedPacket | None:
        flushed: DecodedPacket | None = None
        if self._pending is not None:
            if self._whole(self._pending):
                flushed = self._finish(self._pending)  # held, and no continuation came
            else:
                self.dropped_fragments += 1  # its continuation never came
        self._pending, self._parts, self._first_len = None, 1, len(body)
        if flushed is None and self._whole(body) >= self._batch:
            return self._finish(body)
        if len(body) > MAX_BODY_BYTES:
            raise DecodeError(f"movesense: {len(body)} bytes are not an IMU6 packet")
        self._pending = body
        return flushed

    def _on_continuation(self, kind: int, body: bytes) -> DecodedPacket | None:
        if self._pending is None or kind != RESP_DATA + self._parts:
            self._pending = None
            raise DecodeError(f"movesense: continuation part {kind - 1} out of order")
        self._pending += body
        self._parts += 1
        n = self._whole(self._pending)
        room = (MAX_PARTS * self._first_len - TIMESTAMP_BYTES) // SAMPLE_BYTES
        if n and (
            len(body) < self._first_len or n >= min(self._batch, room) or self._parts >= MAX_PARTS
        ):
            pending, self._pending = self._pending, None
            return self._finish(pending)
        if self._parts >= MAX_PARTS or len(self._pending) > MAX_BODY_BYTES:
            self._pending = None
            raise DecodeError("movesense: continuation parts do not make an IMU6 packet")
        return None

    def _finish(self, body: bytes) -> DecodedPacket:
        n = self._whole(body)
        timestamp_ms = int.from_bytes(body[:TIMESTAMP_BYTES], "little")
        values = np.frombuffer(body, dtype="<f4", offset=TIMESTAMP_BYTES).astype(np.float64)
        acc = values[: 3 * n].reshape(n, 3)
        gyro = values[3 * n :].reshape(n, 3) * DEG_TO_RAD
        if not (np.all(np.isfinite(acc)) and np.all(np.isfinite(gyro))):
            raise DecodeError("movesense: non-finite sample values")
        time_ms = self._time_ms.unwrap(timestamp_ms)
        return DecodedPacket(acc, gyro, device_time_s=time_ms / 1000.0)


class MovesenseEmulator(Emulator):
    """A Movesense sensor's GSP side: HELLO, subscription slots, split IMU6 packets.

    ``leak_subscriptions`` keeps subscriptions across a disconnect (the firmware behaviour that
    makes sensors answer 507), for fault tests; by default they are dropped on disconnect as the
    sample firmware does.
    """

    def __init__(self, boot_ms: int = 0, leak_subscriptions: bool = False) -> None:
        self._slots: dict[int, str] = {}
        self._sample_index = 0
        self._boot_ms = boot_ms
        self._mtu = 161  # what the sensor negotiates unless the central asks for more
        self.leak_subscriptions = leak_subscriptions
        self._last_rate_hz = MovesenseProfile.default_rate_hz

    @property
    def _imu_rate_hz(self) -> float | None:
        for path in self._slots.values():
            if path.startswith(IMU_PATH_PREFIX):
                return float(path.removeprefix(IMU_PATH_PREFIX))
        return None

    @property
    def streaming(self) -> bool:
        return self._imu_rate_hz is not None

    @property
    def rate_hz(self) -> float:
        """The subscribed rate; before any subscription (or after), the last one asked for."""
        rate = self._imu_rate_hz
        return self._last_rate_hz if rate is None else rate

    def on_write(self, char_uuid: str, data: bytes) -> list[Notification]:
        if char_uuid.lower() != COMMAND_UUID:
            raise DecodeError(f"movesense: characteristic {char_uuid} is not writable")
        if len(data) < HEADER_BYTES:
            raise DecodeError(f"movesense: command of {len(data)} bytes")
        command, reference = data[0], data[1]
        if command == CMD_HELLO:
            return [Notification(DATA_UUID, bytes([RESP_COMMAND_RESULT, reference]) + b"Hello")]
        if command == CMD_SUBSCRIBE:
            return self._subscribe(reference, bytes(data[HEADER_BYTES:]))
        if command == CMD_UNSUBSCRIBE:
            self._slots.pop(reference, None)
            return []
        raise DecodeError(f"movesense: unknown command {command}")

    def _subscribe(self, reference: int, path_bytes: bytes) -> list[Notification]:
        if len(self._slots) >= SUBSCRIPTION_SLOTS:
            return [self._result(reference, STATUS_INSUFFICIENT_STORAGE)]
        path = path_bytes.decode("ascii", errors="replace")
        rate = path.removeprefix(IMU_PATH_PREFIX)
        if not path.startswith(IMU_PATH_PREFIX) or not rate.isdigit() or (
            float(rate) not in RATES_HZ
        ):
            return [self._result(reference, STATUS_NOT_FOUND)]
        if not self.streaming:
            self._sample_index = 0
        self._slots[reference] = path
        self._last_rate_hz = float(rate)
        return []

    @staticmethod
    def _result(reference: int, status: int) -> Notification:
        return Notification(
            DATA_UUID, bytes([RESP_COMMAND_RESULT, reference]) + status.to_bytes(2, "big")
        )

    def on_disconnect(self) -> None:
        if not self.leak_subscriptions:
            self._slots.clear()

    @property
    def fixed_batch(self) -> bool:
        return True

    def samples_per_notification(self, mtu: int) -> int:
        """Samples in one packet: the sensor's batch for the rate, fewer if three parts of this
        MTU cannot carry it. Send exactly this many per ``encode`` (see ``fixed_batch``)."""
        self._mtu = mtu
        batch = SAMPLES_PER_PACKET.get(self.rate_hz, 1)
        fit = (MAX_PARTS * (mtu - ATT_HEADER_BYTES - HEADER_BYTES) - TIMESTAMP_BYTES) // (
            SAMPLE_BYTES
        )
        return max(1, min(batch, fit))

    def encode(self, acc_m_s2: FloatArray, gyro_rad_s: FloatArray) -> list[Notification]:
        acc, gyro = xyz("acc_m_s2", acc_m_s2), xyz("gyro_rad_s", gyro_rad_s)
        if acc.shape != gyro.shape:
            raise ValueError(f"acc {acc.shape} and gyro {gyro.shape} differ")
        rate = self.rate_hz
        n = acc.shape[0]
        timestamp_ms = (self._boot_ms + round(self._sample_index * 1000.0 / rate)) & 0xFFFFFFFF
        self._sample_index += n
        acc_out = np.clip(acc, -ACC_FULL_SCALE_M_S2, ACC_FULL_SCALE_M_S2)
        gyro_out = np.clip(gyro, -GYRO_FULL_SCALE_RAD_S, GYRO_FULL_SCALE_RAD_S) / DEG_TO_RAD
        body = struct.pack("<I", timestamp_ms) + np.concatenate(
            (acc_out.reshape(-1), gyro_out.reshape(-1))
        ).astype("<f4").tobytes()
        part_bytes = max(1, self._mtu - ATT_HEADER_BYTES - HEADER_BYTES)
        out: list[Notification] = []
        for index, start in enumerate(range(0, len(body), part_bytes)):
            kind = RESP_DATA + index
            out.append(
                Notification(
                    DATA_UUID,
                    bytes([kind, IMU_REFERENCE]) + body[start : start + part_bytes],
                )
            )
        return out


class MovesenseProfile(Profile):
    """Movesense sensors over GSP (sample firmware ``gatt_sensordata_app`` or compatible)."""

    id: ClassVar[str] = "movesense"
    title: ClassVar[str] = "Movesense (GATT SensorData Protocol, IMU6)"
    service_uuid: ClassVar[str] = SERVICE_UUID
    name_prefixes: ClassVar[tuple[str, ...]] = ("Movesense",)
    notify_uuids: ClassVar[tuple[str, ...]] = (DATA_UUID,)
    rates_hz: ClassVar[tuple[float, ...]] = RATES_HZ
    default_rate_hz: ClassVar[float] = 104.0
    # Battery level is a Movesense API resource (/System/Energy/Level), not 0x180F.
    has_battery_service: ClassVar[bool] = False
    has_device_information: ClassVar[bool] = True
    identify_unsupported: ClassVar[str] = (
        "the LED takes a Whiteboard PUT, which the GATT SensorData Protocol cannot send "
        "(it only subscribes)"
    )

    def gatt(self) -> tuple[ServiceSpec, ...]:
        return (
            ServiceSpec(
                SERVICE_UUID,
                (
                    CharacteristicSpec(COMMAND_UUID, ("write",), b"", "GSP commands"),
                    CharacteristicSpec(DATA_UUID, ("notify",), b"", "GSP data"),
                ),
            ),
        )

    def start(self, rate_hz: float) -> list[GattWrite]:
        rate = self.nearest_rate(rate_hz)
        return [
            GattWrite(COMMAND_UUID, bytes([CMD_HELLO, HELLO_REFERENCE])),
            # Release a subscription a dropped connection may have left on our reference.
            GattWrite(COMMAND_UUID, bytes([CMD_UNSUBSCRIBE, IMU_REFERENCE])),
            GattWrite(COMMAND_UUID, subscribe(rate)),
        ]

    def stop(self) -> list[GattWrite]:
        return [GattWrite(COMMAND_UUID, bytes([CMD_UNSUBSCRIBE, IMU_REFERENCE]))]

    def decoder(self, rate_hz: float) -> Decoder:
        return MovesenseDecoder(rate_hz)

    def emulator(self) -> Emulator:
        return MovesenseEmulator()

    def quantisation(self) -> Quantisation:
        return Quantisation(
            acc_step_m_s2=_ulp32(ACC_FULL_SCALE_M_S2),
            gyro_step_rad_s=_ulp32(2000.0) * DEG_TO_RAD,
            acc_full_scale_m_s2=ACC_FULL_SCALE_M_S2,
            gyro_full_scale_rad_s=GYRO_FULL_SCALE_RAD_S,
        )
