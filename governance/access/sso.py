"""Staff single sign-on with OpenID Connect: the authorization code flow with PKCE (Authlib's client), the ID
token checked here (joserfc), roles mapped from a claim by `policies/sso.yaml`, MFA from the provider's
`amr`/`acr` or the local TOTP, just-in-time accounts with no role until a group is mapped.

What is stored and written about a person: the account keeps `sso_subject`, SHA-256 of the issuer and the
person's `sub`; audit entries carry its first 16 hex digits (`subject_ref`). Names, e-mail addresses and
tokens from the provider are never stored, logged or audited (the ID token is read and dropped).

The service functions take a Session and never commit: the route commits the account, its roles and every
audit entry of one sign-in (succeeded or refused) together.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import sqlalchemy as sa
import yaml
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
from sqlalchemy.orm import Session

from governance import audit
from governance.access import accounts
from governance.access.models import StaffAccount
from governance.access.principals import ActorRef
from governance.errors import DomainError
from governance.settings import ConfigError, Settings

__all__ = [
    "FLOW_KEY",
    "Identity",
    "SignInResult",
    "SsoClient",
    "SsoDisabledError",
    "SsoPolicy",
    "SsoRefusedError",
    "SsoUnavailableError",
    "apply_identity",
    "load_policy",
    "subject_ref",
]

EXTENSION_KEY = "governance.access.sso"
FLOW_KEY = "access_sso_flow"  # the signed cookie's entry for one sign-in in flight (state, nonce, verifier)
SIGNED_IN_KEY = "access_sso"  # marks a staff session started through the provider (for sign-out there)
FLOW_LIFETIME = timedelta(minutes=10)
METADATA_TTL = 3600.0  # seconds a fetched discovery document and key set are reused
CLOCK_LEEWAY = 60  # seconds of clock skew tolerated on exp/iat
ID_TOKEN_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
DEFAULT_MFA_AMR = ("mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina")  # RFC 8176
_SSO_PASSWORD_MARK = "!sso"  # noqa: S105 - not a secret: stored instead of a password hash: no password ever verifies against it
_MAX_GROUPS = 500


# ---- errors (stable codes; messages never name the person or echo the provider's text) ----


class SsoDisabledError(DomainError):
    status, code, default_message = 404, "sso_disabled", "Single sign-on is not configured."


class SsoUnavailableError(DomainError):
    """The provider cannot be reached or answers nonsense. Local sign-in keeps working."""

    status, code = 503, "sso_unavailable"
    default_message = (
        "The company sign-in service cannot be reached right now. Try again in a few minutes; "
        "administrators with a local account can still sign in with their password."
    )

    def __init__(self, reason: str) -> None:
        super().__init__(headers={"Retry-After": "30"})
        self.reason = reason


class SsoRefusedError(DomainError):
    """A sign-in through the provider that is refused. `reason` is the audit's short code."""

    status, code = 403, "sso_refused"
    default_message = "Sign-in through the company sign-in service was refused."

    def __init__(self, code: str, reason: str, *, status: int = 403, staff_id: Any = None) -> None:
        super().__init__(_MESSAGES.get(code, self.default_message), code=code, status=status)
        self.reason = reason
        self.staff_id = staff_id  # the account concerned, once known (for the audit entry's target)


_MESSAGES = {
    "sso_state_invalid": "This sign-in link is not valid or has expired. Start the sign-in again.",
    "sso_token_invalid": "The sign-in service's answer could not be verified. Start the sign-in again.",
    "sso_provider_error": "The sign-in service did not sign you in. Start the sign-in again.",
    "sso_no_role": "You are signed in at the company sign-in service, but your account has no role here yet. "
    "Ask an administrator to give your group access.",
    "sso_mfa_required": "Your role needs multi-factor sign-in. Sign in at the company sign-in service with "
    "your second factor and try again.",
    "sso_account_disabled": "This account is disabled. Ask an administrator.",
}


def _state_error(reason: str) -> SsoRefusedError:
    return SsoRefusedError("sso_state_invalid", reason, status=400)


def _token_error(reason: str) -> SsoRefusedError:
    return SsoRefusedError("sso_token_invalid", reason, status=401)


# ---- the policy file ----


