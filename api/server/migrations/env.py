"""Alembic environment: every package's tables, one database URL (passed in by ``upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from api.server.database import VERSION_TABLE
from api.server.migrations_metadata import TARGET_METADATA
from latency.database import create_db_engine


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic's config names no sqlalchemy.url")
    engine = create_db_engine(url)
    with engine.connect() as fresh:
        _run(fresh)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=TARGET_METADATA,
        render_as_batch=connection.dialect.name == "sqlite",
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
