"""The access JSON API under /api/v1 (documented in /api/openapi.json): dashboard links for the product
backend, staff accounts and service clients for admins, break-glass reasons for auditors, the policy in force."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from governance.access import accounts, sessions, tokens
from governance.access.decorators import current_principal, requires, resource_of
from governance.access.principals import Resource
from governance.access.schemas import (
    BreakGlassList,
    ClientDeactivatedOut,
    ClientIn,
    ClientList,
    ClientOut,
    ClientPath,
    DashboardLinkOut,
    DeactivatedOut,
    PasswordResetOut,
    PolicyOut,
    StaffIn,
    StaffList,
    StaffOut,
    StaffPath,
    SubjectPath,
)
from governance.access.service import create_dashboard_link as create_link
from governance.access.service import get_engine
from governance.api import api_blueprint
from governance.db import get_session, transaction

bp = api_blueprint("access", description="Dashboard links, staff accounts, service clients, access policy")
NO_STORE = {"Cache-Control": "no-store"}


@resource_of("Subject")
def _subject(args: dict[str, Any]) -> Resource:
    return Resource.subject(args["subject_id"])


@resource_of("StaffAccount")
def _staff(args: dict[str, Any]) -> Resource:
    return Resource(type="StaffAccount", id=str(args["staff_id"]))


@resource_of("AuditLog")
def _break_glass_log(_args: dict[str, Any]) -> Resource:
    return Resource(type="AuditLog", id="break-glass")


@resource_of("ClientApp")
def _client(args: dict[str, Any]) -> Resource:
    return Resource(type="ClientApp", id=str(args["client_id"]))


@bp.post("/subjects/<subject_id>/dashboard-links", responses={201: DashboardLinkOut})
@requires("subject.link", resource=_subject)
def create_dashboard_link(path: SubjectPath) -> Any:
    """A one-time link to the subject's privacy dashboard (valid 10 minutes, opens once)."""
    with transaction(get_session()) as session:
        url = create_link(session, path.subject_id, actor=current_principal())
    body = DashboardLinkOut(url=url, expires_in=int(sessions.LINK_LIFETIME.total_seconds()))
    return body.model_dump(), 201, NO_STORE


@bp.get("/access/staff", responses={200: StaffList})
@requires("staff.manage")
def list_staff() -> Any:
    now = datetime.now(UTC)
    items = [
        {
            "id": s.id,
            "username": s.username,
            "roles": s.roles,
            "active": s.active,
            "second_factor": s.totp_enabled_at is not None,
            "sso": s.sso_subject is not None,
            "locked": s.locked_until is not None and s.locked_until > now,
            "last_login_at": s.last_login_at.isoformat() if s.last_login_at else None,
        }
        for s in accounts.list_staff(get_session())
    ]
    return StaffList.model_validate({"items": items}).model_dump(mode="json")


@bp.post("/access/staff", responses={201: StaffOut})
@requires("staff.manage")
def create_staff(body: StaffIn) -> Any:
    """Create a staff account. Admin, DPO and auditor set up an authenticator app at first sign-in."""
    with transaction(get_session()) as session:
        staff = accounts.create_staff(
            session, username=body.username, password=body.password, roles=set(body.roles), actor=current_principal()
        )
    return StaffOut(id=staff.id, roles=staff.roles).model_dump(mode="json"), 201


@bp.post("/access/staff/<staff_id>/password-reset", responses={200: PasswordResetOut})
@requires("staff.manage", resource=_staff)
def reset_password(path: StaffPath) -> Any:
    """A temporary password (shown once); the account's sessions end and it must choose a new password."""
    with transaction(get_session()) as session:
        temporary = accounts.reset_password(session, path.staff_id, actor=current_principal())
    return PasswordResetOut(temporary_password=temporary, must_change_password=True).model_dump(), 200, NO_STORE


@bp.post("/access/staff/<staff_id>/deactivate", responses={200: DeactivatedOut})
@requires("staff.manage", resource=_staff)
def deactivate_staff(path: StaffPath) -> Any:
    with transaction(get_session()) as session:
        accounts.deactivate_staff(session, path.staff_id, actor=current_principal())
    return DeactivatedOut(id=str(path.staff_id), active=False).model_dump()


@bp.get("/access/clients", responses={200: ClientList})
@requires("client.manage")
def list_clients() -> Any:
    items = [
        {"client_id": c.client_id, "name": c.name, "scopes": c.scopes, "purposes": c.purposes, "active": c.active}
        for c in tokens.list_clients(get_session())
    ]
    return ClientList.model_validate({"items": items}).model_dump()


@bp.post("/access/clients", responses={201: ClientOut})
@requires("client.manage")
def register_client(body: ClientIn) -> Any:
    """Register a service client; the secret is in this response only."""
    with transaction(get_session()) as session:
        registered = tokens.register_client(
            session,
            name=body.name,
            scopes=set(body.scopes),
            purposes=set(body.purposes),
            actor=current_principal(),
        )
    out = ClientOut(
        client_id=registered.client_id,
        client_secret=registered.client_secret,
        scopes=list(registered.scopes),
        purposes=list(registered.purposes),
    )
    return out.model_dump(), 201, NO_STORE


@bp.delete("/access/clients/<client_id>", responses={200: ClientDeactivatedOut})
@requires("client.manage", resource=_client)
def deactivate_client(path: ClientPath) -> Any:
    """Disable a client and revoke all its tokens at once."""
    with transaction(get_session()) as session:
        revoked = tokens.deactivate_client(session, path.client_id, actor=current_principal())
    return ClientDeactivatedOut(client_id=path.client_id, active=False, tokens_revoked=revoked).model_dump()


@bp.get("/access/break-glass", responses={200: BreakGlassList})
@requires("audit.read", resource=_break_glass_log)
def list_break_glass() -> Any:
    """Break-glass reads with their written reasons (the audit log holds only their ids)."""
    items = [
        {
            "id": g.id,
            "actor": f"{g.actor_kind}:{g.actor_id}",
            "resource": f"{g.resource_type}:{g.resource_id}",
            "reason": g.reason,
            "at": g.created_at.isoformat(),
        }
        for g in accounts.break_glass_grants(get_session())
    ]
    return BreakGlassList.model_validate({"items": items}).model_dump(mode="json")


@bp.get("/access/policy", responses={200: PolicyOut})
@requires("policy.read")
def policy() -> Any:
    """The access policy in force: its version, the action catalogue and every rule with its file and line."""
    engine = get_engine()
    rules = []
    for policy_id in engine.policy_ids:
        source, line = engine.source_of(policy_id) or ("", 0)
        rules.append({"id": policy_id, "file": source.rsplit("/", 1)[-1], "line": line})
    return PolicyOut.model_validate(
        {"version": engine.version, "actions": sorted(engine.actions), "rules": rules}
    ).model_dump()
