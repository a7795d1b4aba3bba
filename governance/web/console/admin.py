"""Administration: staff accounts, OAuth clients, processors and master keys; each change after a fresh second
factor, a secret shown exactly once."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from governance.access import admin
from governance.access.accounts import ROLES
from governance.access.decorators import current_principal, requires
from governance.access.errors import AccountLockedError, SignInFailedError
from governance.access.tokens import KNOWN_SCOPES
from governance.consent import service as consent
from governance.db import get_session, transaction
from governance.errors import DomainError, NotFoundError
from governance.vault import keymanagement
from governance.web import sources
from governance.web.blueprint import bp
from governance.web.console.chrome import console_resource, may, render


@bp.get("/console/admin")
@requires("console.view", resource=console_resource)
def console_admin() -> str:
    """Staff, clients, processors and keys: each section only for those allowed to see it."""

    session = get_session()
    context: dict[str, Any] = {"staff": [], "clients": [], "processors": [], "keys": [], "rotation": None}
    sections = []
    if may("staff.manage"):
        sections.append("staff")
        context["staff"] = sources.staff(session)
        context["roles"] = sorted(ROLES)
    if may("client.manage"):
        sections.append("clients")
        context["clients"] = sources.clients(session)
        context["scopes"] = sorted(KNOWN_SCOPES)
        context["purpose_keys"] = [p.key for p in consent.purposes()]
    if may("processor.manage"):
        sections.append("processors")
        context["processors"] = _processor_rows(session)
    if may("keys.read"):
        sections.append("keys")
        context["keys"], context["rotation"] = sources.key_status(session)
        context["can_rotate"] = may("keys.rotate")
    return render("web/console/admin.html", "web.console_admin", sections=sections, **context)


def _processor_rows(session: Any) -> list[dict[str, Any]]:
    rows = []
    for processor in sources.processors(session):
        deliveries = sources.deliveries(session, processor.id)
        rows.append(
            {
                "name": processor.name + ("" if processor.active else " (inactive)"),
                "events": processor.events,
                "delivered": sum(d.status == "delivered" for d in deliveries),
                "pending": sum(d.status == "pending" for d in deliveries),
                "failed": sum(d.status == "failed" for d in deliveries),
                "last_at": max((d.last_attempt_at for d in deliveries if d.last_attempt_at), default=None),
            }
        )
    return rows


# --- administration: staff and clients, each change after a fresh second factor ----------------------------


def _admin_back() -> ResponseReturnValue:
    return redirect(url_for("web.console_admin"), code=303)


def _admin_act(action: Any, done: str) -> ResponseReturnValue:
    """Re-check the admin's second factor, then run `action(session)` in one transaction with its audit entry.
    Returns the action's result page (a secret shown once) or a redirect with a message."""

    session = get_session()
    try:
        admin.recheck_second_factor(session, current_principal(), request.form.get("mfa_code", ""))
    except (SignInFailedError, AccountLockedError) as exc:
        session.commit()  # the failure counts towards the lockout, like a failed sign-in
        flash(f"Nothing changed: {exc.message}", "error")
        return _admin_back()
    session.commit()  # the code's time step is now used: it cannot confirm a second change
    try:
        with transaction(session):
            result = action(session)
    except DomainError as exc:
        if exc.status not in (404, 409, 422):
            raise
        flash(f"Nothing changed: {exc.message}", "error")
        return _admin_back()
    if isinstance(result, Response):
        return result
    flash(done, "success")
    return _admin_back()


