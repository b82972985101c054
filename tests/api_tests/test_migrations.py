"""Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote_plus

import httpx
import optuna
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import sessionmaker

from api.server.database import (
    VERSION_TABLE,
    alembic_config,
    schema_is_current,
    upgrade_database,
)
from api.server.keys import authenticate_key
from api.server.migrations_metadata import TARGET_METADATA
from api.server.users import list_users
from latency.database import create_db_engine
from latency.devices import hash_token
from latency.tables import utcnow
from tests.databases import BACKENDS, database_url, postgres_database
from tests.processes import Spawner
from tests.server import served


@contextmanager
def database_at(revision: str, url: str, engine: Engine) -> Iterator[Connection]:
    """A transaction on a database that revision ``revision`` left (an older EdgeNAS's)."""
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        yield connection


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
            with database_at("0002", url, engine) as connection:
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_keys_made_before_users_existed_become_one_admins_and_keep_working(
    backend: str, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            with database_at("0004", url, engine) as connection:
                for name in ("old-laptop", "old-ci"):
                    connection.execute(
                        text(
                            "INSERT INTO api_keys (name, key_hash, created_at) VALUES (:n, :h, :t)"
                        ),
                        {"n": name, "h": hash_token(f"ekey_{name}"), "t": utcnow()},
                    )
            upgrade_database(engine)
            with sessionmaker(engine).begin() as session:
                callers = {authenticate_key(session, f"ekey_{n}") for n in ("old-laptop", "old-ci")}
                assert [(c.name, c.admin) for c in callers if c] == [("admin", True)]
                assert [user.name for user in list_users(session)] == ["admin"]
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_without_keys_gets_no_user(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            upgrade_database(engine)
            with sessionmaker(engine).begin() as session:
                assert list_users(session) == []
        finally:
            engine.dispose()


def test_processes_starting_together_migrate_postgresql_once(spawn: Spawner) -> None:
    """Three processes upgrade one fresh database at the same moment: the advisory lock lets
    one migrate while the others wait, so none fails on tables another just made."""
    script = (
        "import sys; from api.server.database import upgrade_database; "
        "from latency.database import create_db_engine; "
        "sys.stdin.read(); upgrade_database(create_db_engine(sys.argv[1]))"
    )
    with postgres_database() as url:
        processes = [
            spawn(
                [sys.executable, "-c", script, url], stdin=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(3)
        ]
        for process in processes:  # released together once all three have imported
            process.stdin.close()
        errors = [process.stderr.read() for process in processes]
        assert [p.wait(timeout=120) for p in processes] == [0, 0, 0], errors
        engine = create_db_engine(url)
        assert schema_is_current(engine)
        engine.dispose()


def test_a_password_with_at_percent_and_colon_works(tmp_path: Path) -> None:
    """PostgreSQL here trusts local connections, so any password is accepted: what is tested
    is that the URL survives SQLAlchemy and Alembic's configuration (``%`` interpolation)."""
    with postgres_database() as url:
        secret = quote_plus("p@ss%w:rd")
        tricky = url.replace("postgres@", f"postgres:{secret}@")
        engine = create_db_engine(tricky)
        assert engine.url.password == "p@ss%w:rd"
        upgrade_database(engine)
        assert schema_is_current(engine)
        engine.dispose()


def test_readyz_reports_a_schema_behind_and_then_ready(tmp_path: Path) -> None:
    with database_url("sqlite", tmp_path) as url, served(url) as server:
        assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}
        engine = create_db_engine(url)
        with engine.begin() as connection:  # as if an older EdgeNAS had left the database
            head = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
            connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0006'"))
        behind = httpx.get(f"{server.url}/readyz")
        assert behind.status_code == 503
        assert behind.json()["error"]["message"] == "database schema is behind: run the upgrade"
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :v"), {"v": head})
        engine.dispose()
        assert httpx.get(f"{server.url}/readyz").status_code == 200
