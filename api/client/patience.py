"""Requests that outlast a server restart: a client following a job or a measurement asks
again, with backoff, while the server is away, instead of failing on the first refused
connection (``docs/deploy.md``: the API server may restart under its clients)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

AWAY_STATUSES = frozenset({502, 503, 504})  # a proxy without a server, or a database away
MAX_BACKOFF_SECONDS = 30.0


def patient_get(
    client: httpx.Client,
    path: str,
    deadline: float,
    say: Callable[[str], None] = lambda _: None,
    **options: Any,
) -> httpx.Response:
    """``GET path``; while the server is away (no answer, or 502, 503, 504) asked again with
    backoff, 1 s doubling to 30 s, until ``time.monotonic()`` passes ``deadline``; then the
    last failure is raised or returned. ``say`` hears of each wait."""
    backoff = 1.0
    while True:
        try:
            response = client.get(path, **options)
        except httpx.TransportError as exc:
            if time.monotonic() + backoff > deadline:
                raise
            reason = f"no answer ({type(exc).__name__})"
        else:
            if response.status_code not in AWAY_STATUSES or time.monotonic() + backoff > deadline:
                return response
            reason = f"HTTP {response.status_code}"
        say(f"the server is away ({reason}); asking again in {backoff:.0f} s")
        time.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
