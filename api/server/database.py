"""Schema migrations: the server upgrades the database to the newest revision on start.
On PostgreSQL the upgrade holds an advisory lock, so that processes starting together against
one database migrate it once: the others wait, then find it current.

EdgeNAS keeps its Alembic revision in ``edgenas_alembic_version``: Optuna's RDB storage shares
the database (one study per job) and keeps its own schema version in Alembic's default
``alembic_version`` table, which it refuses to run beside a revision it does not know.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "edgenas_alembic_version"
LEGACY_REVISIONS = ("0001", "0002")  # kept in alembic_version before Optuna shared the database
# Alembic runs migrations through a module-global proxy (``alembic.context``): two upgrades at
# once in one process (the server's start-up beside the embedded runners') break each other
_UPGRADING = threading.Lock()
MIGRATION_LOCK = 0x65646765_6E6173  # pg_advisory_xact_lock key: "edgenas" in hex


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # the option goes through configparser, which reads "%" as interpolation: a password
    # holding "%" (or a URL-encoded "@" or ":") must be escaped
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(engine: Engine) -> None:
    """Apply every migration not yet applied (idempotent; once across processes)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with _UPGRADING, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        _move_legacy_version(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision (``/readyz``); a database that cannot
    be reached raises SQLAlchemy's error."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision() == head


def _move_legacy_version(connection: Connection) -> None:
    """A database an earlier EdgeNAS created records its revision in ``alembic_version``:
    move it to ``VERSION_TABLE`` so the upgrade continues from it and Optuna gets the table."""
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables or VERSION_TABLE in tables:
        return
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision not in LEGACY_REVISIONS:
        return  # Optuna's own
    connection.execute(
        text(
            f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
            f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(
        text(f"INSERT INTO {VERSION_TABLE} VALUES (:revision)"), {"revision": revision}
    )
    connection.execute(text("DROP TABLE alembic_version"))
