"""Browser sessions: one-time dashboard links and subject sessions for end users, staff sessions.

The signed Flask cookie carries only a random session token; the server keeps (the hash of) it with the
session's facts, so a session can be ended server-side (sign-out, password reset, lockout) and a stolen cookie
is useless after the idle or absolute timeout.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from governance import audit
from governance.access.errors import LinkInvalidError
from governance.access.models import DashboardLink, StaffAccount, StaffSession, SubjectSession
from governance.access.principals import ActorRef, Principal
from governance.access.tokens import digest, new_secret
from governance.db import rowcount, utcnow

LINK_LIFETIME = timedelta(minutes=10)
# Touching last_seen_at on every request would turn every read into a write; a minute's precision is enough
# for an idle timeout counted in tens of minutes.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # goes into the signed cookie, never stored
    session_id: uuid.UUID


# ---- dashboard links and subject sessions ----


def create_link_token(session: Session, subject_id: uuid.UUID, *, actor: Principal | ActorRef) -> str:
    """Store a one-time link token for `subject_id` (valid 10 minutes, once) and return the token."""
    token = new_secret()
    ref = actor.ref if isinstance(actor, Principal) else actor
    link = DashboardLink(
        token_hash=digest(token),
        subject_id=subject_id,
        created_by=f"{ref.kind}:{ref.id}",
        expires_at=utcnow() + LINK_LIFETIME,
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="access.dashboard_link.created",
        target=("subject", subject_id),
        details={"link_id": str(link.id), "expires_in": int(LINK_LIFETIME.total_seconds())},
    )
    return token


def redeem_link(session: Session, token: str, timeouts: Timeouts) -> tuple[NewSession, uuid.UUID]:
    """Use a link once: mark it used and start a subject session. Raises LinkInvalidError (unknown, expired
    or used: one answer for all three). The update is conditional, so two concurrent uses cannot both win."""
    now = utcnow()
    link = session.scalars(sa.select(DashboardLink).where(DashboardLink.token_hash == digest(token))).first()
    if link is None:
        raise LinkInvalidError()
    claimed = rowcount(
        session.execute(
            sa.update(DashboardLink)
            .where(DashboardLink.id == link.id, DashboardLink.used_at.is_(None), DashboardLink.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if claimed != 1:
        reason = "used" if link.used_at is not None else "expired"
        audit.record(
            session,
            actor=ActorRef("anonymous", "anonymous"),
            action="access.dashboard_link.rejected",
            target=("subject", link.subject_id),
            details={"link_id": str(link.id), "reason": reason},
        )
        raise LinkInvalidError()
    session_token = new_secret()
    row = SubjectSession(
        token_hash=digest(session_token),
        subject_id=link.subject_id,
        link_id=link.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timeouts.absolute,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=ActorRef("subject", str(row.id)),
        action="access.subject_session.started",
        target=("subject", link.subject_id),
        details={"link_id": str(link.id)},
    )
    return NewSession(session_token, row.id), link.subject_id


_SUBJECT_LOOKUP = sa.select(
    SubjectSession.id,
    SubjectSession.subject_id,
    SubjectSession.last_seen_at,
    SubjectSession.expires_at,
    SubjectSession.revoked_at,
).where(SubjectSession.token_hash == sa.bindparam("token_hash"))


def resolve_subject_session(conn: Connection, token: str, timeouts: Timeouts) -> Principal | None:
    """The subject principal of a live session (on a short-lived connection, see authn)."""
    row = conn.execute(_SUBJECT_LOOKUP, {"token_hash": digest(token)}).first()
    if row is None or not _alive(row.revoked_at, row.last_seen_at, row.expires_at, timeouts):
        return None
    _touch(conn, SubjectSession, row.id, row.last_seen_at)
    return Principal(kind="subject", id=str(row.id), subject_id=row.subject_id)


def end_subject_session(session: Session, token: str) -> None:
    session.execute(
        sa.update(SubjectSession)
        .where(SubjectSession.token_hash == digest(token), SubjectSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# ---- staff sessions ----


def start_staff_session(session: Session, staff: StaffAccount, *, mfa: bool, timeouts: Timeouts) -> NewSession:
    now = utcnow()
    token = new_secret()
    row = StaffSession(
        token_hash=digest(token),
        staff_id=staff.id,
        mfa=mfa,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timeouts.absolute,
    )
    session.add(row)
    session.flush()
    return NewSession(token, row.id)


_STAFF_LOOKUP = (
    sa.select(
        StaffSession.id,
        StaffSession.staff_id,
        StaffSession.mfa,
        StaffSession.last_seen_at,
        StaffSession.expires_at,
        StaffSession.revoked_at,
        StaffAccount.roles,
        StaffAccount.active,
        StaffAccount.must_change_password,
    )
    .join(StaffAccount, StaffAccount.id == StaffSession.staff_id)
    .where(StaffSession.token_hash == sa.bindparam("token_hash"))
)


def resolve_staff_session(conn: Connection, token: str, timeouts: Timeouts) -> Principal | None:
    """The staff principal of a live session whose account is active."""
    row = conn.execute(_STAFF_LOOKUP, {"token_hash": digest(token)}).first()
    if row is None or not row.active:
        return None
    if not _alive(row.revoked_at, row.last_seen_at, row.expires_at, timeouts):
        return None
    _touch(conn, StaffSession, row.id, row.last_seen_at)
    return Principal(
        kind="staff",
        id=str(row.staff_id),
        roles=frozenset(row.roles or ()),
        mfa=bool(row.mfa),
        must_change_password=bool(row.must_change_password),
    )


def end_staff_session(session: Session, token: str) -> None:
    session.execute(
        sa.update(StaffSession)
        .where(StaffSession.token_hash == digest(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def end_all_staff_sessions(session: Session, staff_id: uuid.UUID) -> int:
    return int(
        rowcount(
            session.execute(
                sa.update(StaffSession)
                .where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        )
        or 0
    )


def _alive(revoked_at: datetime | None, last_seen: datetime, expires_at: datetime, timeouts: Timeouts) -> bool:
    now = utcnow()
    return revoked_at is None and expires_at > now and last_seen + timeouts.idle > now


def _touch(
    conn: Connection, model: type[StaffSession] | type[SubjectSession], row_id: uuid.UUID, last_seen: datetime
) -> None:
    now = utcnow()
    if now - last_seen >= TOUCH_INTERVAL:
        conn.execute(sa.update(model).where(model.id == row_id).values(last_seen_at=now))
