"""``edgenas serve`` and ``edgenas keys create``."""

from __future__ import annotations

from typing import Annotated

import typer

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="EDGENAS_DATABASE_URL",
        help="SQLAlchemy URL (default: sqlite:///edgenas.db)",
    ),
]
keys_app = typer.Typer(help="User API keys.", no_args_is_help=True)


def _settings(database_url: str | None, **overrides: object):  # type: ignore[no-untyped-def]
    from api.settings import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000)")] = None,
    database_url: DatabaseUrl = None,
    local_dev_no_auth: Annotated[
        bool, typer.Option("--local-dev-no-auth", help="Accept /v1 requests without keys")
    ] = False,
) -> None:
    """Run the EdgeNAS server (uvicorn); the schema is upgraded on start."""
    import uvicorn

    from api.app import create_app

    settings = _settings(
        database_url, host=host, port=port, local_dev_no_auth=local_dev_no_auth or None
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="Who the key is for")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user API key and print it (it is stored hashed and not shown again)."""
    from sqlalchemy.orm import sessionmaker

    from api.database import upgrade_database
    from api.keys import create_api_key
    from latency.database import create_db_engine

    engine = create_db_engine(_settings(database_url).database_url)
    try:
        upgrade_database(engine)
        with sessionmaker(engine).begin() as session:
            typer.echo(create_api_key(session, name))
    finally:
        engine.dispose()
