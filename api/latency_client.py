"""Client side of ``POST /v1/latency``: queue, then wait across as many long-polls as needed.

The server caps one long-poll at ``EDGENAS_MAX_WAIT_SECONDS``, while a measurement on a busy
or slow device may take minutes, so a caller that wants to wait longer polls again.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from api.client_options import error_message

FINISHED = ("done", "failed")
POLL_SECONDS = 30.0


class LatencyRequestError(Exception):
    """The server refused the request; the message is the server's."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(error_message(response))
        self.status_code = response.status_code


def measure_latency(
    client: httpx.Client, body: dict[str, Any], wait_seconds: float
) -> dict[str, Any]:
    """The server's answer once the measurement is done or failed, or when ``wait_seconds``
    have passed (then ``status`` is still ``pending`` or ``leased``)."""
    deadline = time.monotonic() + wait_seconds
    poll = min(wait_seconds, POLL_SECONDS)
    response = client.post("/v1/latency", json={**body, "wait_seconds": poll}, timeout=poll + 60)
    while True:
        if response.status_code != 200:
            raise LatencyRequestError(response)
        result = response.json()
        remaining = deadline - time.monotonic()
        if result["status"] in FINISHED or result["task_id"] is None or remaining <= 0:
            return result
        poll = min(remaining, POLL_SECONDS)
        response = client.get(
            f"/v1/latency/{result['task_id']}",
            params={"wait_seconds": poll},
            timeout=poll + 60,
        )
