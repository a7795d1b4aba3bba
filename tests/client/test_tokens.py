"""Client-credentials tokens against the real token endpoint: fetched once and reused, renewed before expiry,
renewed after expiry, renewed once when the service revokes a token, and refused credentials as a typed error."""

from __future__ import annotations

import uuid

import httpx
import pytest

from governance_client import GovernanceClient, SubjectNotFoundError, TokenError
from tests.client.conftest import wait_for


def introspect(url: str, client_id: str, secret: str, token: str) -> dict:
    response = httpx.post(f"{url}/oauth/introspect", data={"token": token}, auth=(client_id, secret), timeout=30)
    assert response.status_code == 200
    return response.json()


def unknown_check(gc: GovernanceClient) -> None:
    """Any authenticated call: an unknown subject is a 404 after the token was accepted."""
    with pytest.raises(SubjectNotFoundError):
        gc.consents.check(uuid.uuid4(), "personalized_recommendations")


def test_one_token_serves_many_calls_with_the_scopes_asked(server) -> None:
    gc = server.client(["consents:read"])
    for _ in range(5):
        unknown_check(gc)
    assert gc.stats.tokens_fetched == 1
    assert gc.tokens.granted_scopes == {"consents:read"}
    assert gc.tokens.seconds_left() == pytest.approx(900, abs=60)


def test_an_expired_token_is_replaced_before_the_call(serve) -> None:
    """With 2-second tokens: once the service itself says the first token is no longer active, the next call
    fetches a new one first and succeeds (no 401 on the way)."""
    server = serve(ACCESS_TOKEN_SECONDS="2")
    client_id, secret = server.register(["consents:read"])
    gc = GovernanceClient(server.url, client_id, secret, refresh_margin=0)
    server.clients.append(gc)
    unknown_check(gc)
    first = gc.tokens.current()
    assert gc.stats.tokens_fetched == 1
    wait_for(lambda: not introspect(server.url, client_id, secret, first)["active"])
    unknown_check(gc)
    assert gc.stats.tokens_fetched == 2
    assert gc.stats.tokens_rejected == 0
    second = gc.tokens.current()
    assert second != first
    assert introspect(server.url, client_id, secret, second)["active"]


def test_a_token_is_renewed_within_the_margin_before_it_expires(serve) -> None:
    """A 6-second token with the default 30 s margin is renewed once 3 s (half its life) are left, while the
    service still accepts the old one: no call ever sees a 401."""
    server = serve(ACCESS_TOKEN_SECONDS="6")
    gc = server.client(["consents:read"])
    unknown_check(gc)
    first = gc.tokens.current()
    wait_for(lambda: gc.tokens.seconds_left() < 3)
    unknown_check(gc)
    assert gc.stats.tokens_fetched == 2
    assert gc.stats.tokens_rejected == 0
    assert gc.tokens.current() != first


def test_a_revoked_token_is_replaced_once_and_the_call_repeated(server) -> None:
    client_id, secret = server.register(["consents:read"])
    gc = GovernanceClient(server.url, client_id, secret)
    server.clients.append(gc)
    unknown_check(gc)
    token = gc.tokens.current()
    revoked = httpx.post(f"{server.url}/oauth/revoke", data={"token": token}, auth=(client_id, secret), timeout=30)
    assert revoked.status_code == 200
    assert not introspect(server.url, client_id, secret, token)["active"]
    unknown_check(gc)  # 401 invalid_token -> new token -> the same call again -> 404 as before
    assert gc.stats.tokens_rejected == 1
    assert gc.stats.tokens_fetched == 2


def test_wrong_credentials_are_a_token_error_without_the_secret(server) -> None:
    client_id, secret = server.register(["consents:read"])
    wrong = "not-the-secret-" + secret[:8]
    gc = GovernanceClient(server.url, client_id, wrong)
    server.clients.append(gc)
    with pytest.raises(TokenError) as refused:
        gc.consents.check(uuid.uuid4(), "personalized_recommendations")
    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_client"
    assert wrong not in str(refused.value)
    assert wrong not in repr(refused.value.details)


def test_a_scope_the_client_lacks_is_a_token_error(server) -> None:
    client_id, secret = server.register(["consents:read"])
    gc = GovernanceClient(server.url, client_id, secret, scopes=["consents:read", "events:write"])
    server.clients.append(gc)
    with pytest.raises(TokenError) as refused:
        gc.consents.check(uuid.uuid4(), "personalized_recommendations")
    assert (refused.value.status_code, refused.value.code) == (400, "invalid_scope")
