"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from optuna.exceptions import StorageInternalError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from edgenas.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
    ServiceError,
)
from latency.database import is_transient
from space import SpaceError

DATABASE_RETRY_SECONDS = 5

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


# edgenas.errors, each with its status; ServiceError itself (unexpected) is a 500
SERVICE_STATUSES: dict[type[Exception], int] = {
    NotFoundError: 404,
    ForbiddenError: 403,
    ConflictError: 409,
    InvalidRequestError: 422,
    QuotaExceededError: 429,
    ServiceError: 500,
}


def json_error(
    status: int, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"code": _STATUS_CODES.get(status, "error"), "message": message, "details": details}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def validation_details(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's errors as the 422's details: each names its field as a dotted path."""
    return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in errors]


PageRenderer = Callable[[Request, int, str], Response]
# paths that answer JSON errors; any other path is a web UI page and gets an error page
API_PATHS = ("/v1/", "/healthz", "/readyz", "/openapi.json", "/docs", "/redoc")


def install_error_handlers(app: FastAPI, error_page: PageRenderer | None = None) -> None:
    """Map domain and framework errors to the one shape, never a bare 500 with a trace; the
    web UI's pages get ``error_page`` with the same status and message instead."""

    def error_response(
        status: int,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
        *,
        request: Request,
    ) -> Response:
        if error_page is not None and not request.url.path.startswith(API_PATHS):
            return error_page(request, status, message)
        return json_error(status, message, details, headers)

    @app.exception_handler(StarletteHTTPException)  # FastAPI's and the router's (404, 405)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette lists only the first route of the path's
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error_response(exc.status_code, str(exc.detail), headers=headers, request=request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = validation_details(exc.errors())
        first = details[0] if details else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}"
        return error_response(422, message, details, request=request)

    @app.exception_handler(SpaceError)
    async def space_error(request: Request, exc: SpaceError) -> Response:
        field = getattr(exc, "field", None)
        details = {"field": field} if field else None
        return error_response(422, str(exc), details, request=request)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(StorageInternalError)  # Optuna's wrapping of the same errors
    async def database_error(request: Request, exc: Exception) -> Response:
        if not is_transient(exc):
            raise exc  # a fault of ours: the server's error page, and the trace in its log
        return error_response(
            503,
            "the database is unavailable; retry shortly",
            headers={"Retry-After": str(DATABASE_RETRY_SECONDS)},
            request=request,
        )

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: Exception) -> Response:
        status = next(code for kind, code in SERVICE_STATUSES.items() if isinstance(exc, kind))
        headers = (
            {"Retry-After": str(exc.retry_after)} if isinstance(exc, QuotaExceededError) else None
        )
        return error_response(status, str(exc), headers=headers, request=request)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)
