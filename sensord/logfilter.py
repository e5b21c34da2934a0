"""A logging filter that rate-limits repeated warnings and errors.

A wearable out of range or a broker that is down makes the same error every few seconds for
hours; without a limit that buries everything else in the journal. Records are "the same" when
logger, level and message template (before %-formatting) match, so ``"connect to %s failed"``
for the same device counts as one kind. ``burst`` of a kind pass per ``window_s``; the rest are
dropped and counted, and the next one that passes says how many were dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

_MAX_KINDS: Final = 1024  # distinct message kinds remembered (oldest windows forgotten first)


@dataclass(slots=True)
class _Window:
    started_s: float
    passed: int
    dropped: int


class RepeatFilter(logging.Filter):
    """Passes at most ``burst`` records of a kind per ``window_s`` seconds (WARNING and up;
    lower levels always pass). ``clock`` is monotonic seconds (a parameter for tests)."""

    def __init__(
        self, window_s: float = 60.0, burst: int = 3, *,
        clock: Callable[[], float] = time.monotonic, min_level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.burst = burst
        self.clock = clock
        self.min_level = min_level
        self._windows: dict[tuple[str, int, str], _Window] = {}
        #: Records dropped since the filter was made (for the daemon's periodic counters).
        self.dropped_total = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window.started_s >= self.window_s:
            dropped = window.dropped if window is not None else 0
            self._windows.pop(key, None)
            self._windows[key] = _Window(now, 1, 0)
            if len(self._windows) > _MAX_KINDS:
                del self._windows[next(iter(self._windows))]
            if dropped:
                record.msg = (
                    f"{record.getMessage()} (and {dropped} more like it in the last "
                    f"{self.window_s:g} s)"
                )
                record.args = None
            return True
        if window.passed < self.burst:
            window.passed += 1
            return True
        window.dropped += 1
        self.dropped_total += 1
        return False


__all__ = ["RepeatFilter"]
