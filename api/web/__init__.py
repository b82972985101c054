"""The web UI: server-rendered pages over the REST API's own queries, signed in with an API
key held in a server-side session (``api.server.web_sessions``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.web.auth import SignInRequired, to_sign_in
from api.web.pages import router

STATIC = Path(__file__).parent / "static"


def install_web_ui(app: FastAPI) -> None:
    """Serve the pages at ``/`` and their script and styles at ``/static/app``."""
    app.include_router(router)
    app.mount("/static/app", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(SignInRequired, to_sign_in)