@dataclass(frozen=True, slots=True)
class SsoPolicy:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    post_logout_redirect_uri: str
    claim: str = "groups"
    group_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    mfa_roles: frozenset[str] = accounts.MFA_ROLES
    mfa_amr: frozenset[str] = frozenset(DEFAULT_MFA_AMR)
    mfa_acr: frozenset[str] = frozenset()
    scopes: str = "openid groups"
    session_hours: int = 8
    http_timeout: float = 10.0

    def roles_for(self, groups: frozenset[str]) -> frozenset[str]:
        return frozenset(role for group in groups for role in self.group_roles.get(group, ()))


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: must be a list of strings")
    return value


def load_policy(settings: Settings) -> SsoPolicy | None:
    """The single sign-on settings, or None when SSO is off (no issuer). A bad file stops start-up."""
    path = Path(settings.get("SSO_POLICY") or settings.policies_dir / "sso.yaml")
    data: dict[str, Any] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: must be a mapping")
        data = loaded
    issuer = (settings.get("SSO_ISSUER") or str(data.get("issuer") or "")).rstrip("/")
    if not issuer:
        return None
    client_id = settings.get("SSO_CLIENT_ID") or str(data.get("client_id") or "")
    secret = settings.get("SSO_CLIENT_SECRET") or ""
    if not client_id or not secret:
        raise ConfigError("single sign-on needs a client id and GOVERNANCE_SSO_CLIENT_SECRET")
    if settings.is_production and not issuer.startswith("https://"):
        raise ConfigError("GOVERNANCE_SSO_ISSUER must be an https:// URL in production")
    group_roles: dict[str, frozenset[str]] = {}
    for group, roles in (data.get("roles") or {}).items():
        names = frozenset(_strings(roles if isinstance(roles, list) else [roles], f"{path}: roles.{group}"))
        if names - accounts.ROLES:
            raise ConfigError(f"{path}: roles.{group}: unknown role {sorted(names - accounts.ROLES)[0]!r}")
        group_roles[str(group)] = names
    mfa_roles = frozenset(_strings(data.get("mfa_roles", sorted(accounts.MFA_ROLES)), f"{path}: mfa_roles"))
    if mfa_roles - accounts.ROLES:
        raise ConfigError(f"{path}: mfa_roles: unknown role {sorted(mfa_roles - accounts.ROLES)[0]!r}")
    if accounts.MFA_ROLES - mfa_roles:
        # The Cedar guard rail demands MFA of these roles whatever the file says; say so instead of surprising.
        raise ConfigError(f"{path}: mfa_roles must include {', '.join(sorted(accounts.MFA_ROLES))}")
    session_hours = settings.get_int("SSO_SESSION_HOURS", 8)
    if session_hours < 1:
        raise ConfigError("GOVERNANCE_SSO_SESSION_HOURS must be at least 1")
    base = settings.base_url
    return SsoPolicy(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        redirect_uri=f"{base}/login/sso/callback",
        post_logout_redirect_uri=f"{base}/login",
        claim=str(data.get("claim") or "groups"),
        group_roles=group_roles,
        mfa_roles=mfa_roles,
        mfa_amr=frozenset(_strings(data.get("mfa_amr", list(DEFAULT_MFA_AMR)), f"{path}: mfa_amr")),
        mfa_acr=frozenset(_strings(data.get("mfa_acr"), f"{path}: mfa_acr")),
        scopes=" ".join(_strings(data.get("scopes", ["openid", "groups"]), f"{path}: scopes")),
        session_hours=session_hours,
        http_timeout=settings.get_float("SSO_HTTP_TIMEOUT_SECONDS", 10.0),
    )


# ---- the provider: discovery, keys, the code flow ----


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


# ---- accounts ----


@dataclass(frozen=True, slots=True)
class SignInResult:
    staff: StaffAccount
    mfa: bool  # the provider asserted MFA
    needs_totp: bool  # the roles need MFA, the provider did not assert it: the local TOTP is the second step
    created: bool


def provider_asserted_mfa(policy: SsoPolicy, identity: Identity) -> bool:
    return bool(identity.amr & policy.mfa_amr) or (identity.acr is not None and identity.acr in policy.mfa_acr)


