"""One intake path for batches of events naming their subjects: the HTTP route `POST /api/v1/events` and the
broker's intake consumer both call `ingest_mixed`, so the consent gate (the subject's lawful categories from
`consent.lawful_event_categories`), the validation and the idempotency by event id are the same for both.

Never commits: the caller owns the transaction (the consumer acknowledges a message only after it committed).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from governance.access.principals import ActorRef, Principal
from governance.consent.service import lawful_event_categories
from governance.vault import service as vault
from governance.vault.errors import SubjectErasedError, SubjectNotFoundError

__all__ = ["ingest_for_subject", "ingest_mixed"]


def ingest_for_subject(
    session: Session, subject_id: uuid.UUID, events: Sequence[Any], *, actor: Principal | ActorRef
) -> vault.IntakeReport:
    """Store up to 10,000 events of one subject, judged against the categories the subject's consents make
    lawful (`POST /api/v1/subjects/<id>/events`). Raises the vault's SubjectNotFoundError/SubjectErasedError."""
    vault.get_subject(session, subject_id)
    lawful = lawful_event_categories(session, subject_id)
    return vault.ingest_events(session, subject_id, events, actor=actor, lawful_categories=lawful)


def _rejection(index: int, raw: dict[str, Any], code: str, message: str) -> dict[str, Any]:
    event_id = raw.get("event_id")
    safe = event_id if isinstance(event_id, str) and 0 < len(event_id) <= 128 and event_id.isprintable() else None
    return {"index": index, "event_id": safe, "error": code, "message": message}


def ingest_mixed(session: Session, events: Sequence[Any], *, actor: Principal | ActorRef) -> dict[str, Any]:
    """Store events for any number of subjects (each names its `subject_id`), judged per event as for one
    subject (`invalid_event`, `unknown_category`, `no_lawful_basis`) plus `unknown_subject` and `subject_erased`.

    Returns `{accepted, duplicates, rejected: [{index, event_id, error, message}], by_category, subjects}`
    with indexes into `events`. Raises the vault's IntakeTooLargeError for more than 10,000 events per subject.
    """
    groups: dict[uuid.UUID, list[tuple[int, dict[str, Any]]]] = {}
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(events):
        if not isinstance(raw, dict):
            rejected.append(_rejection(index, {}, "invalid_event", "an event must be an object"))
            continue
        try:
            subject_id = uuid.UUID(str(raw.get("subject_id")))
        except ValueError:
            rejected.append(_rejection(index, raw, "invalid_event", "subject_id must be a subject's id (UUID)"))
            continue
        groups.setdefault(subject_id, []).append((index, {k: v for k, v in raw.items() if k != "subject_id"}))
    totals = {"accepted": 0, "duplicates": 0}
    by_category: dict[str, int] = {}
    for subject_id, items in groups.items():
        try:
            vault.get_subject(session, subject_id)
        except (SubjectNotFoundError, SubjectErasedError) as exc:
            code = "subject_erased" if isinstance(exc, SubjectErasedError) else "unknown_subject"
            rejected.extend(_rejection(index, raw, code, exc.message) for index, raw in items)
            continue
        report = vault.ingest_events(
            session,
            subject_id,
            [event for _, event in items],
            actor=actor,
            lawful_categories=lawful_event_categories(session, subject_id),
        )
        totals["accepted"] += report.accepted
        totals["duplicates"] += report.duplicates
        for category, count in report.by_category.items():
            by_category[category] = by_category.get(category, 0) + count
        rejected.extend(
            {"index": items[r.index][0], "event_id": r.event_id, "error": r.error, "message": r.message}
            for r in report.rejected
        )
    rejected.sort(key=lambda r: r["index"])
    return {**totals, "rejected": rejected, "by_category": by_category, "subjects": len(groups)}
