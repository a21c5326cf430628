"""Browser sessions for the dashboard's pages: a token entered once on the login page becomes a signed cookie.

A browser cannot send `Authorization: Bearer`, so `POST /login` checks the token as every route does
(shared/auth.py) and sets `certwatch_session`: HttpOnly, SameSite=Strict, Secure when the page came over https,
valid for `SESSION_HOURS`. The cookie holds the token's SHA-256 digest (never the token: the digest is what the
token tables keep) and its expiry, signed with HMAC-SHA256 under the settings' session key
(`CERTWATCH_REPORTING_SESSION_KEY`; without one, a random key per process, so a restart logs everyone out). Each
page read with the cookie looks the digest up again, so a revoked token ends its sessions at once, and the role's
rules are the bearer's: the cookie is accepted only by the HTML pages (`endpoints.pages`), never by the JSON API.

CSRF: the cookie is SameSite=Strict, the pages it opens only read, and the two forms that write (log in, log out)
carry a token the page printed: the login form's matches a random `certwatch_login` cookie (double submit), the
logout form's is an HMAC of the session itself; both refuse a cross-origin `Origin` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time

from fastapi import Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import SETTINGS_ADMIN, TOKENS, Actor, AuthSettings, Role, digest

log = logging.getLogger(__name__)

SESSION_COOKIE = "certwatch_session"
LOGIN_COOKIE = "certwatch_login"  # the login form's CSRF nonce (double submit)
SESSION_HOURS = 12
_RANDOM_KEY = secrets.token_bytes(32)


def key(settings: object) -> bytes:
    """The signing key: the settings' session key, else one random key for this process's life."""
    configured = getattr(settings, "session_key", None)
    if configured is not None and configured.get_secret_value():
        return hashlib.sha256(configured.get_secret_value().encode()).digest()
    return _RANDOM_KEY


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(signing_key: bytes, payload: str) -> str:
    return _b64(hmac.new(signing_key, payload.encode(), hashlib.sha256).digest())


def make(signing_key: bytes, token: str, now: float | None = None) -> str:
    """The cookie's value for `token`: its digest and expiry, signed."""
    expires = int((now or time.time()) + SESSION_HOURS * 3600)
    payload = _b64(json.dumps({"d": digest(token), "e": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_sign(signing_key, payload)}"


def opened(signing_key: bytes, value: str, now: float | None = None) -> str | None:
    """The token digest a cookie carries, if its signature holds and it has not expired."""
    payload, _, signature = value.partition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _sign(signing_key, payload).encode()):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        hashed, expires = str(body["d"]), int(body["e"])
    except (ValueError, KeyError, TypeError):
        return None
    return hashed if expires > (now or time.time()) else None


async def actor(session: AsyncSession, settings: AuthSettings, hashed: str) -> Actor | None:
    """Whose token has this digest, as `shared.auth.authenticate` finds a token (None if revoked or unknown)."""
    admin = settings.admin_token.get_secret_value() if settings.admin_token else None
    if admin and hmac.compare_digest(hashed, digest(admin)):
        return Actor(SETTINGS_ADMIN, Role.ADMINISTRATOR)
    for entry in settings.hashed_tokens():
        if hmac.compare_digest(hashed, entry.sha256):
            return Actor(entry.name, entry.role)
    row = (
        await session.execute(
            select(TOKENS.c.name, TOKENS.c.role).where(TOKENS.c.token_hash == hashed, TOKENS.c.revoked_at.is_(None))
        )
    ).first()
    return Actor(row.name, Role(row.role)) if row else None


def logout_token(signing_key: bytes, session_value: str) -> str:
    """The logout form's CSRF token: bound to the session it ends."""
    return _sign(signing_key, "logout:" + session_value)


def same_origin(request: Request) -> bool:
    """No `Origin` header (an older browser, a script), or the page's own."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def drop_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
