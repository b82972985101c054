"""Users: created by ``edgenas users create``, revocable with all their keys at once.

Who is asking is a ``Caller``: the user behind a valid key, or, in local development without
keys, an admin with no user row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.server.tables import ApiKey, User
from edgenas.errors import ConflictError, NotFoundError
from latency.database import rows_changed
from latency.tables import utcnow


@dataclass(frozen=True)
class Caller:
    """The user a request acts for; an admin sees every user's objects."""

    user_id: int | None  # None: local development, no keys and no users
    name: str
    admin: bool


LOCAL_DEVELOPER = Caller(user_id=None, name="local-dev", admin=True)


def create_user(session: Session, name: str, *, admin: bool = False) -> User:
    user = User(name=name, admin=admin)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"a user named {name!r} already exists") from None
    return user


def user_by_name(session: Session, name: str) -> User:
    """An active user; revoked ones are gone for every purpose but the record."""
    user = session.scalar(select(User).where(User.name == name, User.revoked_at.is_(None)))
    if user is None:
        raise NotFoundError(f"no user named {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def revoke_user(session: Session, name: str) -> int:
    """Revoke a user and every key they hold, at once; the number of keys revoked."""
    user = user_by_name(session, name)
    now = utcnow()
    user.revoked_at = now
    return rows_changed(
        session,
        update(ApiKey)
        .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False),
    )
