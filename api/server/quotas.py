"""Per-key request rates and per-user work in flight: what keeps one user from crowding out
the rest. Both answer 429 with ``Retry-After`` (``edgenas.errors.QuotaExceededError``). Counts
of stored work (queued jobs, open measurement tasks) are checked by the packages that own
them, against the limits in the settings."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from edgenas.errors import QuotaExceededError

CALIBRATION_RETRY_SECONDS = 30  # a calibration plans and exports for about this long


class KeyRateLimiter:
    """A moving window per API key (``limits``' notation: ``1200/minute``), in this process."""

    def __init__(self, limit: str) -> None:
        self.item: RateLimitItem = parse(limit)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, key: str) -> None:
        """Count one request of ``key``, or refuse it until the window has room again."""
        if self.limiter.hit(self.item, key):
            return
        reset = self.limiter.get_window_stats(self.item, key).reset_time
        raise QuotaExceededError(
            f"too many requests with this key: at most {self.item}",
            retry_after=math.ceil(reset - time.time()),
        )


class InFlight:
    """At most ``limit`` pieces of heavy work (calibrations: planning and exports) per user at
    once."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.running: Counter[int | None] = Counter()

    @contextmanager
    def slot(self, user: int | None) -> Iterator[None]:
        if self.running[user] >= self.limit:
            raise QuotaExceededError(
                f"you have {self.running[user]} {self.what} in flight; at most {self.limit}",
                retry_after=CALIBRATION_RETRY_SECONDS,
            )
        self.running[user] += 1
        try:
            yield
        finally:
            self.running[user] -= 1
