"""What a wearable protocol is, independent of any Bluetooth stack.

A profile is pure: it describes the GATT layout, the writes that start and stop the stream, a
decoder (notification bytes -> samples in SI units) and, for the virtual wearable, an emulator
(the device side: commands in, notification bytes out). The BLE link and the virtual wearable are
generic over profiles; nothing outside ``profiles/`` knows a byte layout.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from sensord.model import FloatArray

CharProperty = Literal["read", "write", "write-without-response", "notify", "indicate"]


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    """One characteristic of the device's GATT table (UUIDs lower-case, 128-bit form)."""

    uuid: str
    properties: tuple[CharProperty, ...]
    initial_value: bytes = b""
    description: str = ""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One primary service of the device's GATT table."""

    uuid: str
    characteristics: tuple[CharacteristicSpec, ...]


@dataclass(frozen=True, slots=True)
class GattWrite:
    """A write the central performs (to start or stop streaming, or to configure)."""

    char_uuid: str
    data: bytes
    response: bool = True


@dataclass(frozen=True, slots=True)
class IdentifyPlan:
    """How a device shows itself so a person can tell which wearable is which (left or right).

    ``writes`` start the indication; ``what`` says what the device does ("blinking its LED").
    Devices whose indication is a setting that stays until changed (the Thingy:52 stores its LED
    mode) name in ``saved_uuid`` the characteristic the link reads before the writes; after
    ``duration_s`` the link sends ``Profile.identify_end(saved)`` to put it back. Devices that
    time the indication themselves have no ``saved_uuid`` and nothing to end.
    """

    writes: tuple[GattWrite, ...]
    duration_s: float
    what: str
    saved_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class DecodedPacket:
    """The samples of one notification, already in SI units.

    ``acc_m_s2`` and ``gyro_rad_s`` have shape (n, 3). ``counter`` is the device's running index of
    the first sample (unwrapped by the decoder, so it only grows) when the protocol carries one.
    ``device_time_s`` is the device's clock at the first sample when the protocol carries a
    timestamp. The link rebuilds sample times from whichever it has and the nominal rate.
    """

    acc_m_s2: FloatArray
    gyro_rad_s: FloatArray
    counter: int | None = None
    device_time_s: float | None = None

    def __len__(self) -> int:
        return int(self.acc_m_s2.shape[0])


@dataclass(frozen=True, slots=True)
class Quantisation:
    """How exactly a profile carries samples, so tests and the link know what "equal" means.

    ``*_step_*`` is the value of one count (or, for float formats, an upper bound of one unit in
    the last place within full scale): a round trip through the emulator and the decoder is off by
    at most one step (half a step for devices that round, a whole one for those that truncate).
    ``*_full_scale_*`` is the magnitude up to which values pass unclipped.
    """

    acc_step_m_s2: float
    gyro_step_rad_s: float
    acc_full_scale_m_s2: float
    gyro_full_scale_rad_s: float


@dataclass(frozen=True, slots=True)
class Notification:
    """Bytes the device sends on one characteristic (what the emulator produces)."""

    char_uuid: str
    data: bytes


class Decoder(ABC):
    """Turns one stream's notifications into packets. Stateful only where the protocol is
    (sequence unwrapping, frames split over two notifications)."""

    @abstractmethod
    def decode(self, char_uuid: str, payload: bytes) -> DecodedPacket | None:
        """Decodes one notification. ``None`` when it carried no samples (a fragment awaiting
        its second half, a command response). Raises ``DecodeError`` on malformed bytes, and
        never any other exception, whatever the bytes."""


