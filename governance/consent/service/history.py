"""What a subject's consents look like: the current state of every purpose, the ledger and the receipts as
issued (the dashboard, `GET …/consents`, exports)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.consent import state as logic
from governance.consent.models import ConsentEvent
from governance.consent.receipts import verify_receipt
from governance.consent.service.catalog import purposes
from governance.consent.service.checks import _states_of
from governance.consent.service.receipt_keys import public_keys
from governance.consent.service.views import ConsentEventView, PurposeStatus, Receipt
from governance.consent.state import Reason
from governance.db import utcnow


def lawful_event_categories(session: Session, subject_id: uuid.UUID, *, now: dt.datetime | None = None) -> set[str]:
    """Event categories that at least one purpose permitted for the subject may use (collection minimization)."""
    states = _states_of(session, subject_id)
    moment = now or utcnow()
    categories: set[str] = set()
    for item in purposes():
        if logic.evaluate(item, states.get(item.key), moment).allowed:
            categories.update(item.event_categories)
    return categories


def overview(session: Session, subject_id: uuid.UUID, *, now: dt.datetime | None = None) -> list[PurposeStatus]:
    """Every purpose with the subject's current state: what the dashboard and `GET …/consents` show."""
    states = _states_of(session, subject_id)
    moment = now or utcnow()
    out = []
    for item in purposes():
        current = states.get(item.key, logic.EMPTY)
        permission = logic.evaluate(item, current, moment)
        out.append(
            PurposeStatus(
                purpose=item.key,
                title=item.title,
                description=item.description,
                legal_basis=item.legal_basis.value,
                allowed=permission.allowed,
                reason=permission.reason,
                decision=current.decision.value if current.decision else None,
                decided_at=current.decided_at,
                notice_version=current.notice_version,
                current_notice_version=item.current_notice.version,
                needs_renewal=permission.reason == Reason.NEEDS_RENEWAL,
                expires_at=logic.expires_at(item, current),
                objected=current.objected,
                sale_or_sharing=item.sale_or_sharing,
            )
        )
    return out


def history(session: Session, subject_id: uuid.UUID) -> list[ConsentEventView]:
    """The subject's ledger, oldest recorded first (superseded events included and marked)."""
    rows = session.scalars(
        sa.select(ConsentEvent)
        .where(ConsentEvent.subject_id == subject_id)
        .order_by(ConsentEvent.recorded_at, ConsentEvent.purpose, ConsentEvent.seq)
    )
    return [
        ConsentEventView(
            id=e.id,
            purpose=e.purpose,
            decision=e.decision,
            seq=e.seq,
            collected_at=e.collected_at,
            recorded_at=e.recorded_at,
            notice_version=e.notice_version,
            notice_sha256=e.notice_sha256,
            method=e.method,
            jurisdiction=e.jurisdiction,
            actor_kind=e.actor_kind,
            superseded=e.superseded,
            evidence=dict(e.evidence or {}),
        )
        for e in rows
    ]


def receipts(session: Session, subject_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every receipt issued for the subject, as issued (body and signed JWS), oldest first."""
    rows = session.execute(
        _RECEIPT_COLUMNS.where(ConsentEvent.subject_id == subject_id).order_by(
            ConsentEvent.recorded_at, ConsentEvent.purpose, ConsentEvent.seq
        )
    )
    return [receipt.as_dict() for receipt in _as_receipts(session, rows)]


def receipts_by_record_id(session: Session, record_ids: Sequence[uuid.UUID]) -> list[Receipt]:
    """The receipts of these ledger records, as issued, in the order given (LookupError if one is not there)."""
    if not record_ids:
        return []
    rows = {row.id: row for row in session.execute(_RECEIPT_COLUMNS.where(ConsentEvent.id.in_(record_ids)))}
    if len(rows) != len(set(record_ids)):
        raise LookupError("a consent record is not in the ledger")
    return _as_receipts(session, [rows[record_id] for record_id in record_ids])


_RECEIPT_COLUMNS = sa.select(
    ConsentEvent.id, ConsentEvent.purpose, ConsentEvent.decision, ConsentEvent.superseded, ConsentEvent.receipt_jws
)
_ReceiptRow = sa.Row[uuid.UUID, str, str, bool, str]  # what _RECEIPT_COLUMNS selects


def _as_receipts(session: Session, rows: Iterable[_ReceiptRow]) -> list[Receipt]:
    """Each body read back from its signed token (which also checks the signature)."""
    keys = public_keys(session)
    return [
        Receipt(
            record_id=row.id,
            purpose=row.purpose,
            decision=row.decision,
            superseded=row.superseded,
            receipt=verify_receipt(row.receipt_jws, keys),
            jws=row.receipt_jws,
        )
        for row in rows
    ]
