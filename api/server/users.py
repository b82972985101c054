"""Users: created by ``edgenas users create``, revocable with all their keys at once."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.server.tables import ApiKey, User
from edgenas.errors import NotFoundError
from latency.database import add_unique, rows_changed
from latency.tables import utcnow


def create_user(session: Session, name: str, *, admin: bool = False) -> User:
    user = User(name=name, admin=admin)
    add_unique(session, user, f"a user named {name!r} already exists")
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
