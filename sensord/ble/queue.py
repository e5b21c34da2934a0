"""A bounded queue between async stages that never blocks the producer.

A BLE notification callback must not wait, and a slow consumer must not make the link fall
behind without limit: when the queue is full the *oldest* item is dropped (fresh data is worth
more than stale data for a live view) and counted, so the loss is visible in the stream health.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class QueueClosed(Exception):  # noqa: N818 - it is a condition, not an error
    """``get`` on a closed and empty queue."""


class DropOldestQueue(Generic[T]):
    """FIFO of at most ``maxsize`` items; ``put_nowait`` drops the oldest when full.

    ``dropped`` counts dropped items. ``close`` ends the stream: ``get`` then drains what is
    left and raises ``QueueClosed``; ``async for`` stops.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[T] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put_nowait(self, item: T) -> None:
        """Adds ``item``; drops (and counts) the oldest item if the queue is full."""
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    def drain(self) -> list[T]:
        """Removes and returns everything queued now (possibly nothing)."""
        items = list(self._items)
        self._items.clear()
        return items

    async def wait(self) -> None:
        """Returns when an item is queued or the queue is closed."""
        while not self._items and not self._closed:
            self._ready.clear()
            await self._ready.wait()

    async def get(self) -> T:
        """The oldest item, waiting for one; ``QueueClosed`` once closed and empty."""
        await self.wait()
        if not self._items:
            raise QueueClosed
        return self._items.popleft()

    def close(self) -> None:
        """No more items will come; wakes waiting consumers."""
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> DropOldestQueue[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get()
        except QueueClosed:
            raise StopAsyncIteration from None
