"""User API keys: created by ``edgenas keys create``, stored as SHA-256, revocable."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.server.tables import ApiKey
from latency.devices import hash_token
from latency.tables import utcnow


def create_api_key(session: Session, name: str) -> str:
    """A new key; the plain text is returned once and never stored."""
    key = "ekey_" + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_hash=hash_token(key)))
    return key


def authenticate_key(session: Session, key: str) -> ApiKey | None:
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_token(key), ApiKey.revoked_at.is_(None))
    )


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, key_id: int) -> bool:
    """Revoke a key at once; False when there is no such active key."""
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    return True
