"""The FastAPI application factory (composition root: engine, sessions, routes)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import CapacityLimiter
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from api.server.coalesce import Coalescer
from api.server.database import schema_is_current, upgrade_database
from api.server.deps import known_query_only
from api.server.errors import install_error_handlers, json_error
from api.server.keys import callers_of_keys
from api.server.limits import BodySizeLimit
from api.server.quotas import InFlight, KeyRateLimiter
from api.server.routes import agent, datasets, devices, jobs, latency, models
from api.server.schemas import ERROR_RESPONSES
from api.server.settings import Settings, loopback_hosts
from api.server.signals import QueueSignal
from api.web import install_web_ui
from api.web.pages import error_page
from latency.database import create_db_engine
from latency.device_predictor import DevicePredictors
from latency.queue import task_views
from workers.study_storage import study_storage

log = logging.getLogger("edgenas.server")
HELD_LANE_THREADS = 4  # threads for long-poll re-checks (deps.Database.run_held)
# as many connections as threads (anyio's 40 request threads and the held lane's), so no
# request waits for one; SQLite keeps SQLAlchemy's own pool (one writer at a time anyway)
SERVER_POOL = {"pool_size": 20, "max_overflow": 20 + HELD_LANE_THREADS}


def create_app(settings: Settings | None = None) -> FastAPI:
    """A server for ``settings`` (default: read from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings.database_url, **SERVER_POOL)
        upgrade_database(engine)
        app.state.engine = engine
        app.state.sessions = sessionmaker(engine, expire_on_commit=False)
        app.state.optuna_storage = study_storage(settings.database_url)
        app.state.signal = QueueSignal()
        app.state.held_lane = CapacityLimiter(HELD_LANE_THREADS)
        app.state.key_lookups = Coalescer(engine, callers_of_keys)
        app.state.task_views = Coalescer(engine, task_views, limiter=app.state.held_lane)
        app.state.device_predictors = DevicePredictors()
        if settings.local_dev_no_auth:
            log.warning("local development mode: /v1 routes accept requests without API keys")
        yield
        engine.dispose()

    app = FastAPI(
        title="EdgeNAS",
        version="0.1.0",
        lifespan=lifespan,
        description="Hardware-aware neural architecture search service.",
    )
    app.state.settings = settings
    app.state.rate_limiter = KeyRateLimiter(settings.rate_limit)
    app.state.calibrations = InFlight(settings.max_calibrations_per_user, "calibrations")
    install_error_handlers(app, error_page)
    if settings.local_dev_no_auth:  # keyless: answer only requests addressed to loopback
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=loopback_hosts(settings.host))
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        uploads={datasets.UPLOAD_PATH: settings.max_dataset_bytes},
    )
    for module in (devices, latency, agent, jobs, models, datasets):
        app.include_router(
            module.router, responses=ERROR_RESPONSES, dependencies=[Depends(known_query_only)]
        )

    install_web_ui(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: ERROR_RESPONSES[503]})
    async def readyz() -> JSONResponse:
        """Readiness: the database answers and its schema is at the newest revision."""
        try:
            current = await run_in_threadpool(schema_is_current, app.state.engine)
        except SQLAlchemyError as exc:
            reason = f"database unreachable: {type(exc).__name__}"
            return json_error(503, reason)
        if not current:
            return json_error(503, "database schema is behind: run the upgrade")
        return JSONResponse({"status": "ready"})

    return app
