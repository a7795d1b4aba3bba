"""Staff accounts and their administration: the roles, creation, password reset by an admin and change by the
person, break-glass reasons, listing and deactivation."""

from __future__ import annotations

import re
import secrets
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance import audit
from governance.access import credentials
from governance.access.errors import (
    DuplicateError,
    InvalidCredentialSettingsError,
    SignInFailedError,
    SsoAccountError,
    UnknownStaffError,
)
from governance.access.models import BreakGlassGrant, StaffAccount
from governance.access.principals import ActorRef, Principal, Resource
from governance.access.sessions import end_all_staff_sessions
from governance.db import utcnow

ROLES = frozenset({"admin", "dpo", "support", "auditor"})
MFA_ROLES = frozenset({"admin", "dpo", "auditor"})
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


def needs_mfa(roles: frozenset[str] | set[str] | list[str]) -> bool:
    return bool(MFA_ROLES & set(roles))


def create_staff(
    session: Session,
    *,
    username: str,
    password: str,
    roles: set[str] | frozenset[str],
    actor: Principal | ActorRef,
) -> StaffAccount:
    """Create a staff account. Raises InvalidCredentialSettingsError, PasswordPolicyError, DuplicateError."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidCredentialSettingsError(fields={"username": "2-63 lower-case letters, digits, . _ -"})
    unknown = set(roles) - ROLES
    if unknown or not roles:
        raise InvalidCredentialSettingsError(fields={"roles": f"one or more of {', '.join(sorted(ROLES))}"})
    try:
        password_hash = credentials.hash_password(password)
    except credentials.PasswordPolicyError as exc:
        raise InvalidCredentialSettingsError(str(exc), fields={"password": str(exc)}) from None
    if session.scalars(sa.select(StaffAccount.id).where(StaffAccount.username == name)).first():
        raise DuplicateError("A staff account with this name exists.")
    staff = StaffAccount(
        username=name,
        password_hash=password_hash,
        roles=sorted(roles),
        active=True,
        must_change_password=False,
        failed_logins=0,
    )
    session.add(staff)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="access.staff.created",
        target=("staff", staff.id),
        details={"roles": sorted(roles)},
    )
    return staff


def get_staff(session: Session, staff_id: uuid.UUID) -> StaffAccount:
    staff = session.get(StaffAccount, staff_id)
    if staff is None:
        raise UnknownStaffError()
    return staff


def reset_password(session: Session, staff_id: uuid.UUID, *, actor: Principal) -> str:
    """Admin reset: a temporary password (returned once), to be changed at the next sign-in. Ends the
    account's sessions and lifts a lockout; the second factor stays as it is."""
    staff = get_staff(session, staff_id)
    if staff.sso_subject is not None:
        raise SsoAccountError()  # a temporary password could never be used: the password form refuses it
    temporary = secrets.token_urlsafe(15)
    staff.password_hash = credentials.hash_password(temporary)
    staff.must_change_password = True
    staff.password_changed_at = utcnow()
    staff.failed_logins = 0
    staff.locked_until = None
    ended = end_all_staff_sessions(session, staff.id)
    audit.record(
        session,
        actor=actor,
        action="access.staff.password_reset",
        target=("staff", staff.id),
        details={"sessions_ended": ended},
    )
    return temporary


def change_password(session: Session, staff: StaffAccount, *, current: str, new: str) -> None:
    if not credentials.verify_password(staff.password_hash, current):
        raise SignInFailedError("The current password is not correct.")
    try:
        staff.password_hash = credentials.hash_password(new)
    except credentials.PasswordPolicyError as exc:
        raise InvalidCredentialSettingsError(str(exc), fields={"new_password": str(exc)}) from None
    staff.must_change_password = False
    staff.password_changed_at = utcnow()
    audit.record(
        session,
        actor=ActorRef("staff", str(staff.id)),
        action="access.staff.password_changed",
        target=("staff", staff.id),
        details={},
    )


def store_break_glass_reason(session: Session, principal: Principal, resource: Resource, reason: str) -> uuid.UUID:
    grant = BreakGlassGrant(
        actor_kind=principal.kind,
        actor_id=principal.id,
        resource_type=resource.type,
        resource_id=resource.id,
        reason=reason,
    )
    session.add(grant)
    session.flush()
    return grant.id


def break_glass_grants(session: Session, *, limit: int = 100) -> list[BreakGlassGrant]:
    return list(session.scalars(sa.select(BreakGlassGrant).order_by(BreakGlassGrant.created_at.desc()).limit(limit)))


def list_staff(session: Session) -> list[StaffAccount]:
    return list(session.scalars(sa.select(StaffAccount).order_by(StaffAccount.username)))


def deactivate_staff(session: Session, staff_id: uuid.UUID, *, actor: Principal) -> None:
    """Disable an account and end its sessions at once. An admin cannot lock themselves out this way."""
    if actor.kind == "staff" and actor.id == str(staff_id):
        raise InvalidCredentialSettingsError("You cannot deactivate your own account.")
    staff = get_staff(session, staff_id)
    staff.active = False
    ended = end_all_staff_sessions(session, staff.id)
    audit.record(
        session,
        actor=actor,
        action="access.staff.deactivated",
        target=("staff", staff.id),
        details={"sessions_ended": ended},
    )
