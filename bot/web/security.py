"""Sessions, CSRF tokens and role checks for the web console.

The session lives in a signed cookie (Starlette's SessionMiddleware): HttpOnly, SameSite=strict,
Secure when served over HTTPS, valid for 8 hours. Its key is derived from HEALTHBOT_SECRET with an
HMAC and a fixed label, so the cookie signature never uses the secret that keys user ids. The
cookie carries the account's session version: logout, a new password and a new role raise it in
the database, and every page compares the two, so a copied cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from bot.db.models import WebUserDB
from bot.web.accounts import ROLES

SESSION_COOKIE = "healthbot_session"
SESSION_SECONDS = 8 * 60 * 60
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_KEY = "csrf"
_LABEL = b"healthbot web console session cookie v1"


def session_key(secret: str) -> str:
    """The cookie-signing key: HMAC-SHA256 of a fixed label under HEALTHBOT_SECRET."""
    return hmac.new(secret.encode("utf-8"), _LABEL, hashlib.sha256).hexdigest()


def session_middleware(secret: str, *, https_only: bool) -> Middleware:
    """Starlette's session middleware with the console's cookie settings."""
    return Middleware(
        SessionMiddleware,
        secret_key=session_key(secret),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=https_only,
    )


# CSRF -----------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use; put it in every form as `csrf_token`."""
    token = request.session.get(_CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[_CSRF_KEY] = token
    return token


async def check_csrf(request: Request) -> None:
    """Raise 403 unless the form field `csrf_token` (or `X-CSRF-Token`) matches the session's."""
    expected = request.session.get(_CSRF_KEY)
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None:
        value = (await request.form()).get(CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if (
        not isinstance(expected, str)
        or not expected
        or submitted is None
        or not hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))
    ):
        raise HTTPException(403, "This form has expired: reload the page and try again.")


# who is signed in -----------------------------------------------------------------------------


def require(request: Request, *roles: str) -> int:
    """The signed-in web user's id, if their role is one of `roles` (any role when none given).

    Admins pass everywhere. Anonymous visitors are sent to /login (303); other roles get 403.
    """
    user_id = request.session.get("user_id")
    role = request.session.get("role")
    if not isinstance(user_id, int) or role not in ROLES:
        raise HTTPException(303, headers={"Location": "/login"})
    if roles and role != "admin" and role not in roles:
        raise HTTPException(403, "Your role cannot open this page.")
    return user_id


def login(request: Request, user: WebUserDB) -> None:
    """Start a fresh session for this user (the old one is dropped: no session fixation)."""
    request.session.clear()
    request.session.update(
        user_id=user.id, role=user.role, username=user.username, version=user.session_version
    )
    request.session[_CSRF_KEY] = secrets.token_urlsafe(32)


def logout(request: Request) -> None:
    """End the session (the cookie is cleared in the response)."""
    request.session.clear()
