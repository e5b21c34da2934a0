"""Adapters: which Bluetooth stack bleak's API runs on (CONTRACTS.md section 5).

``hci0``-style names are bleak on BlueZ; ``bumble:TRANSPORT`` is bleak's API on the bumble
backend in ``sensord.virtual`` (``bumble:tcp-client:127.0.0.1:9000`` reaches a virtual wearable
in another process, ``bumble:usb:0`` drives a USB dongle without BlueZ). An adapter only
contributes the keyword arguments ``BleakScanner`` and ``BleakClient`` are built with: the code
above the bleak calls is the same for every adapter.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Final

from bleak.exc import BleakError

from sensord.errors import InputError, LinkError

if TYPE_CHECKING:
    from sensord.virtual.central import BumbleCentral

logger = logging.getLogger(__name__)

BUMBLE_PREFIX: Final = "bumble:"
_HCI_RE: Final = re.compile(r"^hci\d+$")


class Adapter(ABC):
    """One Bluetooth adapter, shared by every scanner and link that uses it."""

    name: str

    @abstractmethod
    async def ensure(self) -> None:
        """Makes the adapter usable (opening or re-opening it); ``LinkError`` if it cannot."""

    @abstractmethod
    def scanner_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``BleakScanner``."""

    @abstractmethod
    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``BleakClient``."""

    async def close(self) -> None:
        """Releases the adapter (a no-op for BlueZ, which owns it)."""
        return

    async def __aenter__(self) -> Adapter:
        await self.ensure()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class BlueZAdapter(Adapter):
    """bleak's own backend on Linux (BlueZ over D-Bus), on adapter ``hciN``."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def ensure(self) -> None:
        return  # BlueZ reports a missing adapter when scanning starts; the link retries then

    def scanner_kwargs(self) -> dict[str, Any]:
        return {"bluez": {"adapter": self.name}}

    def client_kwargs(self) -> dict[str, Any]:
        return {"bluez": {"adapter": self.name}}


class BumbleAdapter(Adapter):
    """bleak's API on sensord's bumble backend. ``transport`` is a bumble transport name; a
    lost transport (the wearable process exited) is re-opened by the next ``ensure``."""

    def __init__(self, transport: str, central: BumbleCentral | None = None) -> None:
        self.name = f"{BUMBLE_PREFIX}{transport}"
        self.transport = transport
        self._central = central
        self._owned = central is None

    @classmethod
    def from_central(cls, central: BumbleCentral, name: str = "local") -> BumbleAdapter:
        """An adapter on an already open ``BumbleCentral`` (in-process virtual radio)."""
        return cls(name, central)

    @property
    def central(self) -> BumbleCentral:
        """The open ``sensord.virtual.central.BumbleCentral``."""
        if self._central is None:
            raise LinkError(f"adapter {self.name} is not open")
        return self._central

    async def ensure(self) -> None:
        from sensord.virtual.central import BumbleCentral  # noqa: PLC0415 - bumble is heavy

        if self._central is not None and self._central.usable:
            return
        if not self._owned:
            raise LinkError(f"adapter {self.name}: the bumble adapter was closed or lost")
        if self._central is not None:
            await self._central.close()
            self._central = None
        try:
            self._central = await BumbleCentral.open(self.transport)
        except BleakError as exc:
            raise LinkError(
                f"cannot open adapter {self.name}: {exc}; is the virtual wearable "
                "(`sensord wearable --listen ...`) running?"
            ) from exc
        logger.info("adapter %s open", self.name)

    def scanner_kwargs(self) -> dict[str, Any]:
        from sensord.virtual.backend import BumbleScanner  # noqa: PLC0415

        return {"backend": BumbleScanner, "bumble": self.central}

    def client_kwargs(self) -> dict[str, Any]:
        from sensord.virtual.backend import BumbleClient  # noqa: PLC0415

        return {"backend": BumbleClient, "bumble": self.central}

    async def close(self) -> None:
        if self._owned and self._central is not None:
            await self._central.close()
            self._central = None


def parse_adapter(name: str) -> Adapter:
    """The adapter a ``--adapter`` value or ``ble.adapter`` names; ``InputError`` if neither
    ``hciN`` nor ``bumble:TRANSPORT``."""
    text = name.strip()
    if text.startswith(BUMBLE_PREFIX):
        transport = text[len(BUMBLE_PREFIX):]
        if not transport:
            raise InputError(
                "adapter 'bumble:' needs a transport, e.g. bumble:tcp-client:HOST:PORT"
            )
        return BumbleAdapter(transport)
    if _HCI_RE.match(text):
        return BlueZAdapter(text)
    raise InputError(
        f"unknown adapter {name!r}: use an hci name (hci0) or bumble:TRANSPORT "
        "(bumble:tcp-client:127.0.0.1:9000)"
    )


class AdapterPool:
    """One ``Adapter`` per name, shared by every link that uses it (two wearables on ``hci0``,
    or on one ``bumble:tcp-client:...``, must share one adapter, as they share the radio)."""

    def __init__(self) -> None:
        self._adapters: dict[str, Adapter] = {}

    def get(self, name: str) -> Adapter:
        """The adapter called ``name`` (``InputError`` if the name is malformed)."""
        key = name.strip()
        if key not in self._adapters:
            self._adapters[key] = parse_adapter(key)
        return self._adapters[key]

    async def close(self) -> None:
        for adapter in self._adapters.values():
            await adapter.close()
        self._adapters.clear()
