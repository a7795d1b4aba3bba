"""OAuth2 clients and their access tokens (client credentials), and the random tokens behind sessions and links.

Every bearer secret is 256 random bits; only its SHA-256 is stored, so a copy of the database lets nobody
sign in. Functions take a Session and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from governance import audit
from governance.access.errors import DuplicateError, InvalidCredentialSettingsError, UnknownClientError
from governance.access.models import AccessToken, OAuthClient
from governance.access.principals import ActorRef, Principal
from governance.db import rowcount, utcnow
from governance.settings import ConfigError

if TYPE_CHECKING:
    from governance.settings import Settings

KNOWN_SCOPES = frozenset(
    {
        "subjects:write",
        "subjects:link",
        "events:write",
        "consents:write",
        "consents:read",
        "requests:write",
        "datasets:request",
        "training:submit",
        "authzen:evaluate",
        "drp:agent",
    }
)
TOKEN_LIFETIME = timedelta(minutes=15)  # default of GOVERNANCE_ACCESS_TOKEN_SECONDS
TOKEN_LIFETIME_BOUNDS = (1, 86400)  # seconds; a day at most: a bearer token is a credential
TOKEN_CACHE_SECONDS = 5.0  # GOVERNANCE_ACCESS_TOKEN_CACHE_SECONDS (at most 60): cross-worker revocation bound
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    client_secret: str  # shown once, never stored
    scopes: tuple[str, ...]
    purposes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: uuid.UUID
    client_id: str
    scopes: frozenset[str]
    purposes: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    active: bool


def register_client(
    session: Session,
    *,
    name: str,
    scopes: set[str] | frozenset[str],
    purposes: set[str] | frozenset[str] = frozenset(),
    actor: Principal | ActorRef,
    client_id: str | None = None,
) -> RegisteredClient:
    """Register a service client; returns its secret once. Raises InvalidCredentialSettingsError, DuplicateError."""
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown or not scopes:
        raise InvalidCredentialSettingsError(
            "Unknown or missing scopes.", fields={"scopes": f"allowed: {', '.join(sorted(KNOWN_SCOPES))}"}
        )
    bad_purposes = [p for p in purposes if not _PURPOSE.match(p)]
    if bad_purposes:
        raise InvalidCredentialSettingsError(fields={"purposes": "lower-case names only"})
    if not name.strip() or len(name) > 120:
        raise InvalidCredentialSettingsError(fields={"name": "1 to 120 characters"})
    client_id = client_id or f"client-{secrets.token_hex(8)}"
    if not _CLIENT_ID.match(client_id):
        raise InvalidCredentialSettingsError(fields={"client_id": "3-63 lower-case letters, digits, dashes"})
    if session.get(OAuthClient, client_id) is not None:
        raise DuplicateError("A client with this id exists.")
    secret = new_secret()
    ref = actor.ref if isinstance(actor, Principal) else actor
    session.add(
        OAuthClient(
            client_id=client_id,
            name=name.strip(),
            secret_hash=digest(secret),
            scopes=sorted(scopes),
            purposes=sorted(purposes),
            active=True,
            created_by=f"{ref.kind}:{ref.id}",
        )
    )
    audit.record(
        session,
        actor=actor,
        action="access.client.registered",
        target=("client", client_id),
        details={"scopes": sorted(scopes), "purposes": sorted(purposes)},
    )
    return RegisteredClient(client_id, secret, tuple(sorted(scopes)), tuple(sorted(purposes)))


def get_client(session: Session, client_id: str) -> OAuthClient:
    client = session.get(OAuthClient, client_id)
    if client is None:
        raise UnknownClientError()
    return client


def list_clients(session: Session) -> list[OAuthClient]:
    return list(session.scalars(sa.select(OAuthClient).order_by(OAuthClient.created_at)))


def check_client_secret(client: OAuthClient, secret: str) -> bool:
    return client.active and hmac.compare_digest(client.secret_hash, digest(secret))


def deactivate_client(session: Session, client_id: str, *, actor: Principal | ActorRef) -> int:
    """Disable a client and revoke all its tokens; returns the number of tokens revoked."""
    client = get_client(session, client_id)
    client.active = False
    forget_cached_tokens()
    revoked = rowcount(
        session.execute(
            sa.update(AccessToken)
            .where(AccessToken.client_id == client_id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    )
    audit.record(session, actor=actor, action="access.client.deactivated", target=("client", client_id), details={})
    return int(revoked or 0)


def rotate_client_secret(session: Session, client_id: str, *, actor: Principal | ActorRef) -> str:
    """A new secret for an active client, returned once; the old secret stops working at once. Tokens already
    issued keep working until they expire (at most the token lifetime), so the service is not cut off while
    its operators deploy the new secret; disable the client to cut it off."""
    client = get_client(session, client_id)
    if not client.active:
        raise InvalidCredentialSettingsError(
            "A disabled client has no secret to rotate.", fields={"client_id": "active"}
        )
    secret = new_secret()
    client.secret_hash = digest(secret)
    audit.record(session, actor=actor, action="access.client.secret_rotated", target=("client", client_id), details={})
    return secret


def issue_token(
    session: Session,
    client: OAuthClient,
    scopes: set[str] | frozenset[str],
    *,
    token: str | None = None,
    lifetime: timedelta = TOKEN_LIFETIME,
) -> IssuedToken:
    """Store (the hash of) a new access token for `client` with `scopes` (already checked by the caller)."""
    token = token or new_secret()
    now = utcnow()
    row = AccessToken(
        token_hash=digest(token),
        client_id=client.client_id,
        scopes=sorted(scopes),
        issued_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=ActorRef("client", client.client_id),
        action="access.token.issued",
        target=("token", str(row.id)),
        details={"scopes": sorted(scopes), "expires_in": int(lifetime.total_seconds())},
    )
    return IssuedToken(token, int(lifetime.total_seconds()), tuple(sorted(scopes)))


def token_lifetime(settings: Settings) -> timedelta:
    """GOVERNANCE_ACCESS_TOKEN_SECONDS (900): how long a client-credentials token is valid."""
    seconds = settings.get_int("ACCESS_TOKEN_SECONDS", int(TOKEN_LIFETIME.total_seconds()))
    low, high = TOKEN_LIFETIME_BOUNDS
    if not low <= seconds <= high:
        raise ConfigError(f"GOVERNANCE_ACCESS_TOKEN_SECONDS must be between {low} and {high}")
    return timedelta(seconds=seconds)


_LOOKUP = (
    sa.select(
        AccessToken.id,
        AccessToken.client_id,
        AccessToken.scopes,
        AccessToken.issued_at,
        AccessToken.expires_at,
        AccessToken.revoked_at,
        OAuthClient.purposes,
        OAuthClient.active,
    )
    .join(OAuthClient, OAuthClient.client_id == AccessToken.client_id)
    .where(AccessToken.token_hash == sa.bindparam("token_hash"))
)


def lookup_token(session: Session | Connection, token: str, *, now: datetime | None = None) -> TokenInfo | None:
    """The token's facts (active or not), or None when unknown. One indexed query."""
    return _lookup_hashed(session, digest(token), now=now)