def _secret_page(title: str, label: str, secret: str, facts: list[tuple[str, str]]) -> Response:
    """A secret shown exactly once: never stored (so not behind a redirect), never cached, never logged."""
    html = render("web/console/secret.html", "web.console_admin", title=title, label=label, secret=secret, facts=facts)
    return Response(html, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _staff_id(staff_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(staff_id)
    except ValueError:
        raise NotFoundError("No such staff account.") from None


@bp.post("/console/admin/staff")
@requires("staff.manage")
def console_staff_add() -> ResponseReturnValue:
    username = request.form.get("username", "")
    roles = set(request.form.getlist("roles"))

    def add(session: Any) -> Response:
        staff, temporary = admin.add_staff(session, username=username, roles=roles, actor=current_principal())
        return _secret_page(
            "Staff account added",
            "Temporary password (must be changed at the first sign-in)",
            temporary,
            [("Account", staff.username), ("Roles", ", ".join(staff.roles))],
        )

    return _admin_act(add, "")


@bp.post("/console/admin/staff/<staff_id>/disable")
@requires("staff.manage")
def console_staff_disable(staff_id: str) -> ResponseReturnValue:
    target = _staff_id(staff_id)
    return _admin_act(
        lambda session: admin.disable_staff(session, target, actor=current_principal()),
        "Account disabled; its sessions ended.",
    )


@bp.post("/console/admin/staff/<staff_id>/reset")
@requires("staff.manage")
def console_staff_reset(staff_id: str) -> ResponseReturnValue:
    target = _staff_id(staff_id)

    def reset(session: Any) -> Response:
        temporary = admin.reset_staff_password(session, target, actor=current_principal())
        return _secret_page(
            "Password reset",
            "Temporary password (must be changed at the next sign-in)",
            temporary,
            [("Sessions", "All of the account's sessions were ended.")],
        )

    return _admin_act(reset, "")


@bp.post("/console/admin/clients")
@requires("client.manage")
def console_client_add() -> ResponseReturnValue:
    name = request.form.get("name", "")
    scopes = set(request.form.getlist("scopes"))
    purposes = {p for p in request.form.getlist("purposes") if p}

    def add(session: Any) -> Response:
        client = admin.add_client(session, name=name, scopes=scopes, purposes=purposes, actor=current_principal())
        return _secret_page(
            "Client added",
            "Client secret",
            client.client_secret,
            [("Client id", client.client_id), ("Scopes", ", ".join(client.scopes))],
        )

    return _admin_act(add, "")


@bp.post("/console/admin/clients/<client_id>/rotate")
@requires("client.manage")
def console_client_rotate(client_id: str) -> ResponseReturnValue:
    def rotate(session: Any) -> Response:
        secret = admin.rotate_client(session, client_id, actor=current_principal())
        return _secret_page(
            "Client secret rotated",
            "New client secret (the old one no longer works)",
            secret,
            [("Client id", client_id), ("Tokens", "Tokens already issued work until they expire.")],
        )

    return _admin_act(rotate, "")


@bp.post("/console/admin/clients/<client_id>/disable")
@requires("client.manage")
def console_client_disable(client_id: str) -> ResponseReturnValue:
    return _admin_act(
        lambda session: admin.disable_client(session, client_id, actor=current_principal()),
        "Client disabled; its tokens were revoked.",
    )


@bp.post("/console/admin/keys/rotate")
@requires("keys.rotate")
def console_rotate_master_key() -> ResponseReturnValue:
    """Start a master-key rotation: a new version becomes active at once; re-wrapping runs as a job."""

    with transaction(get_session()) as session:
        rotation = keymanagement.start_master_rotation(session, actor=current_principal())
    flash(f"Rotation to master-key version {rotation.target_version} started.", "success")
    return redirect(url_for("web.console_admin") + "#keys-h", code=303)


@bp.get("/console/admin/keys/rotation")
@requires("keys.read")
def console_rotation_status() -> ResponseReturnValue:
    """The latest rotation's progress as JSON (polled by the admin page)."""

    _facts, rotation = sources.key_status(get_session())
    if rotation is None:
        return jsonify(finished=True)
    return jsonify(
        done=rotation["done"],
        total=rotation["total"],
        message=rotation["summary"],
        finished=not rotation["running"],
    )
