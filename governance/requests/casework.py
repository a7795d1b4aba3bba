"""Casework on a request by staff: who owns it, and internal notes (never shown to the person).

Both are audited without their content: the audit entry names the request and the owner's or note's id, never
the note's text (staff may have written about the person). Notes are deleted with the person's other data at
erasure (`delete_notes_of_subject`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance import audit
from governance.access import accounts
from governance.access.errors import UnknownStaffError
from governance.access.principals import Principal
from governance.db import rowcount, utcnow
from governance.errors import ValidationFailedError
from governance.requests.errors import RequestNotFoundError
from governance.requests.models import DataSubjectRequest, RequestNote
from governance.requests.records import audit_target, lock_request

NOTE_MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class NoteView:
    id: uuid.UUID
    staff_id: uuid.UUID
    text: str
    created_at: datetime


def owner_of(session: Session, request_id: uuid.UUID) -> uuid.UUID | None:
    """The staff account that owns the request (None while unassigned)."""
    row = session.get(DataSubjectRequest, request_id)
    if row is None:
        raise RequestNotFoundError()
    return row.owner_staff_id


def assign_owner(
    session: Session, request_id: uuid.UUID, *, owner_staff_id: uuid.UUID | None, actor: Principal
) -> uuid.UUID | None:
    """Make an active staff account the request's owner (None: unassign). Returns the previous owner."""
    if owner_staff_id is not None:
        try:
            staff = accounts.get_staff(session, owner_staff_id)
        except UnknownStaffError:
            staff = None
        if staff is None or not staff.active:
            raise ValidationFailedError(fields={"owner": "an active staff account"}, code="unknown_owner")
    row = lock_request(session, request_id)
    previous = row.owner_staff_id
    if previous == owner_staff_id:
        return previous
    row.owner_staff_id = owner_staff_id
    audit.record(
        session,
        actor=actor,
        action="requests.request.assigned" if owner_staff_id else "requests.request.unassigned",
        target=audit_target(row),
        details={"owner": f"staff:{owner_staff_id}" if owner_staff_id else None},
    )
    session.flush()
    return previous


def add_note(session: Session, request_id: uuid.UUID, *, text: str, actor: Principal) -> NoteView:
    """An internal note by a staff member (1 to 2,000 characters)."""
    cleaned = (text or "").strip()
    if not cleaned or len(cleaned) > NOTE_MAX_CHARS:
        raise ValidationFailedError(fields={"text": f"1 to {NOTE_MAX_CHARS} characters"})
    if actor.kind != "staff":
        raise ValidationFailedError("Only staff write notes.", code="staff_only")
    row = lock_request(session, request_id)
    note = RequestNote(
        request_id=row.id, subject_id=row.subject_id, staff_id=uuid.UUID(actor.id), text=cleaned, created_at=utcnow()
    )
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="requests.note.added",
        target=audit_target(row),
        details={"note_id": str(note.id), "chars": len(cleaned)},
    )
    return NoteView(note.id, note.staff_id, note.text, note.created_at)


def notes_of(session: Session, request_id: uuid.UUID) -> list[NoteView]:
    """The request's notes, newest first."""
    rows = session.scalars(
        select(RequestNote).where(RequestNote.request_id == request_id).order_by(RequestNote.created_at.desc())
    )
    return [NoteView(r.id, r.staff_id, r.text, r.created_at) for r in rows]


def delete_notes_of_subject(session: Session, subject_id: uuid.UUID) -> int:
    """Erasure: every note on the person's requests (what staff wrote about them) is deleted."""
    result = session.execute(delete(RequestNote).where(RequestNote.subject_id == subject_id))
    return rowcount(result)
