"""Client side of ``POST /v1/latency``: queue, then wait across as many long-polls as needed.

The server caps one long-poll at ``EDGENAS_MAX_WAIT_SECONDS``, while a measurement on a busy
or slow device may take minutes, so a caller that wants to wait longer polls again.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from api.client.options import error_message
from api.client.patience import patient_get

FINISHED = ("done", "failed")
POLL_SECONDS = 30.0


class LatencyRequestError(Exception):
    """The server refused the request; the message is the server's."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(error_message(response))
        self.status_code = response.status_code


def wait_for_task(client: httpx.Client, task_id: int, wait_seconds: float) -> dict[str, Any]:
    """The task's status once it is done or failed, or when ``wait_seconds`` have passed
    (across a restart of the server)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        poll = max(0.0, min(deadline - time.monotonic(), POLL_SECONDS))
        response = patient_get(
            client,
            f"/v1/latency/{task_id}",
            deadline,
            params={"wait_seconds": poll},
            timeout=poll + 60,
        )
        if response.status_code != 200:
            raise LatencyRequestError(response)
        result = response.json()
        if result["status"] in FINISHED or time.monotonic() >= deadline:
            return result


def measure_latency(
    client: httpx.Client, body: dict[str, Any], wait_seconds: float
) -> dict[str, Any]:
    """The server's answer once the measurement is done or failed, or when ``wait_seconds``
    have passed (then ``status`` is still ``pending`` or ``leased``)."""
    deadline = time.monotonic() + wait_seconds
    poll = min(wait_seconds, POLL_SECONDS)
    response = client.post("/v1/latency", json={**body, "wait_seconds": poll}, timeout=poll + 60)
    if response.status_code != 200:
        raise LatencyRequestError(response)
    result = response.json()
    if result["status"] in FINISHED or result["task_id"] is None:
        return result
    return wait_for_task(client, result["task_id"], deadline - time.monotonic())
