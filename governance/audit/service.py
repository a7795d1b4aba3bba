"""Writing audit entries in the caller's transaction. (First version; the audit domain adds the hash tree,
checkpoints, verification and search on top of this interface.)"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.audit.models import AuditEntry
from governance.db import utcnow

Target = tuple[str, str | uuid.UUID] | None


def _policy_version() -> str | None:
    if has_app_context():
        return current_app.extensions.get("governance.policy_version")
    return None


def record(
    session: Session,
    *,
    actor: Principal | ActorRef,
    action: str,
    target: Target,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit entry to `session`; it commits (or rolls back) with the change it records.

    `details` must hold no personal data: internal ids, counts and enumerated values only.
    """
    ref = actor.ref if isinstance(actor, Principal) else actor
    session.add(
        AuditEntry(
            occurred_at=utcnow(),
            actor_kind=ref.kind,
            actor_id=str(ref.id),
            action=action,
            target_kind=target[0] if target else None,
            target_id=str(target[1]) if target else None,
            request_id=g.get("request_id") if has_request_context() else None,
            policy_version=_policy_version(),
            details=details or {},
        )
    )
