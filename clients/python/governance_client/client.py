"""`GovernanceClient`: one object per OAuth client, safe to share between threads.

Every call goes through the generated low-level layer (`governance_client._generated`, made from the service's
OpenAPI document by openapi-python-client): its `_get_kwargs` builds the request and its `_parse_response` reads
a success into the generated attrs model. This module adds what the generated code cannot know: the token, the
retries, the typed errors, and the domain helpers in `governance_client.resources`.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from types import ModuleType, TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from governance_client._generated.client import Client as GeneratedClient
from governance_client.auth import BearerAuth, TokenSource
from governance_client.errors import TransportError, error_from_response
from governance_client.retry import ClientStats, RetryPolicy, RetryTransport

__version__ = "0.1.0"


class GovernanceClient:
    """A product backend's or model service's connection to the governance service.

    >>> with GovernanceClient("https://governance.internal", "recommender", secret, scopes=["consents:read"]) as gc:
    ...     gc.consents.allowed(subject_id, "personalized_recommendations")
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        scopes: Iterable[str] = (),
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        refresh_margin: float = 30.0,
        verify: bool | str | ssl.SSLContext = True,
    ) -> None:
        from governance_client import resources

        self.base_url = base_url.rstrip("/")
        self.retry_policy = retry or RetryPolicy()
        self.stats = ClientStats()
        headers = {"User-Agent": f"governance-client/{__version__}", "Accept": "application/json"}
        # the token endpoint and public downloads: no bearer token
        self._plain = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers=headers, transport=self._transport(verify)
        )
        self.tokens = TokenSource(
            self._plain, client_id, client_secret, scopes=scopes, refresh_margin=refresh_margin, stats=self.stats
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers=headers,
            transport=self._transport(verify),
            auth=BearerAuth(self.tokens),
        )
        self._generated = GeneratedClient(base_url=self.base_url).set_httpx_client(self._http)
        self.consents = resources.Consents(self)
        self.events = resources.Events(self)
        self.subjects = resources.Subjects(self)
        self.requests = resources.Requests(self)
        self.jobs = resources.Jobs(self)
        self.datasets = resources.Datasets(self)

    def _transport(self, verify: bool | str | ssl.SSLContext) -> RetryTransport:
        return RetryTransport(httpx.HTTPTransport(verify=verify), self.retry_policy, self.stats)

    # --- the one way a call is made -------------------------------------------------------------------------

    def call(self, operation: ModuleType, *path: Any, **arguments: Any) -> Any:
        """Send one generated operation (`_generated.api.<tag>.<operation>`) and return its parsed success
        model; an error answer raises the `ApiError` subclass for its status and code."""
        response = self.send(self._http, operation._get_kwargs(*path, **arguments))
        return operation._parse_response(client=self._generated, response=response)

    def call_public(self, operation: ModuleType, *path: Any, **arguments: Any) -> Any:
        """`call` for a public operation (purposes, receipt keys, readiness): no token is fetched or sent."""
        response = self.send(self._plain, operation._get_kwargs(*path, **arguments))
        return operation._parse_response(client=self._generated, response=response)

    def send(self, http: httpx.Client, request: dict[str, Any]) -> httpx.Response:
        try:
            response = http.request(**request)
        except httpx.TransportError as exc:
            raise TransportError(type(exc).__name__) from None  # the message may hold the URL: not kept
        if not response.is_success:
            raise error_from_response(response.status_code, response.content, response.headers)
        return response

    def stream_link(self, url: str) -> Any:
        """Open a download link (the link is the credential: no bearer token is sent) as a streamed response.
        The link's path and query are resolved against this client's base URL, so a service whose public
        `GOVERNANCE_BASE_URL` differs from the address the client uses is still reached where the client is."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        origin = urlsplit(self.base_url)
        return self._plain.stream("GET", f"{origin.scheme}://{origin.netloc}{path}")

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        self._plain.close()

    def __enter__(self) -> GovernanceClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
