"""Access's JSON endpoints outside /api/v1: the OAuth2 token, introspection (RFC 7662) and revocation (RFC 7009)
endpoints of the authorization server in oauth.py. They sit on the `access` blueprint of views.py (the HTML
pages), so their endpoint names stay `access.oauth_*`; importing this module registers them there. The JSON
API at /api/v1 is in api_v1.py."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from governance import audit
from governance.access.decorators import public
from governance.access.principals import Principal
from governance.access.views import bp
from governance.db import get_session, transaction

__all__ = ["bp", "oauth_introspect", "oauth_revoke", "oauth_token"]


def _server() -> Any:
    return current_app.extensions["governance.access.oauth"]


def _audit_refusal(response: Response, endpoint: str) -> Response:
    if response.status_code >= 400:
        error = (response.get_json(silent=True) or {}).get("error", "error")
        client_id = request.authorization.username if request.authorization else request.form.get("client_id")
        with transaction(get_session()) as session:
            audit.record(
                session,
                actor=Principal.anonymous(),
                action="access.token.refused",
                target=("client", client_id[:64]) if client_id else None,
                details={"endpoint": endpoint, "error": str(error)[:40]},
                redact=True,  # the client id is the caller's text
            )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/oauth/token")
@public("OAuth2 token endpoint: the client authenticates with its own credentials")
def oauth_token() -> Response:
    with transaction(get_session()):
        response = _server().create_token_response()
    return _audit_refusal(response, "token")


@bp.post("/oauth/introspect")
@public("RFC 7662: the client authenticates with its own credentials and sees only its own tokens")
def oauth_introspect() -> Response:
    with transaction(get_session()):
        response = _server().create_endpoint_response("introspection")
    return _audit_refusal(response, "introspect")


@bp.post("/oauth/revoke")
@public("RFC 7009: the client authenticates with its own credentials and revokes only its own tokens")
def oauth_revoke() -> Response:
    with transaction(get_session()):
        response = _server().create_endpoint_response("revocation")
    return _audit_refusal(response, "revoke")
