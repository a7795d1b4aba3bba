"""Access housekeeping job: delete what can no longer be used (expired tokens, links, sessions, stale
throttling rows), so the tables do not grow without bound. Idempotent: running it twice deletes nothing more."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.access.models import (
    AccessToken,
    DashboardLink,
    LoginThrottle,
    StaffSession,
    SubjectSession,
)
from governance.db import rowcount, utcnow
from governance.jobs import JobContext, register, register_periodic

CLEANUP = "access.cleanup"
# Kept a day past expiry, so that "why was I refused?" can still be answered from the rows.
GRACE = timedelta(days=1)


def purge_expired(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Delete rows that expired more than GRACE ago; returns counts per table. Does not commit."""
    cutoff = (now or utcnow()) - GRACE
    counts: dict[str, int] = {}
    statements: dict[str, Any] = {
        "tokens": sa.delete(AccessToken).where(AccessToken.expires_at < cutoff),
        "staff_sessions": sa.delete(StaffSession).where(StaffSession.expires_at < cutoff),
        "subject_sessions": sa.delete(SubjectSession).where(SubjectSession.expires_at < cutoff),
        "dashboard_links": sa.delete(DashboardLink).where(
            DashboardLink.expires_at < cutoff,
            ~sa.exists().where(SubjectSession.link_id == DashboardLink.id),
        ),
        "login_throttle": sa.delete(LoginThrottle).where(
            LoginThrottle.window_started_at < cutoff,
            sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < cutoff),
        ),
    }
    for name, statement in statements.items():
        counts[name] = rowcount(session.execute(statement.execution_options(synchronize_session=False)))
    return counts


@register(CLEANUP, lease_seconds=120, max_attempts=3)
def run_cleanup(ctx: JobContext) -> dict[str, int]:
    with ctx.session() as session:
        counts = purge_expired(session)
        session.commit()
    return counts


def register_schedules() -> None:
    register_periodic(CLEANUP, every_seconds=3600)
