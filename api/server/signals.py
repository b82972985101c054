"""Wakes long-polling requests when the queue changes, instead of making them poll fast.

In-process only: waiters still re-check every ``fallback`` seconds (spread at random), which
covers changes made by other processes (a separate runner) at a modest delay. What a
re-check costs is the caller's: held latency waits share theirs (``api.server.coalesce``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
HOLD_SPREAD = 0.2


class QueueSignal:
    """An event that is re-armed on every notification (a broadcast 'something changed')."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self,
        check: Callable[[], Awaitable[T]],
        done: Callable[[T], bool],
        timeout: float,
        fallback: float = 3.0,
    ) -> T:
        """Call ``check`` until its answer is ``done`` or the wait is over; the last answer
        either way (a timeout costs no extra query). With no news the wait ends within the
        last fifth of ``timeout``, at random: long-polls that arrived together leave apart
        instead of coming back as one herd."""
        deadline = time.monotonic() + timeout * random.uniform(1 - HOLD_SPREAD, 1)
        while True:
            event = self._event
            found = await check()
            remaining = deadline - time.monotonic()
            if done(found) or remaining <= 0:
                return found
            pause = fallback * random.uniform(0.5, 1.5)  # spread: no herd of re-checks at once
            try:
                await asyncio.wait_for(event.wait(), min(remaining, pause))
            except TimeoutError:
                if pause >= remaining:  # the deadline came with no news: the answer stands
                    return found
