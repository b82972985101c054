"""User API keys: created by ``edgenas keys create --user NAME``, stored as SHA-256,
revocable one by one or with their user."""

from __future__ import annotations

import secrets
from collections.abc import Collection

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from api.server.tables import ApiKey, User
from edgenas.callers import Caller
from latency.devices import hash_token
from latency.tables import utcnow


def create_api_key(session: Session, user: User, name: str | None = None) -> str:
    """A new key of ``user`` (``name`` labels it; default the user's name); the plain text is
    returned once and never stored."""
    key = "ekey_" + secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user.id, name=name or user.name, key_hash=hash_token(key)))
    return key


def authenticate_key(db: Session | Connection, key: str) -> Caller | None:
    """The caller a key stands for, while neither the key nor its user is revoked."""
    key_hash = hash_token(key)
    return callers_of_keys(db, {key_hash}).get(key_hash)


def callers_of_keys(db: Session | Connection, key_hashes: Collection[str]) -> dict[str, Caller]:
    """The callers of those of ``key_hashes`` (SHA-256 of keys) that are valid: neither the
    key nor its user revoked. One query for many keys (``api.server.coalesce``)."""
    rows = db.execute(
        select(ApiKey.key_hash, User.id, User.name, User.admin)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(
            ApiKey.key_hash.in_(key_hashes),
            ApiKey.revoked_at.is_(None),
            User.revoked_at.is_(None),
        )
    )
    return {row.key_hash: Caller(row.id, row.name, row.admin) for row in rows}


def list_api_keys(session: Session) -> list[tuple[ApiKey, str]]:
    """Every key with its user's name."""
    rows = session.execute(
        select(ApiKey, User.name).join(User, ApiKey.user_id == User.id).order_by(ApiKey.id)
    )
    return [(key, user) for key, user in rows]


def revoke_api_key(session: Session, key_id: int) -> bool:
    """Revoke a key at once; False when there is no such active key."""
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True
