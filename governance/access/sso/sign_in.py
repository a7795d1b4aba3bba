"""Accounts: the just-in-time account, its roles from the mapped groups, the second factor, refusals and linking
an existing local account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance import audit
from governance.access.errors import DuplicateError
from governance.access.models import StaffAccount
from governance.access.principals import ActorRef
from governance.access.sessions import Timeouts, end_all_staff_sessions
from governance.access.sso.client import Identity, subject_ref
from governance.access.sso.errors import SsoRefusedError
from governance.access.sso.policy import SsoPolicy

_SSO_PASSWORD_MARK = "!sso"  # noqa: S105 - not a secret: stored instead of a password hash: no password ever verifies against it


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
            details={
                "from": sorted(staff.roles or ()),
                "to": sorted(roles),
                "source": "sso",
                "subject_ref": audit.digest_ref(ref),
            },
        )
        staff.roles = sorted(roles)  # the provider is the truth: a removed group removes the role at once
    if not roles:
        # No mapped group (any more): nothing to sign in to, and sessions that still run end now.
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
        details={"roles": [], "source": "sso", "subject_ref": audit.digest_ref(ref)},
    )
    return staff


def record_refusal(session: Session, reason: str, *, staff_id: Any = None, ref: str | None = None) -> None:
    details: dict[str, Any] = {"reason": reason}
    if ref is not None:
        details["subject_ref"] = audit.digest_ref(ref)
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
    return Timeouts(idle=base.idle, absolute=min(base.absolute, timedelta(hours=policy.session_hours)))


def account_uses_sso(staff: StaffAccount) -> bool:
    return staff.sso_subject is not None


def link_account(session: Session, staff: StaffAccount, *, issuer: str, sub: str, actor: Any) -> None:
    """Turn SSO on for an existing local account (its password stops working; its sessions end)."""
    ref = subject_ref(issuer.rstrip("/"), sub)
    taken = session.scalars(sa.select(StaffAccount.id).where(StaffAccount.sso_subject == ref)).first()
    if taken is not None and taken != staff.id:
        raise DuplicateError("Another account is already linked to this identity.")
    staff.sso_subject = ref  # from now on check_password refuses the (kept) local password
    end_all_staff_sessions(session, staff.id)
    audit.record(
        session,
        actor=actor,
        action="access.staff.sso_linked",
        target=("staff", staff.id),
        details={"subject_ref": audit.digest_ref(ref)},
    )