def _lookup_hashed(session: Session | Connection, hashed: str, *, now: datetime | None = None) -> TokenInfo | None:
    row = session.execute(_LOOKUP, {"token_hash": hashed}).first()
    if row is None:
        return None
    moment = now or utcnow()
    active = row.revoked_at is None and row.expires_at > moment and bool(row.active)
    return TokenInfo(
        token_id=row.id,
        client_id=row.client_id,
        scopes=frozenset(row.scopes or ()),
        purposes=frozenset(row.purposes or ()),
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        active=active,
    )


def principal_for_token(session: Session | Connection, token: str, *, cache_seconds: float = 0) -> Principal | None:
    """The client principal behind an active bearer token, or None (unknown, expired, revoked, disabled).

    With `cache_seconds` > 0 an ACTIVE token's facts are kept in this process for that long
    (`GOVERNANCE_ACCESS_TOKEN_CACHE_SECONDS`): a revocation or a client's deactivation made by another process
    takes effect here within that bound; made by this process, at once (the cache is cleared). Expiry is checked
    on every use. Unknown and inactive tokens are never cached.
    """
    hashed = digest(token)
    if cache_seconds > 0:
        cached = _TOKEN_CACHE.get(hashed)
        if cached is not None:
            hit, cached_until = cached
            if time.monotonic() < cached_until and hit.expires_at > utcnow():
                return _principal(hit)
            _TOKEN_CACHE.pop(hashed, None)
    info = _lookup_hashed(session, hashed)
    if info is None or not info.active:
        return None
    if cache_seconds > 0:
        if len(_TOKEN_CACHE) >= _TOKEN_CACHE_MAX:
            _TOKEN_CACHE.clear()  # bounded memory; a full cache is rare (one entry per live token)
        _TOKEN_CACHE[hashed] = (info, time.monotonic() + cache_seconds)
    return _principal(info)


def _principal(info: TokenInfo) -> Principal:
    return Principal(kind="client", id=info.client_id, scopes=info.scopes, purposes=info.purposes)


# token SHA-256 -> (facts, monotonic deadline). Process-wide: each gunicorn worker has its own.
_TOKEN_CACHE: dict[str, tuple[TokenInfo, float]] = {}
_TOKEN_CACHE_MAX = 10_000


def forget_cached_tokens() -> None:
    """Drop every cached token (this process): called on revocation and deactivation, and by tests."""
    _TOKEN_CACHE.clear()


def revoke_token(session: Session, token_id: uuid.UUID, *, actor: Principal | ActorRef) -> bool:
    """Revoke one token (idempotent); True if it was active."""
    row = session.get(AccessToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    forget_cached_tokens()
    audit.record(
        session,
        actor=actor,
        action="access.token.revoked",
        target=("token", str(token_id)),
        details={"client_id": row.client_id},
    )
    return True


def new_secret_for_authlib(client: object, grant_type: str, user: object, scope: str | None) -> str:
    """Authlib's token generator hook: the same 256-bit tokens as everywhere else."""
    return new_secret()
