"""Engine creation with the settings every backend needs (called at composition roots)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Executable, create_engine, event, inspect, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edgenas.errors import ConflictError

Row = TypeVar("Row")
CLAIM_RACE_RETRIES = 5


def create_db_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``. Connections are checked before use (a database restarted since
    they were pooled costs a reconnect, not an error). SQLite gets foreign keys on (so deletes
    cascade as on PostgreSQL), a busy timeout instead of instant 'database is locked' errors,
    and WAL."""
    options.setdefault("pool_pre_ping", True)
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


def add_unique(session: Session, row: object, taken: str) -> None:
    """Add ``row`` now; if it clashes with a unique constraint, a ``ConflictError`` with the
    message ``taken`` (the transaction is rolled back)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError(taken) from None


def rows_changed(session: Session, statement: Executable) -> int:
    """How many rows an UPDATE or DELETE changed (its cursor's row count)."""
    result = session.execute(statement)
    if not isinstance(result, CursorResult):
        raise TypeError("rows_changed takes an UPDATE or DELETE statement")
    return result.rowcount


def claim_oldest(
    session: Session, table: type[Row], claimable: ColumnElement[bool], values: dict[str, Any]
) -> Row | None:
    """Set ``values`` on the oldest row that is ``claimable`` and return it, or ``None``.

    The UPDATE repeats the condition, so of two claimers racing for one row exactly one wins
    on SQLite and PostgreSQL alike; PostgreSQL's ``SKIP LOCKED`` also lets the loser move on
    to the next row at once. A lost race retries (a few times) with the next candidate.
    """
    key = inspect(table).primary_key[0]
    for _ in range(CLAIM_RACE_RETRIES):
        candidate = session.scalar(
            select(key).where(claimable).order_by(key).limit(1).with_for_update(skip_locked=True)
        )
        if candidate is None:
            return None
        claimed = rows_changed(
            session,
            update(table)
            .where(key == candidate, claimable)
            .values(**values)
            .execution_options(synchronize_session=False),
        )
        if claimed == 1:
            row = session.get(table, candidate)
            session.refresh(row)
            return row
    return None
