"""Who is looking at a page: the signed-in browser's user, or a redirect to the sign-in page.

A page never answers data to a browser without a live session: ``page_user`` raises
``SignInRequired``, which the app turns into a redirect to ``/signin``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from api.server.deps import KeyLookupsDep, RateLimiterDep, WebSessionDep, caller_of_key
from api.server.settings import Settings
from api.server.web_sessions import COOKIE
from edgenas.callers import Caller

SIGN_IN_COOKIE = "edgenas_signin"  # the sign-in form's CSRF token, before any session exists


@dataclass(frozen=True)
class PageUser:
    caller: Caller
    csrf_token: str


class SignInRequired(Exception):
    """The browser has no live session (or its key was revoked)."""


async def page_user(
    browser: WebSessionDep, keys: KeyLookupsDep, limiter: RateLimiterDep
) -> PageUser:
    """The signed-in user, counted against their key's request rate like an API call."""
    caller = None if browser is None else await caller_of_key(keys, limiter, browser.key_hash)
    if browser is None or caller is None:
        raise SignInRequired()
    return PageUser(caller, browser.csrf_token)


PageUserDep = Annotated[PageUser, Depends(page_user)]


def to_sign_in(request: Request, _: Exception) -> Response:
    """Where a page sends a browser that is not signed in: back here once it is."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)


def safe_next(target: str | None) -> str:
    """A same-site path to go to after signing in (never another site's address)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/jobs"
    return target


def set_cookie(response: Response, name: str, value: str, settings: Settings, hours: float) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(timedelta(hours=hours).total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def start_session_cookie(response: Response, token: str, settings: Settings) -> None:
    set_cookie(response, COOKIE, token, settings, settings.web_session_hours)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
