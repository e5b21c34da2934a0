"""How long to wait before the next connection attempt, by what went wrong.

After bleak-retry-connector's classification (transient errors retry fast, an adapter out of
connection slots waits seconds) with two additions: the wait grows exponentially while the same
kind of failure repeats, up to a cap, and every wait is jittered by +-20 % so that two links
failing together do not retry in lockstep. A stream that was delivering data and then dropped
reconnects at once: the first wait after a good stream is zero. Never a busy loop: every other
wait is at least the class's base.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError

from sensord.errors import LinkError


class ErrorClass(StrEnum):
    """Kinds of link failure, each with its own wait."""

    TRANSIENT = "transient"  # connection refused or lost, GATT error, timeout
    NOT_FOUND = "not_found"  # the wearable is not advertising (out of range, off)
    BUSY = "busy"  # the adapter has no free connection slot or an operation is in progress
    ADAPTER = "adapter"  # the adapter itself is missing, off or its transport is gone


@dataclass(frozen=True, slots=True)
class Wait:
    """First and longest wait (s) for one error class."""

    base_s: float
    cap_s: float


DEFAULT_WAITS: Final = {
    ErrorClass.TRANSIENT: Wait(0.25, 8.0),
    # short cap: scanning is itself a wait, and a wearable back in range should stream soon
    ErrorClass.NOT_FOUND: Wait(1.0, 5.0),
    ErrorClass.BUSY: Wait(4.0, 30.0),
    ErrorClass.ADAPTER: Wait(5.0, 60.0),
}
JITTER: Final = 0.2

_BUSY_HINTS: Final = ("slot", "in progress", "inprogress", "already pending", "busy")
_ADAPTER_HINTS: Final = ("no such adapter", "adapter", "transport lost", "not available",
                         "powered off", "no bluetooth")


class WearableNotFoundError(LinkError):
    """A scan ended without seeing the wearable."""


def classify(exc: BaseException) -> ErrorClass:
    """The error class of a failure raised by a scan, a connect or a GATT operation."""
    if isinstance(exc, WearableNotFoundError | BleakDeviceNotFoundError):
        return ErrorClass.NOT_FOUND
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return ErrorClass.ADAPTER
    text = str(exc).lower()
    if isinstance(exc, BleakError | LinkError | OSError):
        if any(hint in text for hint in _BUSY_HINTS):
            return ErrorClass.BUSY
        if any(hint in text for hint in _ADAPTER_HINTS):
            return ErrorClass.ADAPTER
    return ErrorClass.TRANSIENT


class Backoff:
    """Waits between attempts: ``delay(kind)`` after a failure, ``succeeded()`` after a stream
    that delivered data. Consecutive failures of one class double its wait up to the cap."""

    def __init__(
        self, waits: dict[ErrorClass, Wait] | None = None, rng: random.Random | None = None
    ) -> None:
        self.waits = dict(DEFAULT_WAITS if waits is None else waits)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._failures = 0
        self._streak = 0
        self._last: ErrorClass | None = None
        self._fresh = False

    @property
    def failures(self) -> int:
        """Failures since the last good stream."""
        return self._failures

    def succeeded(self) -> None:
        """A stream delivered data: the next failure retries at once."""
        self._failures = 0
        self._streak = 0
        self._last = None
        self._fresh = True

    def delay(self, kind: ErrorClass) -> float:
        """Seconds to wait after a failure of ``kind``."""
        self._failures += 1
        if self._fresh:
            self._fresh = False
            return 0.0
        if kind != self._last:
            self._streak = 0
        self._last = kind
        wait = self.waits[kind]
        nominal = min(wait.cap_s, wait.base_s * 2.0**self._streak)
        self._streak = min(self._streak + 1, 32)  # 2**32 * base is past any cap
        return nominal * self._rng.uniform(1.0 - JITTER, 1.0 + JITTER)
