"""The virtual radio over TCP: other processes reach the virtual wearables as through a dongle.

Each TCP client gets its own emulated controller on the wearables' ``LocalLink`` and speaks HCI
(H4 framing) to it, exactly as a host speaks to a USB dongle; bleak's API on the bumble backend
(``--adapter bumble:tcp-client:HOST:PORT``) is such a host. Several clients may be connected at
once (a ``scan`` while a ``record`` runs). When a client goes away its controller leaves the
link like a radio that lost power: its connections end (the wearables see a supervision
timeout and advertise again), so the next client finds them free.

bumble's own ``tcp-server`` transport serves one client through one controller that outlives
the client, which would leave a wearable connected to a central that no longer exists.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Final

from bumble.link import LocalLink
from bumble.transport.common import StreamPacketSource

from sensord.errors import InputError, LinkError
from sensord.virtual.controller import VirtualController

logger = logging.getLogger(__name__)

_LISTEN_RE: Final = re.compile(r"^tcp-server:(?P<host>[^:]+|\[[^\]]+\]|_):(?P<port>\d+)$")


def parse_listen(spec: str) -> tuple[str | None, int]:
    """``tcp-server:HOST:PORT`` -> (host, port); ``_`` as host means every interface."""
    match = _LISTEN_RE.match(spec.strip())
    if match is None:
        raise InputError(
            f"cannot listen on {spec!r}: use tcp-server:HOST:PORT (e.g. tcp-server:127.0.0.1:9000)"
        )
    host = match.group("host").strip("[]")
    port = int(match.group("port"))
    if port > 65535:
        raise InputError(f"port {port} is out of range")
    return (None if host == "_" else host), port


class _Sink:
    """Where a controller sends HCI packets: the client's socket."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def on_packet(self, packet: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(packet)


class _HciClient(asyncio.Protocol):
    """One TCP client and the controller it drives."""

    def __init__(self, server: HciServer) -> None:
        self.server = server
        self.source = StreamPacketSource()
        self.controller: VirtualController | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.server.clients += 1
        name = f"hci-client-{self.server.clients}"
        controller = VirtualController(name, self.server.link)
        controller.host = _Sink(transport)
        self.source.set_packet_sink(controller)
        self.controller = controller
        self.server.active.add(self)
        logger.info("virtual radio: %s connected from %s", name,
                    transport.get_extra_info("peername"))

    def data_received(self, data: bytes) -> None:
        self.source.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.active.discard(self)
        if self.controller is not None:
            logger.info("virtual radio: %s left", self.controller.name)
            self.controller.detach()
            self.controller.host = None


class HciServer:
    """Serves ``link`` to HCI hosts over TCP. ``port`` 0 picks a free port (see ``port``)."""

    def __init__(self, link: LocalLink, host: str | None, port: int) -> None:
        self.link = link
        self.host = host
        self.requested_port = port
        self.clients = 0
        self.active: set[_HciClient] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: _HciClient(self), self.host, self.requested_port
            )
        except OSError as exc:
            raise LinkError(
                f"cannot listen on {self.host or '*'}:{self.requested_port}: {exc.strerror}"
            ) from exc

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def listen_spec(self) -> str:
        return f"tcp-server:{self.host or '_'}:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for client in list(self.active):
                if client.controller is not None:
                    client.controller.detach()
            await self._server.wait_closed()
            self._server = None
