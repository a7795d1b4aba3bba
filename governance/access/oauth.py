"""The OAuth2 authorization server (Authlib): client credentials at /oauth/token, introspection (RFC 7662) and
revocation (RFC 7009).

Authlib issues a token without scope when the client asks for scopes it does not have; this server refuses
such a request with `invalid_scope` instead, and a request without `scope` gets all of the client's scopes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidScopeError, TokenMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, current_app

from governance.access import tokens
from governance.access.models import AccessToken, OAuthClient
from governance.access.principals import ActorRef, Principal, Resource
from governance.access.service import allowed
from governance.db import get_session, utcnow

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class ClientAdapter(ClientMixin):
    """An `OAuthClient` row as Authlib sees it: confidential, client credentials only, no redirects."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in scope_to_list(scope) or [] if s in self.row.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return tokens.check_client_secret(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class TokenAdapter(TokenMixin):
    def __init__(self, row: AccessToken) -> None:
        self.row = row

    def check_client(self, client: ClientAdapter) -> bool:
        return client.get_client_id() == self.row.client_id

    def get_scope(self) -> str:
        return " ".join(self.row.scopes or [])

    def get_expires_in(self) -> int:
        return max(0, int((self.row.expires_at - self.row.issued_at).total_seconds()))

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


class StrictClientCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: ClientAdapter = self.request.client
        requested = set(scope_to_list(self.request.payload.scope) or [])
        if requested - set(client.row.scopes):
            raise InvalidScopeError("The client is not allowed the requested scope.")


def _query_client(client_id: str) -> ClientAdapter | None:
    row = get_session().get(OAuthClient, client_id)
    return ClientAdapter(row) if row is not None and row.active else None


def _save_token(token: dict[str, Any], request: Any) -> None:
    client: ClientAdapter = request.client
    requested = scope_to_list(request.payload.scope) or []
    scopes = set(requested) if requested else set(client.row.scopes)
    lifetime = current_app.extensions["governance.access.token_lifetime"]
    tokens.issue_token(get_session(), client.row, scopes, token=token["access_token"], lifetime=lifetime)
    token["scope"] = " ".join(sorted(scopes))


def _find_token(token_string: str) -> TokenAdapter | None:
    row = (
        get_session()
        .scalars(sa.select(AccessToken).where(AccessToken.token_hash == tokens.digest(token_string)))
        .first()
    )
    return TokenAdapter(row) if row is not None else None


def _allowed(client: ClientAdapter, action: str, token: TokenAdapter) -> bool:
    principal = Principal(
        kind="client",
        id=client.get_client_id(),
        scopes=frozenset(client.row.scopes),
        purposes=frozenset(client.row.purposes),
    )
    resource = Resource(type="Token", id=str(token.row.id), owner_client_id=token.row.client_id)
    return allowed(principal, action, resource)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenAdapter | None:
        return _find_token(token_string)

    def check_permission(self, token: TokenAdapter, client: ClientAdapter, request: Any) -> bool:
        # A client may inspect only its own tokens; for any other token the answer is {"active": false}.
        return _allowed(client, "token.introspect", token)

    def introspect_token(self, token: TokenAdapter) -> dict[str, Any]:
        row = token.row
        return {
            "active": True,
            "client_id": row.client_id,
            "scope": token.get_scope(),
            "token_type": "Bearer",
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.issued_at.timestamp()),
        }


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenAdapter | None:
        return _find_token(token_string)

    def revoke_token(self, token: TokenAdapter, request: Any) -> None:
        client: ClientAdapter = request.client
        if _allowed(client, "token.revoke", token):
            tokens.revoke_token(get_session(), token.row.id, actor=ActorRef("client", client.get_client_id()))


def init_server(app: Flask) -> AuthorizationServer:
    lifetime = tokens.token_lifetime(app.extensions["governance.settings"])
    app.extensions["governance.access.token_lifetime"] = lifetime
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"client_credentials": int(lifetime.total_seconds())})
    app.config.setdefault("OAUTH2_ACCESS_TOKEN_GENERATOR", tokens.new_secret_for_authlib)
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_grant(StrictClientCredentialsGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    return server
