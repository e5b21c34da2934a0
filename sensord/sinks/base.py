"""The seams between the daemon and its sinks: what a sink accepts, and the command handler.

A sink receives everything the daemon has to say (events are already in the store; the sink is
only told to look) through synchronous calls that never block, and runs its own I/O in ``run``.
Commands arriving from outside (MQTT ``cmd`` topics, later perhaps the CLI) go to a
``CommandHandler``; session tracking implements start, stop and reset, the BLE link identify.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sensord.model import ActivityState, ImuBlock, WearableStatus
from sensord.store import DailyTotals


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did: ``ok`` and one line for the user."""

    ok: bool
    message: str = ""


class CommandHandler(Protocol):
    """Carries out ``start``, ``stop``, ``reset`` or ``identify`` for a configured wearable.

    ``device`` is the configured wearable name; ``args`` is the JSON object sent with the command
    (empty when none was). Raise ``SensordError`` (or return ``ok=False``) to refuse.
    """

    async def handle(self, device: str, command: str, args: Mapping[str, Any]) -> CommandResult:
        ...


class NoCommands:
    """The handler used until session tracking and the BLE link provide real ones."""

    def __init__(self, reason: str = "this sensord process does not take commands") -> None:
        self.reason = reason

    async def handle(self, device: str, command: str, args: Mapping[str, Any]) -> CommandResult:
        del device, args
        return CommandResult(False, f"{command}: {self.reason}")


class Sink(Protocol):
    """Where the daemon's output goes (MQTT today). Calls other than ``run``/``drain`` never
    block; they record the latest value and let the sink publish it when it can."""

    def events_stored(self) -> None:
        """New rows are in the outbox."""

    def set_availability(self, device: str, online: bool) -> None:
        """The wearable started or stopped streaming."""

    def set_activity(
        self, device: str, state: ActivityState, session: Mapping[str, Any] | None = None
    ) -> None:
        """The pipeline's live state after a block, with the session tracker's snapshot when
        there is one (the sink rate-limits it)."""

    def set_status(self, device: str, status: WearableStatus) -> None:
        """Link health (battery, RSSI, rate, loss, link state)."""

    def set_daily(self, totals: DailyTotals) -> None:
        """Today's totals changed (or the day did)."""

    def add_raw(self, device: str, block: ImuBlock) -> None:
        """Raw samples, when raw publishing is enabled (the sink batches them)."""

    async def run(self) -> None:
        """Does the I/O until ``stop`` is called; raises SensordError on a fatal problem."""

    async def wait_connected(self, timeout_s: float) -> bool:
        """Waits until the sink can deliver (False after ``timeout_s``)."""

    async def drain(self, timeout_s: float) -> bool:
        """Waits until everything stored and set so far has gone out; False on timeout."""

    def stop(self) -> None:
        """Asks ``run`` to say goodbye and return."""


__all__ = ["CommandHandler", "CommandResult", "NoCommands", "Sink"]