class Emulator(ABC):
    """The device side of the protocol, for the virtual wearable: it reacts to the central's
    writes and packs samples into notifications the way the real device does."""

    @abstractmethod
    def on_write(self, char_uuid: str, data: bytes) -> list[Notification]:
        """Applies a write from the central; returns any response notifications.

        Raises ``DecodeError`` when the real device would reject the write (wrong length, a value
        out of range): the virtual wearable then answers with an ATT error instead."""

    @property
    def identifies(self) -> int:
        """How often the central made the device show itself (LED, vibration): what the virtual
        wearable reports. Always 0 for devices that have no way to."""
        return 0

    @property
    def identify_note(self) -> str:
        """What the device showed the last time it was identified, for the wearable's log."""
        return ""

    def on_disconnect(self) -> None:
        """The central went away: devices that stop streaming then override this."""
        return  # the default keeps state: not every device resets on disconnect

    def read(self, char_uuid: str) -> bytes | None:
        """The current value of a readable characteristic, when it depends on what the central
        wrote (a configuration read back). ``None``: serve the GATT table's stored value."""
        del char_uuid
        return None

    @property
    @abstractmethod
    def streaming(self) -> bool:
        """True once the central has started the stream (and not stopped it). Devices that send
        samples whenever notifications are enabled, with no start command (WitMotion, Thingy),
        are always streaming: the subscription alone gates their notifications."""

    @property
    @abstractmethod
    def rate_hz(self) -> float:
        """The sample rate the central asked for (or the device default)."""

    @abstractmethod
    def samples_per_notification(self, mtu: int) -> int:
        """How many samples fit one notification at this ATT MTU."""

    @property
    def fixed_batch(self) -> bool:
        """True when the device always sends ``samples_per_notification`` samples per packet
        (Movesense): its decoder then expects that many, and ``encode`` should get exactly that
        many (a shorter last block decodes one packet late)."""
        return False

    @abstractmethod
    def encode(self, acc_m_s2: FloatArray, gyro_rad_s: FloatArray) -> list[Notification]:
        """Packs consecutive samples (shape (n, 3) each, n <= samples_per_notification) into the
        notification(s) the device would send, quantised as the device quantises. Devices that
        split a packet by the MTU use the MTU last given to ``samples_per_notification``."""


class Profile(ABC):
    """A wearable protocol. Subclasses fill the class variables and the factory methods."""

    id: ClassVar[str]
    title: ClassVar[str]
    #: The service a scan recognises the device by (advertised, or at least present).
    service_uuid: ClassVar[str]
    #: Other service UUIDs whose presence in a scan identifies the device (some devices advertise
    #: a different service than the one that carries the data).
    scan_uuids: ClassVar[tuple[str, ...]] = ()
    #: Local-name prefixes that also identify the device in a scan (compared case-insensitively).
    name_prefixes: ClassVar[tuple[str, ...]] = ()
    #: Characteristics the link subscribes to.
    notify_uuids: ClassVar[tuple[str, ...]]
    #: Sample rates the device supports, ascending; the link picks the nearest.
    rates_hz: ClassVar[tuple[float, ...]]
    default_rate_hz: ClassVar[float] = 100.0
    #: Whether the real device has the standard Battery Service (0x180F). The virtual wearable
    #: adds it for every profile; a link need not look for it when this is false.
    has_battery_service: ClassVar[bool] = True
    #: Whether the real device has the standard Device Information Service (0x180A).
    has_device_information: ClassVar[bool] = True
    #: Why the device cannot show itself, for profiles whose ``identify`` gives None.
    identify_unsupported: ClassVar[str] = "the device has no documented way to show itself"

    @abstractmethod
    def gatt(self) -> tuple[ServiceSpec, ...]:
        """The device's own services (Battery and Device Information are added separately)."""

    @abstractmethod
    def start(self, rate_hz: float) -> list[GattWrite]:
        """Writes that start the stream at ``rate_hz``, after the link has subscribed."""

    @abstractmethod
    def stop(self) -> list[GattWrite]:
        """Writes that stop the stream and release device resources (sent before unsubscribe)."""

    @abstractmethod
    def decoder(self, rate_hz: float) -> Decoder:
        """A fresh decoder for one connection."""

    @abstractmethod
    def emulator(self) -> Emulator:
        """A fresh device-side emulator for one virtual wearable."""

    def identify(self, duration_s: float) -> IdentifyPlan | None:
        """How to make the device show itself for about ``duration_s`` seconds (blink its LED,
        vibrate); None when it has no way to (``identify_unsupported`` says why)."""
        del duration_s
        return None

    def identify_end(self, saved: bytes | None) -> list[GattWrite]:
        """Writes that end an identify and put back what the device showed before: ``saved``
        is the value of the plan's ``saved_uuid`` read before it started (None if unread)."""
        del saved
        return []

    def quantisation(self) -> Quantisation:
        """The resolution and full scale samples have on the wire (see ``Quantisation``)."""
        raise NotImplementedError(f"profile {self.id} does not state its quantisation")

    def nearest_rate(self, rate_hz: float) -> float:
        """The supported rate closest to ``rate_hz``."""
        rates = np.asarray(self.rates_hz)
        return float(rates[int(np.argmin(np.abs(rates - rate_hz)))])
