"""Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from api.server.database import VERSION_TABLE, alembic_config, upgrade_database
from api.server.migrations_metadata import TARGET_METADATA
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
                context = MigrationContext.configure(
                    connection, opts={"version_table": VERSION_TABLE}
                )
                assert compare_metadata(context, TARGET_METADATA) == []
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_optuna_studies_share_the_database_and_a_legacy_revision_is_carried_over(
    backend: str, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            upgrade_database(engine)
            with engine.begin() as connection:  # a database as revision 0002 left it
                connection.execute(text("DROP TABLE jobs"))
                connection.execute(text("ALTER TABLE latency_records DROP COLUMN source"))
                connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
                connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
                connection.execute(text("INSERT INTO alembic_version VALUES ('0002')"))
            upgrade_database(engine)
            assert "jobs" in inspect(engine).get_table_names()
            study = optuna.create_study(storage=url, study_name="shared")  # Optuna's own tables
            study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
            upgrade_database(engine)  # a restart beside Optuna's alembic_version changes nothing
            with engine.connect() as connection:
                ours = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
                assert (
                    ours.scalar()
                    == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
                )
            assert len(optuna.load_study(study_name="shared", storage=url).trials) == 2
        finally:
            engine.dispose()
