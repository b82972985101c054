"""Request dependencies, as typed ``Annotated`` aliases (the FastAPI template's way): the
settings, the database, the queue signal, the device predictors, the study storage, the
quotas, the calling user (within their key's request rate) and the calling device. Handlers
declare what they need; only this module reads ``app.state``, where the app (and its
lifespan) put what it created."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import optuna
from anyio import CapacityLimiter, to_thread
from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.server.coalesce import Coalescer
from api.server.keys import authenticate_key
from api.server.quotas import InFlight, KeyRateLimiter
from api.server.settings import Settings
from api.server.signals import QueueSignal
from api.server.web_sessions import COOKIE, CSRF_HEADER, SAFE_METHODS, SignedIn, signed_in
from edgenas.callers import LOCAL_DEVELOPER, Caller
from edgenas.errors import InvalidRequestError
from latency.device_predictor import DevicePredictors
from latency.devices import authenticate_device, hash_token
from latency.queue import TaskView

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True)
class Database:
    """The server's sessions; ``run`` does a piece of work in one committed transaction.

    Long-polls re-check the database while they are held, and hundreds of them start and time
    out together. ``run_held`` gives those checks a few threads of their own (``held_lane``),
    so a herd of them queues there instead of in front of every other request."""

    sessions: sessionmaker[Session]
    held_lane: CapacityLimiter

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one committed transaction on a request thread."""
        return await run_in_threadpool(self._transaction, work)

    async def run_held(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one committed transaction on the long-polls' own threads."""
        return await to_thread.run_sync(self._transaction, work, limiter=self.held_lane)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self.sessions.begin() as session:
            return work(session)


def _app_state(name: str, kind: type[T]) -> Callable[[Request], T]:
    """A dependency that reads what the app put in ``app.state.<name>``."""

    def read(request: Request) -> T:
        value = getattr(request.app.state, name)
        if not isinstance(value, kind):
            raise TypeError(f"app.state.{name} is a {type(value).__name__}, not {kind.__name__}")
        return value

    return read


def _database(request: Request) -> Database:
    return Database(request.app.state.sessions, request.app.state.held_lane)


SettingsDep = Annotated[Settings, Depends(_app_state("settings", Settings))]
DatabaseDep = Annotated[Database, Depends(_database)]
SignalDep = Annotated[QueueSignal, Depends(_app_state("signal", QueueSignal))]
PredictorsDep = Annotated[
    DevicePredictors, Depends(_app_state("device_predictors", DevicePredictors))
]
StudyStorageDep = Annotated[
    optuna.storages.BaseStorage,
    Depends(_app_state("optuna_storage", optuna.storages.BaseStorage)),
]
RateLimiterDep = Annotated[KeyRateLimiter, Depends(_app_state("rate_limiter", KeyRateLimiter))]
CalibrationsDep = Annotated[InFlight, Depends(_app_state("calibrations", InFlight))]
KeyLookupsDep = Annotated[Coalescer[str, Caller], Depends(_app_state("key_lookups", Coalescer))]
TaskViewsDep = Annotated[Coalescer[int, TaskView], Depends(_app_state("task_views", Coalescer))]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "missing 'Authorization: Bearer <key>' header")
    return credentials.credentials


async def web_session(request: Request, db: DatabaseDep) -> SignedIn | None:
    """The web UI's session of the request's cookie, if it has a live one."""
    token = request.cookies.get(COOKIE)
    return None if not token else await db.run(lambda s: signed_in(s, token))


WebSessionDep = Annotated[SignedIn | None, Depends(web_session)]


async def require_user(
    request: Request,
    settings: SettingsDep,
    keys: KeyLookupsDep,
    limiter: RateLimiterDep,
    credentials: Credentials,
    browser: WebSessionDep,
) -> Caller:
    """The user of a valid, unrevoked API key within its request rate (or, with the
    local-development flag, an admin without a key). The key comes from the Authorization
    header or, for the web UI, from its signed-in session; a session's request that changes
    something must echo the session's CSRF token."""
    if settings.local_dev_no_auth:
        return LOCAL_DEVELOPER
    if credentials is None and browser is not None:
        key_hash = browser.key_hash
        if request.method not in SAFE_METHODS and not browser.csrf_matches(
            request.headers.get(CSRF_HEADER)
        ):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header for this session")
    else:
        key_hash = hash_token(_token(credentials))
    caller = await caller_of_key(keys, limiter, key_hash)
    if caller is None:
        raise HTTPException(401, "unknown or revoked API key")
    return caller


async def caller_of_key(
    keys: Coalescer[str, Caller], limiter: KeyRateLimiter, key_hash: str
) -> Caller | None:
    """The user of a valid key (by its hash), counted against the key's request rate; None
    for an unknown or revoked key. API requests and web pages both come through here."""
    caller = await keys.get(key_hash)
    if caller is not None:
        limiter.hit(key_hash)
    return caller


async def require_device(db: DatabaseDep, credentials: Credentials) -> int:
    """The id of the device whose token was presented; user keys are not device tokens."""
    token = _token(credentials)

    def lookup(session: Session) -> int | str:
        device = authenticate_device(session, token)
        if device is not None:
            return device.id
        return "user key" if authenticate_key(session, token) is not None else "unknown"

    found = await db.run(lookup)
    if found == "user key":
        raise HTTPException(403, "this route needs a device token, not a user API key")
    if found == "unknown":
        raise HTTPException(401, "unknown or revoked device token")
    return int(found)


DeviceId = Annotated[int, Depends(require_device)]
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers: a larger one is no object, not an overflow
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="the object's id")]
PageOffset = Annotated[int, Query(ge=0, le=MAX_ID)]
CallerDep = Annotated[Caller, Depends(require_user)]


async def known_query_only(request: Request) -> None:
    """Refuse a query parameter the route does not take (422): a typo such as ``?stat=`` is
    an error, not silently ignored."""
    route = request.scope.get("route")
    known: set[str] = set()
    pending = [route.dependant] if isinstance(route, APIRoute) else []
    while pending:
        dependant = pending.pop()
        known |= {param.alias for param in dependant.query_params}
        pending += dependant.dependencies
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidRequestError(f"query.{unknown[0]}: not a parameter of this route")
