"""Administration from the console: adding, disabling and resetting staff, adding, rotating and disabling
clients, each after a fresh second factor from the admin (a stolen or unattended session alone cannot change
who has access). Secrets are returned once and never stored in clear or logged."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy.orm import Session

from governance.access import accounts, signin_context, tokens
from governance.access.errors import SignInFailedError
from governance.access.models import StaffAccount
from governance.access.principals import Principal


def recheck_second_factor(session: Session, principal: Principal, code: str) -> None:
    """The signed-in staff member's TOTP code (or a recovery code) once more, with the sign-in's replay
    protection and lockout. Raises SignInFailedError or AccountLockedError."""
    if principal.kind != "staff":
        raise SignInFailedError()
    staff = accounts.get_staff(session, uuid.UUID(principal.id))
    accounts.check_second_factor(
        session,
        staff,
        code=code.strip(),
        box=signin_context.totp_box(),
        address_hash=signin_context.address_hash(),
        policy=signin_context.lockout_policy(),
    )


def add_staff(session: Session, *, username: str, roles: set[str], actor: Principal) -> tuple[StaffAccount, str]:
    """A new account with a temporary password (returned once) that must be changed at the first sign-in."""
    temporary = secrets.token_urlsafe(15)
    staff = accounts.create_staff(session, username=username, password=temporary, roles=roles, actor=actor)
    staff.must_change_password = True
    return staff, temporary


def disable_staff(session: Session, staff_id: uuid.UUID, *, actor: Principal) -> None:
    accounts.deactivate_staff(session, staff_id, actor=actor)


def reset_staff_password(session: Session, staff_id: uuid.UUID, *, actor: Principal) -> str:
    return accounts.reset_password(session, staff_id, actor=actor)


def add_client(
    session: Session, *, name: str, scopes: set[str], purposes: set[str], actor: Principal
) -> tokens.RegisteredClient:
    return tokens.register_client(session, name=name, scopes=scopes, purposes=purposes, actor=actor)


def rotate_client(session: Session, client_id: str, *, actor: Principal) -> str:
    return tokens.rotate_client_secret(session, client_id, actor=actor)


def disable_client(session: Session, client_id: str, *, actor: Principal) -> int:
    return tokens.deactivate_client(session, client_id, actor=actor)
