"""Real databases for tests: a SQLite file, and a throwaway PostgreSQL database.

PostgreSQL runs on 127.0.0.1:5432 (user postgres, trust auth). Where it is missing the
PostgreSQL cases skip locally but fail in CI (``CI=true``), so a missing service never hides.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

POSTGRES_ADMIN_URL = os.environ.get(
    "EDGENAS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"edgenas_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the service is not there
        admin.dispose()
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not available: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'edgenas.db'}"
    else:
        with postgres_database() as url:
            yield url


def dispose(engine: Engine) -> None:
    engine.dispose()
