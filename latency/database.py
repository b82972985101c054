"""Engine creation with the settings every backend needs (called at composition roots),
and the few database helpers every package shares: unique inserts, guarded updates, and
retrying while the database is away."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Executable, create_engine, event, inspect, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from edgenas.errors import ConflictError

Row = TypeVar("Row")
T = TypeVar("T")
log = logging.getLogger("edgenas.database")
CLAIM_RACE_RETRIES = 5


def create_db_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``. Connections are checked before use (a database restarted since
    they were pooled costs a reconnect, not an error). SQLite gets foreign keys on (so deletes
    cascade as on PostgreSQL), a busy timeout instead of instant 'database is locked' errors,
    and WAL."""
    options.setdefault("pool_pre_ping", True)
    if url.startswith("sqlite"):
        options.pop("pool_size", None)  # pool sizes are for servers with connections to spare
        options.pop("max_overflow", None)
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


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it: Optuna wraps SQLAlchemy's errors) is the database
    being away for a while (a restart, a dropped connection, SQLite busy), which a retry
    outlives, rather than a fault in the request."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (OperationalError, InterfaceError)) or (
            isinstance(seen, DBAPIError) and seen.connection_invalidated
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_transient(
    action: Callable[[], T],
    what: str,
    *,
    patience_seconds: float = 600.0,
    stop: threading.Event | None = None,
) -> T:
    """``action()``, run again with backoff (0.5 s doubling to 10 s) while the database is
    away, for up to ``patience_seconds``; other errors, and the last transient one, are
    raised. ``action`` must be safe to repeat: one transaction, or idempotent steps."""
    deadline = time.monotonic() + patience_seconds
    backoff = 0.5
    while True:
        try:
            return action()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + backoff > deadline:
                raise
            log.warning("%s: the database is away (%s); retrying in %.1f s", what, exc, backoff)
        if (stop or threading.Event()).wait(backoff):
            raise InterruptedError(f"{what}: stopped while the database was away")
        backoff = min(backoff * 2, 10.0)


def retry_transaction(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    what: str,
    *,
    stop: threading.Event | None = None,
) -> T:
    """``work`` in one transaction, run again while the database is away
    (``retry_transient``)."""

    def transaction() -> T:
        with sessions.begin() as session:
            return work(session)

    return retry_transient(transaction, what, stop=stop)
