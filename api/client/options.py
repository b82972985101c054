"""Options shared by the commands that talk to a server (URL and user API key)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

ServerUrl = Annotated[
    str, typer.Option("--server", envvar="EDGENAS_SERVER", help="Server base URL")
]
ApiKey = Annotated[
    str | None, typer.Option("--api-key", envvar="EDGENAS_API_KEY", help="User API key")
]
DEFAULT_SERVER = "http://127.0.0.1:8000"


def fail(message: str) -> typer.Exit:
    """Print one error line to stderr and exit with status 2."""
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def error_message(response: httpx.Response) -> str:
    """The server's ``error.message``, or the raw text."""
    try:
        return response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:300]}"


def call(
    server: str, api_key: str | None, method: str, path: str, **options: Any
) -> httpx.Response:
    """One request to the server; a transport failure or a 4xx/5xx is one clear error line."""
    options.setdefault("timeout", 60)
    try:
        response = httpx.request(
            method, f"{server.rstrip('/')}{path}", headers=headers(api_key), **options
        )
    except httpx.TransportError as exc:
        raise fail(f"cannot reach {server}: {exc}") from None
    if response.status_code >= 400:
        raise fail(error_message(response))
    return response
