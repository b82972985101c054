"""Request size limits: bodies over the configured size get 413, whether or not they say so.
Upload routes (data sets) have their own, larger limit; every other body has the small one."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.server.errors import json_error


class BodySizeLimit:
    """ASGI middleware: a declared Content-Length over the limit is refused at once; a chunked
    body raises a 413 ``HTTPException`` from ``receive`` the moment it passes the limit, which
    FastAPI re-raises from body parsing (anything else raised there becomes a 400) and the
    error handlers put in the one error shape."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = dict(uploads or {})  # POST path -> its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope["method"] == "POST":
            limit = self.uploads.get(scope["path"].rstrip("/"), self.max_bytes)
        message = f"request body over {limit:,} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await json_error(413, message)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            incoming = await receive()
            received += len(incoming.get("body", b""))
            if received > limit:
                raise HTTPException(413, message)
            return incoming

        await self.app(scope, counting_receive, send)
