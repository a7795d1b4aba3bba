"""Authorization decisions for every domain: `authorize(principal, action, resource, context=None)`.

The policy engine is loaded once per app (at `init_app`) and shared by every request. Denials and break-glass
grants are written to the audit log in their OWN transaction: the request's transaction is rolled back when
the denial turns into an error response, and the record of the attempt must survive that.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from flask import current_app, has_app_context, has_request_context
from sqlalchemy.orm import Session

from governance import audit
from governance.access import accounts, sessions
from governance.access.models import OAuthClient, StaffAccount
from governance.access.policy import Decision, PolicyEngine
from governance.access.principals import ActorRef, Principal, Resource
from governance.core.runtime import Slot, runtime
from governance.db import current_session, get_db
from governance.errors import AuthenticationRequiredError, ForbiddenError, NotFoundError

log = logging.getLogger("governance.access")

# the app's Cedar policy engine (filled at start-up from the configured policies folder)
POLICY_ENGINE = Slot("access.policy_engine", PolicyEngine)
BREAK_GLASS = "profile.break_glass"

__all__ = [
    "BREAK_GLASS",
    "POLICY_ENGINE",
    "allowed",
    "authorize",
    "create_dashboard_link",
    "decide",
    "get_engine",
]


def get_engine() -> PolicyEngine:
    """The app's policy engine (the Cedar files of its configured policies folder); raises outside an app."""
    return runtime().get(POLICY_ENGINE)


def _context_for(action: str, context: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Only break-glass takes a context (its written reason); surrounding blanks do not count as a reason."""
    if action != BREAK_GLASS:
        return None
    reason = (context or {}).get("reason")
    return {"reason": reason.strip() if isinstance(reason, str) else ""}


def decide(principal: Principal, action: str, resource: Resource, context: Mapping[str, Any] | None = None) -> Decision:
    """The decision and the rules behind it, without side effects (for pages that show or hide a button)."""
    return get_engine().decide(principal, action, resource, _context_for(action, context))


def allowed(principal: Principal, action: str, resource: Resource, context: Mapping[str, Any] | None = None) -> bool:
    return decide(principal, action, resource, context).allowed


def authorize(principal: Principal, action: str, resource: Resource, context: Mapping[str, Any] | None = None) -> None:
    """Return if policy allows; otherwise record the denial and raise.

    Raises AuthenticationRequiredError for an anonymous caller, NotFoundError when a subject session or a
    client reaches something that belongs to another subject or client (its existence is not revealed), and
    ForbiddenError otherwise. An allowed break-glass read is recorded in the audit log before returning.
    """
    if principal.kind == "anonymous":
        raise AuthenticationRequiredError(headers={"WWW-Authenticate": 'Bearer realm="governance"'})
    checked_context = _context_for(action, context)
    decision = get_engine().decide(principal, action, resource, checked_context)
    if decision.allowed:
        if action == BREAK_GLASS and principal.kind != "system":
            reason = (checked_context or {}).get("reason", "")
            granted = "access.break_glass.granted"
            _record_outside_request(principal, granted, resource, decision, reason=reason)
        return
    _record_outside_request(principal, "access.denied", resource, decision, action=action)
    if _hides_existence(principal, resource):
        raise NotFoundError()
    if action == BREAK_GLASS and "break-glass-needs-reason" in decision.policies:
        raise ForbiddenError("Break-glass access needs a written reason.", code="reason_required")
    raise ForbiddenError()


def _hides_existence(principal: Principal, resource: Resource) -> bool:
    if principal.kind == "subject" and resource.owner_subject_id is not None:
        return resource.owner_subject_id != principal.subject_id
    if principal.kind == "client" and resource.owner_client_id is not None:
        return resource.owner_client_id != principal.id
    return False


def _release_request_transaction() -> None:
    """SQLite has one writer: the request's own open transaction would block the separate audit write below
    (same thread, so until the busy timeout). The request is being refused or is only reading, so its
    transaction is rolled back first."""
    if not has_request_context():
        return
    request_session = current_session()
    if (
        request_session is not None
        and request_session.in_transaction()
        and request_session.get_bind().dialect.name == "sqlite"
    ):
        request_session.rollback()


def _record_outside_request(
    principal: Principal,
    audit_action: str,
    resource: Resource,
    decision: Decision,
    *,
    action: str | None = None,
    reason: str | None = None,
) -> None:
    """Commit an audit entry (and, for break-glass, the written reason) in a separate transaction."""
    if not has_app_context() or "governance.db" not in current_app.extensions:
        return  # pure use of the engine (benchmarks, unit tests of policy): nothing to record into

    details: dict[str, Any] = {"resource_type": resource.type, "rules": list(decision.policies)}
    if action is not None:
        details["action"] = action
    target = (resource.type, resource.id) if resource.id != "*" else None
    _release_request_transaction()
    session = get_db().session()
    try:
        with session.begin():
            if reason is not None:
                grant_id = accounts.store_break_glass_reason(session, principal, resource, reason)
                details["break_glass_id"] = str(grant_id)
            # a refusal's target id comes from the URL: redacted if it looks like personal data, never dropped
            audit.record(
                session, actor=principal, action=audit_action, target=target, details=details, redact=reason is None
            )
    except Exception:
        # The decision stands either way; a failing audit write is an operational alarm, not a reason to
        # turn a denial into an allow or a break-glass read into a silent one.
        log.exception("could not record access decision", extra={"audit_action": audit_action})
        if reason is not None:
            raise
    finally:
        session.close()


def create_dashboard_link(session: Session, subject_id: uuid.UUID, *, actor: Principal | ActorRef) -> str:
    """A one-time dashboard URL for `subject_id` (valid 10 minutes, once). Does not commit."""
    token = sessions.create_link_token(session, subject_id, actor=actor)
    base = ""
    if has_app_context():
        base = current_app.extensions["governance.settings"].base_url
    return f"{base}/dashboard/start/{token}"


def client_principal(session: Session, client_id: str) -> Principal | None:
    """The principal of a registered, active service client with every scope and purpose it is registered for,
    or None. For acting on a client's behalf, e.g. a DPO retraining a client's model: the new job still belongs
    to the client and stays within what the client may do."""
    client = session.get(OAuthClient, client_id)
    if client is None or not client.active:
        return None
    return Principal(
        kind="client", id=client.client_id, scopes=frozenset(client.scopes), purposes=frozenset(client.purposes)
    )


def staff_principal(session: Session, staff_id: uuid.UUID, *, mfa: bool) -> Principal | None:
    """The principal of an active staff account with its roles, or None: for answering "may this person do X?"
    asked by another system (OpenID AuthZEN). `mfa` is whether that system's session of the person passed a
    second factor; without it the MFA guard rail leaves privileged roles only `account.self`."""
    account = session.get(StaffAccount, staff_id)
    if account is None or not account.active:
        return None
    return Principal(
        kind="staff",
        id=str(account.id),
        roles=frozenset(account.roles),
        mfa=mfa,
        must_change_password=account.must_change_password,
    )
