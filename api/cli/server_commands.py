"""``edgenas serve`` and ``edgenas worker``, and the settings and database session the
commands that run on the server share."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.client.options import fail

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from api.server.settings import Settings

# longer than clients keep idle connections (httpx: 5 s), so none reuses one the server closed
KEEP_ALIVE_SECONDS = 30
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="EDGENAS_DATABASE_URL",
        help="SQLAlchemy URL (default: sqlite:///edgenas.db)",
    ),
]


def settings_from(database_url: str | None, **overrides: Any) -> Settings:
    """The settings from the environment and the command line; a bad value is one error line."""
    from pydantic import ValidationError

    from api.server.settings import Settings

    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        reason = first.get("ctx", {}).get("error") or first["msg"]  # a validator's own words
        raise fail(f"{where + ': ' if where else ''}{reason}") from None


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    database_url: DatabaseUrl = None,
    local_dev_no_auth: Annotated[
        bool, typer.Option("--local-dev-no-auth", help="Accept /v1 requests without keys")
    ] = False,
    runners: Annotated[
        int, typer.Option(min=0, max=16, help="Job runners in this process (0: API only)")
    ] = 1,
    local_agent: Annotated[
        bool, typer.Option("--local-agent", help="Also run a CPU agent as the device 'local'")
    ] = False,
) -> None:
    """Run the EdgeNAS server (uvicorn; the schema is upgraded on start) with job runners on
    Ray and, if asked, a local CPU agent. Ctrl-C stops them all."""
    import uvicorn

    from api.server.app import create_app
    from api.server.embedded import EmbeddedStack

    settings = settings_from(
        database_url, host=host, port=port, local_dev_no_auth=local_dev_no_auth or None
    )
    stack = EmbeddedStack(settings, runners=runners, local_agent=local_agent)
    stack.start()
    app = create_app(settings)
    # What is loaded by now lives as long as the process: keep it out of the collector's full
    # passes, which otherwise stall every request for ~150 ms every few seconds
    # (benchmarks/server_load.py; gc.freeze in the standard library's gc documentation).
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        stack.stop()


def worker(
    database_url: DatabaseUrl = None,
    runners: Annotated[int, typer.Option(min=1, max=16, help="Runners in this process")] = 1,
) -> None:
    """Run job runners (no API) on the same database: scale out. SIGTERM or Ctrl-C stops
    them; their jobs go back to the queue at once."""
    import signal

    from api.server.embedded import EmbeddedStack

    stack = EmbeddedStack(settings_from(database_url), runners=runners)
    stack.start()
    signal.signal(signal.SIGTERM, lambda *_: stack.stop_event.set())
    try:
        stack.stop_event.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


def migrate(database_url: DatabaseUrl = None) -> None:
    """Upgrade the database schema to the newest revision, then exit: a deployment's one-shot
    step before its servers and workers start (they upgrade on start too, once between them)."""
    with upgraded_engine(database_url):
        pass
    typer.echo("database schema is current")


@contextmanager
def upgraded_engine(database_url: str | None) -> Iterator[Engine]:
    """An engine on the server's database, its schema upgraded; a database that cannot be
    reached is one error line."""
    from sqlalchemy.exc import DBAPIError

    from api.server.database import upgrade_database
    from latency.database import create_db_engine

    engine = create_db_engine(settings_from(database_url).database_url)
    try:
        try:
            upgrade_database(engine)
        except DBAPIError as exc:
            where = engine.url.render_as_string(hide_password=True)
            reason = " ".join(str(exc.orig).split())  # the driver's text spans lines
            raise fail(f"cannot use the database at {where}: {reason}") from None
        yield engine
    finally:
        engine.dispose()


@contextmanager
def database_session(database_url: str | None) -> Iterator[Session]:
    """A transaction on the (upgraded) database, for the user and key commands."""
    from sqlalchemy.orm import sessionmaker

    with upgraded_engine(database_url) as engine, sessionmaker(engine).begin() as session:
        yield session
