"""The single sign-on policy: `policies/sso.yaml` (groups to roles, MFA) and the GOVERNANCE_SSO_* settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from governance.access import accounts
from governance.settings import ConfigError, Settings

DEFAULT_MFA_AMR = ("mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina")  # RFC 8176


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
