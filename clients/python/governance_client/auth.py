"""Client-credentials tokens: fetched when first needed, renewed before they expire, renewed once more when the
service says a token is no longer valid (revoked, or the clocks disagree), shared by every thread of a client.

The expiry is kept on the monotonic clock from the moment the token request was *sent* (so the client's idea of
the expiry is never later than the service's), minus a margin: `refresh_margin` seconds, at most half the
token's lifetime (so a very short-lived token is still used).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable

import httpx

from governance_client._generated.api.oauth import post_oauth_token
from governance_client._generated.models.post_oauth_token_body import PostOauthTokenBody
from governance_client._generated.models.post_oauth_token_body_grant_type import PostOauthTokenBodyGrantType
from governance_client.errors import error_from_response
from governance_client.retry import ClientStats


class TokenSource:
    """Holds the current access token of one OAuth client and fetches a new one when due."""

    def __init__(
        self,
        http: httpx.Client,
        client_id: str,
        client_secret: str,
        *,
        scopes: Iterable[str] = (),
        refresh_margin: float = 30.0,
        stats: ClientStats,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http  # a client without bearer auth: the token endpoint takes HTTP Basic
        self._basic = httpx.BasicAuth(client_id, client_secret)
        self._scope = " ".join(sorted(set(scopes)))
        self._refresh_margin = refresh_margin
        self._stats, self._clock = stats, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self.granted_scopes: frozenset[str] = frozenset()

    def seconds_left(self) -> float | None:
        """Seconds until the current token expires by the client's clock; None before the first token."""
        return None if self._token is None else self._expires_at - self._clock()

    def current(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def renew(self, stale: str) -> str:
        """A new token unless another thread already replaced `stale`."""
        with self._lock:
            if self._token == stale:
                self._stats.tokens_rejected += 1
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        body = PostOauthTokenBody(grant_type=PostOauthTokenBodyGrantType.CLIENT_CREDENTIALS)
        if self._scope:
            body.scope = self._scope
        sent_at = self._clock()
        response = self._http.request(**post_oauth_token._get_kwargs(body=body), auth=self._basic)
        if response.status_code != 200:
            raise error_from_response(response.status_code, response.content, response.headers)
        issued = post_oauth_token._parse_response(client=None, response=response)  # type: ignore[arg-type]
        lifetime = float(issued.expires_in)
        self._token = issued.access_token
        self._expires_at = sent_at + lifetime
        self._refresh_at = self._expires_at - min(self._refresh_margin, lifetime / 2)
        self.granted_scopes = frozenset(issued.scope.split())
        self._stats.tokens_fetched += 1


class BearerAuth(httpx.Auth):
    """Adds the current token; on `401` with `error="invalid_token"` fetches a new one and sends once more."""

    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._tokens.current()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and "invalid_token" in response.headers.get("www-authenticate", ""):
            request.headers["Authorization"] = f"Bearer {self._tokens.renew(token)}"
            yield request
