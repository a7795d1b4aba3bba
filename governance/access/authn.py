"""Authentication: who is calling. Bearer tokens (OAuth2 clients), then the signed session cookie (a subject
dashboard session or a staff session). Anything else is the anonymous principal.

Bearer tokens count only on the machine interfaces (`/api/`, `/oauth/`, the standard endpoints under
`/access/v1/` and `/.well-known/`: `governance.errors.MACHINE_PREFIXES`). HTML pages (the console, the
dashboard, the account pages) authenticate staff and subject sessions only: a client's token never opens a page,
whatever its scopes, because a page's action is granted to people, and a scope that grants the same action over
the API (say `dsr.read` for `requests:write`) is filtered there to the client's own items.

Lookups run on a short connection of their own, so authentication holds no transaction open into the view.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Request, current_app, g
from flask import session as cookie

from governance.access import sessions, tokens
from governance.access.principals import Principal
from governance.db import get_session
from governance.errors import MACHINE_PREFIXES

COOKIE_KEY = "access"  # {"kind": "staff" | "subject", "token": "<random>"}


def is_page(path: str) -> bool:
    """True for HTML pages, where only staff and subject sessions authenticate."""
    return not path.startswith(MACHINE_PREFIXES)


def timeouts() -> sessions.Timeouts:
    settings = current_app.extensions["governance.settings"]
    return sessions.Timeouts(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


def resolve_principal(request: Request, *, required: bool) -> Principal:
    """The principal behind `request`, or the anonymous principal (resolved once per request). A presented
    but unusable bearer token (unknown, expired, revoked) makes the caller anonymous."""
    resolved = g.get("_access_resolved")
    if resolved is None:
        resolved = g._access_resolved = _resolve(request)
    return resolved


def _resolve(request: Request) -> Principal:
    header = request.headers.get("Authorization", "")
    if header and is_page(request.path):
        g.access_auth_error = "bearer_on_page"  # ignored here: only the session cookie counts on a page
        header = ""
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            g.access_auth_error = "invalid_request"
            return Principal.anonymous()
        # The request's own session: an API view reads the database anyway, so the lookup shares its
        # transaction instead of paying for a second one.
        settings = current_app.extensions["governance.settings"]
        cache_seconds = min(settings.get_float("ACCESS_TOKEN_CACHE_SECONDS", tokens.TOKEN_CACHE_SECONDS), 60.0)
        principal = tokens.principal_for_token(get_session(), token, cache_seconds=cache_seconds)
        if principal is None:
            g.access_auth_error = "invalid_token"
            return Principal.anonymous()
        return principal
    data = cookie.get(COOKIE_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        return Principal.anonymous()
    engine = current_app.extensions["governance.db"].engine
    with engine.begin() as conn:
        if data.get("kind") == "staff":
            found = sessions.resolve_staff_session(conn, data["token"], timeouts())
        elif data.get("kind") == "subject":
            found = sessions.resolve_subject_session(conn, data["token"], timeouts())
        else:
            found = None
    if found is None:
        cookie.pop(COOKIE_KEY, None)
        return Principal.anonymous()
    return found


def start_cookie_session(kind: str, token: str) -> None:
    """Rotate: drop everything the old cookie carried (a fixed session id cannot survive sign-in)."""
    cookie.clear()
    cookie[COOKIE_KEY] = {"kind": kind, "token": token}
    cookie.permanent = True