def apply_identity(session: Session, policy: SsoPolicy, identity: Identity) -> SignInResult:
    """Find (or create, with no role) the account of `identity`, set its roles from the mapped groups, and
    decide the second factor. Raises SsoRefusedError after writing whatever must be kept (a new account, a
    role change): the caller commits before answering."""
    ref = identity.subject_ref
    staff = session.scalars(sa.select(StaffAccount).where(StaffAccount.sso_subject == ref)).first()
    created = staff is None
    if staff is None:
        staff = _create_account(session, ref)
    if not staff.active:
        raise SsoRefusedError("sso_account_disabled", "inactive", staff_id=staff.id)
    roles = policy.roles_for(identity.groups)
    if set(staff.roles or ()) != roles:
        audit.record(
            session,
            actor=ActorRef("system", "sso"),
            action="access.staff.roles_changed",
            target=("staff", staff.id),
            details={"from": sorted(staff.roles or ()), "to": sorted(roles), "source": "sso", "subject_ref": ref[:16]},
        )
        staff.roles = sorted(roles)  # the provider is the truth: a removed group removes the role at once
    if not roles:
        # No mapped group (any more): nothing to sign in to, and sessions that still run end now.
        from governance.access.sessions import end_all_staff_sessions

        end_all_staff_sessions(session, staff.id)
        raise SsoRefusedError("sso_no_role", "no_role", staff_id=staff.id)
    mfa = provider_asserted_mfa(policy, identity)
    needs_totp = bool(roles & policy.mfa_roles) and not mfa
    if needs_totp and staff.totp_enabled_at is None:
        raise SsoRefusedError("sso_mfa_required", "mfa_required", staff_id=staff.id)
    return SignInResult(staff=staff, mfa=mfa, needs_totp=needs_totp, created=created)


def _create_account(session: Session, ref: str) -> StaffAccount:
    """Just-in-time: an account the first time someone signs in through the provider, with no role (a mapped
    group gives it one) and no usable password. The name is derived from the subject hash, never from the
    person's name or address."""
    staff = StaffAccount(
        username=f"sso-{ref[:12]}",
        password_hash=_SSO_PASSWORD_MARK,
        roles=[],
        active=True,
        must_change_password=False,
        failed_logins=0,
        sso_subject=ref,
    )
    session.add(staff)
    session.flush()
    audit.record(
        session,
        actor=ActorRef("system", "sso"),
        action="access.staff.created",
        target=("staff", staff.id),
        details={"roles": [], "source": "sso", "subject_ref": ref[:16]},
    )
    return staff


def record_refusal(session: Session, reason: str, *, staff_id: Any = None, ref: str | None = None) -> None:
    details: dict[str, Any] = {"reason": reason}
    if ref is not None:
        details["subject_ref"] = ref[:16]
    audit.record(
        session,
        actor=ActorRef("anonymous", "anonymous"),
        action="access.sso.refused",
        target=("staff", staff_id) if staff_id is not None else None,
        details=details,
    )


def session_timeouts(policy: SsoPolicy, base: Any) -> Any:
    """SSO sessions end at most `session_hours` after sign-in (bounding how long a session keeps roles the
    provider has since taken away), or earlier at the general absolute or idle timeout."""
    from governance.access.sessions import Timeouts

    return Timeouts(idle=base.idle, absolute=min(base.absolute, timedelta(hours=policy.session_hours)))


def account_uses_sso(staff: StaffAccount) -> bool:
    return staff.sso_subject is not None


def link_account(session: Session, staff: StaffAccount, *, issuer: str, sub: str, actor: Any) -> None:
    """Turn SSO on for an existing local account (its password stops working; its sessions end)."""
    from governance.access.sessions import end_all_staff_sessions

    ref = subject_ref(issuer.rstrip("/"), sub)
    taken = session.scalars(sa.select(StaffAccount.id).where(StaffAccount.sso_subject == ref)).first()
    if taken is not None and taken != staff.id:
        from governance.access.errors import DuplicateError

        raise DuplicateError("Another account is already linked to this identity.")
    staff.sso_subject = ref  # from now on check_password refuses the (kept) local password
    end_all_staff_sessions(session, staff.id)
    audit.record(
        session,
        actor=actor,
        action="access.staff.sso_linked",
        target=("staff", staff.id),
        details={"subject_ref": ref[:16]},
    )
