"""Wakes long-polling requests when the queue changes, instead of making them poll fast.

In-process only: waiters still re-check every ``fallback`` seconds, which covers changes made
by other processes (a separate runner) at a modest delay. Each re-check is a database query,
so the fallback is what hundreds of held long-polls cost (``benchmarks/server_load.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class QueueSignal:
    """An event that is re-armed on every notification (a broadcast 'something changed')."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self, check: Callable[[], Awaitable[T | None]], timeout: float, fallback: float = 3.0
    ) -> T | None:
        """Call ``check`` until it returns something or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._event
            found = await check()
            remaining = deadline - time.monotonic()
            if found is not None or remaining <= 0:
                return found
            pause = fallback * random.uniform(0.5, 1.5)  # spread: no herd of re-checks at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, pause))
