"""Authentication: who is calling. Bearer tokens (OAuth2 clients), subject dashboard sessions, staff sessions.

Foundation placeholder: until the access domain provides token and session authentication, every caller is
anonymous, so every protected route answers 401 (deny by default).
"""

from __future__ import annotations

from flask import Request

from governance.access.principals import Principal


def resolve_principal(request: Request, *, required: bool) -> Principal:
    """The principal behind `request`, or the anonymous principal."""
    return Principal.anonymous()
