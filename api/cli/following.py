"""Following a job or a model until it ends, through restarts of the server (``jobs wait``,
``train --wait``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import typer

from api.client.options import error_message, fail, headers
from api.client.patience import patient_get

FOLLOW_SECONDS = 2.0  # how often the object is looked at
WaitTimeout = Annotated[
    float, typer.Option(min=1, max=30 * 86_400, help="Give up after this many seconds")
]


def follow(
    server: str,
    api_key: str | None,
    path: str,
    timeout: float,
    line: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """GET ``path`` until its ``state`` is final; prints ``line`` of it whenever that
    changes, and the error of a failed one. Returns the final object."""
    deadline = time.monotonic() + timeout
    seen = ""
    with httpx.Client(base_url=server, headers=headers(api_key), timeout=60) as client:
        while True:
            try:
                response = patient_get(client, path, deadline, say=_warn)
            except httpx.TransportError as exc:
                raise fail(f"cannot reach {server}: {exc}") from None
            if response.status_code != 200:
                raise fail(error_message(response))
            found = response.json()
            now = line(found)
            if now != seen:
                typer.echo(now)
                seen = now
            if found["state"] not in ("queued", "running"):
                if found["error"]:
                    typer.echo(found["error"])
                return dict(found)
            if time.monotonic() >= deadline:
                raise fail(f"{path} is still {found['state']} after {timeout:.0f} s")
            time.sleep(FOLLOW_SECONDS)


def _warn(message: str) -> None:
    typer.echo(message, err=True)
