"""Request dependencies: the database, the calling user, the calling device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.server.keys import authenticate_key
from api.server.settings import Settings
from latency.devices import authenticate_device

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def sessions_of(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


async def in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one committed transaction on a worker thread."""
    sessions = sessions_of(request)

    def run() -> T:
        with sessions.begin() as session:
            return work(session)

    return await run_in_threadpool(run)


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "missing 'Authorization: Bearer <key>' header")
    return credentials.credentials


async def require_user(request: Request, credentials: Credentials) -> None:
    """A valid, unrevoked user API key (or the local-development flag)."""
    if settings_of(request).local_dev_no_auth:
        return
    token = _token(credentials)
    if await in_transaction(request, lambda s: authenticate_key(s, token)) is None:
        raise HTTPException(401, "unknown or revoked API key")


async def require_device(request: Request, credentials: Credentials) -> int:
    """The id of the device whose token was presented; user keys are not device tokens."""
    token = _token(credentials)

    def lookup(session: Session) -> int | str:
        device = authenticate_device(session, token)
        if device is not None:
            return device.id
        return "user key" if authenticate_key(session, token) is not None else "unknown"

    found = await in_transaction(request, lookup)
    if found == "user key":
        raise HTTPException(403, "this route needs a device token, not a user API key")
    if found == "unknown":
        raise HTTPException(401, "unknown or revoked device token")
    return int(found)


DeviceId = Annotated[int, Depends(require_device)]
