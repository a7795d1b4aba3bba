"""The one write path: append ledger events, update the state rows, write the audit entries, sign the receipts
and tell processors and the outbox, all in the caller's transaction (never committed here)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from governance import audit, write_batch
from governance.access.principals import ActorRef, Principal
from governance.consent import state as logic
from governance.consent.models import ConsentEvent
from governance.consent.policy import Controller
from governance.consent.processors import notify_processors
from governance.consent.receipts import ReceiptFacts, build_receipt, sign_receipts
from governance.consent.service.catalog import purposes
from governance.consent.service.receipt_keys import _publish_signing_key, _Signer, _signer
from governance.consent.service.state_rows import _lock_states, _state_part, _StateRow, _to_logic
from governance.consent.service.validation import _Planned
from governance.consent.service.views import Receipt
from governance.consent.state import Decision, Method
from governance.outbox import service as outbox
from governance.vault import service as vault


def _actor_ref(actor: Principal | ActorRef) -> ActorRef:
    return actor.ref if isinstance(actor, Principal) else actor


@dataclass(frozen=True, slots=True)
class _Write:
    """What every event of one `_record` call shares."""

    subject_id: uuid.UUID
    method: str
    ref: ActorRef
    jurisdiction: str
    evidence: dict[str, Any]
    now: dt.datetime
    import_ref: tuple[uuid.UUID, int] | None


def _record(
    session: Session,
    subject_id: uuid.UUID,
    planned: list[_Planned],
    *,
    method: str,
    actor: Principal | ActorRef,
    jurisdiction: str,
    evidence: dict[str, Any],
    now: dt.datetime,
    import_ref: tuple[uuid.UUID, int] | None = None,
) -> list[Receipt]:
    """Append the events, update the state rows, write the audit entries, sign the receipts, notify processors.

    The statements, whatever the number of purposes: the state rows locked (with the subject's check), then the
    events, the state rows, the audit entries and the outbox messages written in one combined statement;
    processors (cached) get deliveries only for withdrawals. Unknown or erased subject: the vault's error,
    nothing written.
    """
    if not planned:
        return []
    write = _Write(subject_id, Method(method).value, _actor_ref(actor), jurisdiction, evidence, now, import_ref)
    catalog = purposes()
    signer = _signer()
    _publish_signing_key(session, signer, now)
    rows = _lock_states(session, subject_id, (p.purpose.key for p in planned), now)
    if not rows:
        _check_subject(session, subject_id)  # raises the vault's 404/410
        raise RuntimeError("consent state rows were not created")
    bodies: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    entries: list[audit.Entry] = []
    for plan in planned:
        body, event, entry = _append(write, plan, rows[plan.purpose.key], catalog.controller)
        bodies.append(body)
        events.append(event)
        entries.append(entry)
    issued = _sign(signer, events, bodies)
    # events, state rows, audit entries and outbox messages: ONE statement (governance.write_batch)
    write_batch.execute(
        session,
        [
            write_batch.Part(_EVENTS_TARGET, events),
            _state_part(session, (rows[key] for key in dict.fromkeys(p.purpose.key for p in planned))),
            audit.batch_part(entries),
            outbox.batch_part(_announcements(subject_id, issued, write.method, now), now=now),
        ],
    )
    _notify_stops(session, subject_id, issued, now)
    return issued


def _append(
    write: _Write, plan: _Planned, row: _StateRow, controller: Controller
) -> tuple[dict[str, Any], dict[str, Any], audit.Entry]:
    """One decision applied to its locked state row (updated in place): the receipt body, the ledger event's
    values and the audit entry, nothing written yet."""
    seq = row.last_seq + 1
    new_state, superseded = logic.apply(
        _to_logic(row),
        logic.LedgerEntry(plan.decision, plan.collected_at, plan.notice_version, seq, received_at=write.now),
    )
    event_id = uuid.uuid4()
    notice = plan.purpose.notice(plan.notice_version)
    facts = ReceiptFacts(
        record_id=event_id,
        subject_id=write.subject_id,
        purpose=plan.purpose,
        decision=plan.decision.value,
        notice_version=plan.notice_version,
        notice_sha256=notice.sha256,
        method=write.method,
        jurisdiction=write.jurisdiction,
        collected_at=plan.collected_at,
        recorded_at=write.now,
        actor_kind=write.ref.kind,
        superseded=superseded,
        language=notice.language,
    )
    body = build_receipt(facts, controller, issued_at=write.now)
    event = _event_values(write, plan, event_id, seq, notice.sha256, superseded)
    _update_row(row, new_state, seq, write.now)
    return body, event, _audit_entry(write, plan, event_id, seq, superseded)


def _event_values(
    write: _Write, plan: _Planned, event_id: uuid.UUID, seq: int, notice_sha256: str, superseded: bool
) -> dict[str, Any]:
    """The `consent_events` row of one decision (its `receipt_jws` is added once the batch is signed)."""
    return {
        "id": event_id,
        "subject_id": write.subject_id,
        "purpose": plan.purpose.key,
        "seq": seq,
        "decision": plan.decision.value,
        "collected_at": plan.collected_at,
        "recorded_at": write.now,
        "notice_version": plan.notice_version,
        "notice_sha256": notice_sha256,
        "method": write.method,
        "jurisdiction": write.jurisdiction,
        "actor_kind": write.ref.kind,
        "actor_id": str(write.ref.id)[:128],
        "superseded": superseded,
        "evidence": write.evidence,
        "import_id": write.import_ref[0] if write.import_ref else None,
        "import_row": write.import_ref[1] if write.import_ref else None,
    }


def _update_row(row: _StateRow, new_state: logic.ConsentState, seq: int, now: dt.datetime) -> None:
    row.last_seq = seq
    row.decision = new_state.decision.value if new_state.decision else None
    row.decided_at = new_state.decided_at
    row.decided_seq = new_state.decided_seq
    row.notice_version = new_state.notice_version
    row.objected = new_state.objected
    row.objection_at = new_state.objection_at
    row.objection_seq = new_state.objection_seq
    row.updated_at = now


def _audit_entry(write: _Write, plan: _Planned, event_id: uuid.UUID, seq: int, superseded: bool) -> audit.Entry:
    return audit.Entry(
        actor=write.ref,
        action="consent.decision.recorded",
        target=("subject", write.subject_id),
        details={
            "record_id": str(event_id),
            "purpose": plan.purpose.key,
            "decision": plan.decision.value,
            "method": write.method,
            "notice_version": plan.notice_version,
            "seq": seq,
            "superseded": superseded,
        },
    )


def _sign(signer: _Signer, events: list[dict[str, Any]], bodies: list[dict[str, Any]]) -> list[Receipt]:
    """Sign the batch's receipts in one pass and attach each token to its event."""
    tokens = sign_receipts(bodies, signer.raw, kid=signer.kid)
    issued: list[Receipt] = []
    for event, body, token in zip(events, bodies, tokens, strict=True):
        event["receipt_jws"] = token
        issued.append(Receipt(event["id"], event["purpose"], event["decision"], event["superseded"], body, token))
    return issued


_EVENTS_TARGET = write_batch.target("consent_events", ConsentEvent.__table__, tuple(ConsentEvent.__table__.c.keys()))


_STOP_EVENTS = {
    Decision.WITHDRAWN.value: "consent.withdrawn",
    Decision.EXPIRED.value: "consent.expired",
    Decision.OBJECTED.value: "consent.objected",
}


def _notify_stops(session: Session, subject_id: uuid.UUID, issued: list[Receipt], now: dt.datetime) -> None:
    """Withdrawals, expiries and objections that took effect go to the registered processors."""
    by_event: dict[str, list[Receipt]] = {}
    for receipt in issued:
        name = _STOP_EVENTS.get(receipt.decision)
        if name and not receipt.superseded:
            by_event.setdefault(name, []).append(receipt)
    for name, items in by_event.items():
        notify_processors(
            session,
            event=name,
            subject_id=subject_id,
            payload={
                "purposes": [r.purpose for r in items],
                "record_ids": [str(r.record_id) for r in items],
                "effective_at": now.isoformat(),
            },
        )


def _announcements(
    subject_id: uuid.UUID, issued: list[Receipt], method: str, now: dt.datetime
) -> list[outbox.OutboxEvent]:
    """Every change that took effect goes to the outbox (the broker), in this transaction, with one message per
    event name in the webhook's shape (`consent.granted`, `.withdrawn`, `.expired`, `.objected`,
    `.objection_lifted`; a GPC signal is a withdrawal with method `gpc`)."""
    by_event: dict[str, list[Receipt]] = {}
    for receipt in issued:
        if not receipt.superseded:
            by_event.setdefault(f"consent.{receipt.decision}", []).append(receipt)
    return [
        outbox.OutboxEvent(
            name,
            subject_id,
            {
                "purposes": [r.purpose for r in items],
                "record_ids": [str(r.record_id) for r in items],
                "effective_at": now.isoformat(),
                "method": method,
            },
        )
        for name, items in by_event.items()
    ]


def _check_subject(session: Session, subject_id: uuid.UUID) -> None:
    """Unknown subject → the vault's SubjectNotFoundError (404); erased → SubjectErasedError."""
    vault.subject_jurisdiction(session, subject_id)
