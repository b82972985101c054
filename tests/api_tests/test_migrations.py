"""Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from api.database import upgrade_database
from api.migrations_metadata import TARGET_METADATA
from latency.database import create_db_engine
from tests.databases import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_creates_the_models_schema_without_drift(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            upgrade_database(engine)
            upgrade_database(engine)  # idempotent: a restart upgrades nothing
            tables = set(inspect(engine).get_table_names())
            assert {"devices", "measurement_tasks", "latency_records", "api_keys", "jobs"} <= tables
            with engine.connect() as connection:
                context = MigrationContext.configure(connection)
                assert compare_metadata(context, TARGET_METADATA) == []
        finally:
            engine.dispose()
