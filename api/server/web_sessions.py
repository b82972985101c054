"""Browser sessions of the web UI, kept on the server.

Signing in with an API key stores a session row and gives the browser only a random token in
an HttpOnly, SameSite=Strict cookie. Every request resolves the token to the key it signed in
with, so the browser sees exactly what the API lets that key see, and revoking the key (or its
user) ends the session. Each session carries a CSRF token that its forms and the UI's
script echo on every request that changes something.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.server.keys import authenticate_key
from api.server.tables import WebSession
from latency.devices import hash_token
from latency.tables import utcnow

COOKIE = "edgenas_session"
CSRF_FIELD = "csrf_token"  # the forms' hidden field
CSRF_HEADER = "X-CSRF-Token"  # the UI script's header on /v1 requests that change something
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class SignedIn:
    """A live session: the API key it stands for (hashed) and its CSRF token."""

    key_hash: str
    csrf_token: str

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token)


def sign_in(session: Session, api_key: str, lifetime: timedelta) -> str | None:
    """A new session for a valid API key: the cookie's token, or None for a bad key."""
    if authenticate_key(session, api_key) is None:
        return None
    session.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))  # no pile-up
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=hash_token(token),
            key_hash=hash_token(api_key),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=utcnow() + lifetime,
        )
    )
    return token


def signed_in(session: Session, token: str) -> SignedIn | None:
    """The unexpired session of a cookie token (its key's validity is the caller lookup's)."""
    row = session.scalar(
        select(WebSession).where(
            WebSession.token_hash == hash_token(token), WebSession.expires_at > utcnow()
        )
    )
    return None if row is None else SignedIn(row.key_hash, row.csrf_token)


def sign_out(session: Session, token: str) -> None:
    """End the session at once: its cookie is refused from now on."""
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))
