"""Engine creation with the settings every backend needs (called at composition roots)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine


def create_db_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``. SQLite gets foreign keys on (so deletes cascade as on
    PostgreSQL), a busy timeout instead of instant 'database is locked' errors, and WAL."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
