"""The provider: discovery, keys, the authorization code flow with PKCE and the ID token check."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from governance.access.sso.errors import SsoRefusedError, SsoUnavailableError, _state_error, _token_error
from governance.access.sso.policy import SsoPolicy

FLOW_LIFETIME = timedelta(minutes=10)
METADATA_TTL = 3600.0  # seconds a fetched discovery document and key set are reused
CLOCK_LEEWAY = 60  # seconds of clock skew tolerated on exp/iat
ID_TOKEN_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
_MAX_GROUPS = 500


@dataclass(frozen=True, slots=True)
class Identity:
    """What a verified ID token says, reduced to what the service needs (no name, no e-mail)."""

    subject_ref: str  # SHA-256 hex of issuer + sub
    groups: frozenset[str]
    amr: frozenset[str]
    acr: str | None


def origin(url: str) -> str:
    """scheme://host[:port] of a URL (what a Content-Security-Policy source names)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def subject_ref(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"{issuer}\x00{sub}".encode()).hexdigest()


class SsoClient:
    """One provider. Its discovery document and keys are fetched on first use and kept for an hour (a key set
    is fetched again at once when a token names an unknown key)."""

    def __init__(self, policy: SsoPolicy) -> None:
        self.policy = policy
        self.now: Callable[[], int] = lambda: int(time.time())  # the ID token's clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0

    # -- discovery --

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=self.policy.http_timeout)
        except requests.RequestException:
            raise SsoUnavailableError("unreachable") from None
        if response.status_code != 200:
            raise SsoUnavailableError("provider_status")
        try:
            body = response.json()
        except ValueError:
            raise SsoUnavailableError("provider_answer") from None
        if not isinstance(body, dict):
            raise SsoUnavailableError("provider_answer")
        return body

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._fetched_at < METADATA_TTL:
                return self._metadata
        found = self._get_json(f"{self.policy.issuer}/.well-known/openid-configuration")
        # OpenID Connect Discovery 4.3: the document must name exactly the configured issuer.
        if found.get("issuer") != self.policy.issuer:
            raise SsoUnavailableError("issuer_mismatch")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(name), str):
                raise SsoUnavailableError("provider_answer")
        with self._lock:
            self._metadata, self._keys, self._fetched_at = found, None, time.monotonic()
        return found

    def keys(self, *, refresh: bool = False) -> KeySet:
        meta = self.metadata()
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
        try:
            keys = KeySet.import_key_set(self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise SsoUnavailableError("provider_keys") from None
        with self._lock:
            self._keys = keys
        return keys

    def end_session_url(self) -> str | None:
        """RP-initiated logout at the provider, when it advertises it (from the cached document; a provider that
        cannot be reached is skipped: the local session has ended anyway)."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except SsoUnavailableError:
            return None
        # Only on the issuer's origin: the CSP lets the sign-out form end there and nowhere else.
        if not isinstance(endpoint, str) or origin(endpoint) != origin(self.policy.issuer):
            return None
        query = {"client_id": self.policy.client_id, "post_logout_redirect_uri": self.policy.post_logout_redirect_uri}
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    # -- the code flow --

    def _oauth(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.policy.client_id,
            client_secret=self.policy.client_secret,
            scope=self.policy.scopes,
            redirect_uri=self.policy.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name, not a secret
        )

    def begin(self, next_url: str) -> tuple[str, dict[str, str]]:
        """The provider's authorization URL and the flow to keep in the signed cookie until the callback."""
        meta = self.metadata()
        flow = {
            "state": generate_token(32),
            "nonce": generate_token(32),
            "verifier": generate_token(64),  # PKCE code verifier (RFC 7636: 43-128 characters)
            "next": next_url,
            "at": datetime.now(UTC).isoformat(),
        }
        with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                meta["authorization_endpoint"], state=flow["state"], code_verifier=flow["verifier"], nonce=flow["nonce"]
            )
        return url, flow

    def complete(self, args: Mapping[str, str], flow: Any) -> Identity:
        """Check the callback against the flow, exchange the code (with the PKCE verifier) and verify the ID
        token. Raises SsoRefusedError (with the reason for the audit) or SsoUnavailableError."""
        flow = _live_flow(flow)
        if not hmac.compare_digest(str(args.get("state", "")), flow["state"]):
            raise _state_error("state_mismatch")
        if "error" in args:
            raise SsoRefusedError("sso_provider_error", "provider_error", status=400)
        meta = self.metadata()
        iss = args.get("iss")  # RFC 9207: which provider answered (mix-up defence)
        if iss is None and meta.get("authorization_response_iss_parameter_supported") is True:
            raise _state_error("issuer_missing")  # a provider that sends it always does
        if iss is not None and iss != self.policy.issuer:
            raise _state_error("issuer_mismatch")
        code = args.get("code")
        if not code:
            raise _state_error("no_code")
        try:
            with self._oauth() as oauth:
                token = oauth.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=flow["verifier"], timeout=self.policy.http_timeout
                )
        except requests.RequestException:
            raise SsoUnavailableError("unreachable") from None
        except (AuthlibBaseError, ValueError):
            raise _token_error("code_exchange") from None
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise _token_error("no_id_token")
        return self._verify_id_token(id_token, flow["nonce"])

    def _verify_id_token(self, id_token: str, nonce: str) -> Identity:
        claims = self._decode(id_token)
        registry = jwt.JWTClaimsRegistry(
            now=self.now,
            leeway=CLOCK_LEEWAY,
            iss={"essential": True, "value": self.policy.issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise _token_error("expired") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            claim = getattr(exc, "claim", "") or "claim"
            raise _token_error("nonce_mismatch" if claim == "nonce" else f"bad_{claim}"[:40]) from None
        except JoseError:
            raise _token_error("claims") from None
        if int(claims.get("iat", 0)) > self.now() + CLOCK_LEEWAY:
            raise _token_error("bad_iat")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        if self.policy.client_id not in audiences:
            raise _token_error("bad_aud")
        if len(audiences) > 1 and claims.get("azp") != self.policy.client_id:
            raise _token_error("bad_azp")
        return Identity(
            subject_ref=subject_ref(self.policy.issuer, str(claims["sub"])),
            groups=_string_set(claims.get(self.policy.claim)),
            amr=_string_set(claims.get("amr")),
            acr=claims.get("acr") if isinstance(claims.get("acr"), str) else None,
        )

    def _decode(self, id_token: str) -> dict[str, Any]:
        meta = self.metadata()
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in ID_TOKEN_ALGORITHMS if alg in offered] or ["RS256"]
        try:
            return dict(jwt.decode(id_token, self.keys(), algorithms=algorithms).claims)
        except (JoseError, ValueError):
            pass  # perhaps a key the provider rotated in since the set was fetched: fetch it once more
        try:
            return dict(jwt.decode(id_token, self.keys(refresh=True), algorithms=algorithms).claims)
        except (JoseError, ValueError):
            raise _token_error("signature") from None


def _string_set(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(item for item in value[:_MAX_GROUPS] if isinstance(item, str))
    return frozenset()


def _live_flow(flow: Any) -> dict[str, str]:
    if not isinstance(flow, dict) or not all(isinstance(flow.get(k), str) for k in ("state", "nonce", "verifier")):
        raise _state_error("no_flow")
    try:
        started = datetime.fromisoformat(str(flow.get("at")))
    except ValueError:
        raise _state_error("no_flow") from None
    if datetime.now(UTC) - started > FLOW_LIFETIME:
        raise _state_error("flow_expired")
    return flow
