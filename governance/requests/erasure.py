"""Erasure: the two crash-safe steps of the erasure job and the signed certificate."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.consent import service as consent
from governance.db import utcnow
from governance.outbox import service as outbox
from governance.requests import casework
from governance.requests import certificate as certificates
from governance.requests.crashpoints import crash_point
from governance.requests.errors import (
    RequestNotFoundError,
)
from governance.requests.exports import _delete_bundles, _delete_links_of_subject
from governance.requests.lifecycle import (
    ItemOutcome,
    Status,
    outcome_status,
)
from governance.requests.models import DataSubjectRequest
from governance.requests.records import (
    CERTIFICATE_KEY,
    ERASURE_EVENT,
    WORKER,
    audit_target,
    fields_of,
    first_given,
    get_policy,
    lock_request,
    text_or_none,
    transition,
)
from governance.training import service as training
from governance.vault import service as vault

# --- erasure -------------------------------------------------------------------------------------------------

_CONFIRMED = {"delivered", "acknowledged", "confirmed", "succeeded"}
_FAILED = {"failed", "dead", "gave_up", "abandoned", "cancelled"}


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return date(day.year + years, 2, 28)


def erase(session: Session, request_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """What the erasure job runs first, in the caller's ONE transaction: step 1 and, when no processor has to
    confirm (none was notified), step 2 as well, on the same locked row (one lock, one UPDATE of the request,
    one commit). Otherwise the same as `erase_locally`. Idempotent by step marker."""
    now = now or utcnow()
    row = lock_request(session, request_id)
    outcome: dict[str, Any] = {"request_id": str(row.id), "skipped": row.step}
    if _may_erase(row):
        _erase_locally(session, row, now=now)
        outcome = {"request_id": str(row.id), "step": row.step}
    if _may_certify(row) and not row.result.get("deliveries"):
        outcome = _certify(session, row, now=now, force=False)
    session.flush()
    return outcome


def erase_locally(session: Session, request_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """Erasure step 1, all in the caller's transaction: withdrawal of every consent, retention exceptions and
    crypto-shredding, processor notifications (queued webhooks) and model flags. Idempotent by step marker."""
    now = now or utcnow()
    row = lock_request(session, request_id)
    if not _may_erase(row):
        return {"request_id": str(row.id), "skipped": row.step}
    _erase_locally(session, row, now=now)
    session.flush()
    return {"request_id": str(row.id), "step": row.step}


def _may_erase(row: DataSubjectRequest) -> bool:
    return row.status == Status.IN_PROGRESS.value and row.step in ("new", "queued")


def _may_certify(row: DataSubjectRequest) -> bool:
    return row.status == Status.IN_PROGRESS.value and row.step == "awaiting_processors"


def _erase_locally(session: Session, row: DataSubjectRequest, *, now: datetime) -> None:
    exceptions = get_policy().retention_for(row.jurisdiction)
    keep = {e.category for e in exceptions}
    # consent first: the consent ledger refuses changes for a subject the vault already shows as erased
    withdrawn = consent.withdraw_all(session, row.subject_id, method="request", actor=WORKER)
    crash_point("erasure:consents_withdrawn")
    held = vault.event_counts(session, row.subject_id)
    report = fields_of(
        vault.shred_subject(
            session, row.subject_id, actor=WORKER, reason=f"erasure request {row.id}", keep_categories=keep
        )
    )
    crash_point("erasure:shredded")
    delivery_ids = consent.notify_processors(
        session, event=ERASURE_EVENT, subject_id=row.subject_id, payload={"request_id": str(row.id)}
    )
    # the same announcement for the broker, in this transaction (the outbox relay publishes it)
    outbox.write(session, [outbox.OutboxEvent(ERASURE_EVENT, row.subject_id, {"request_id": str(row.id)})], now=now)
    crash_point("erasure:processors_notified")
    flagged = training.flag_models_for_subject(session, row.subject_id, reason="erased")
    crash_point("erasure:models_flagged")
    bundles_deleted = _delete_bundles(session, row.subject_id, now=now, reason="subject_erased")
    _delete_links_of_subject(session, row.subject_id)
    notes_deleted = casework.delete_notes_of_subject(session, row.subject_id)
    backups_by = vault.backups_unreadable_by(session, report.get("erased_at") or now)
    deleted = ["profile", "data_keys", *(f"events:{c}" for c in sorted(held) if c not in keep)]
    if bundles_deleted:
        deleted.append("export_bundles")
    if notes_deleted:
        deleted.append("request_notes")
    kept_events = int(report.get("events_kept") or 0)
    kept: list[dict[str, Any]] = [
        {
            "category": e.category,
            "basis": e.basis,
            "reason": e.reason,
            "retain_until": _years_later(row.received_on, e.retain_for.years).isoformat(),
        }
        for e in exceptions
        if held.get(e.category)
    ]
    counts = {
        "fields_destroyed": int(report.get("fields_destroyed") or 0),
        "events_destroyed": int(report.get("events_destroyed") or 0),
        "events_kept": kept_events,
        "keys_destroyed": int(report.get("keys_destroyed") or 0),
    }
    result: dict[str, Any] = {
        "deleted": deleted,
        "kept": kept,
        "counts": counts,
        "consents_withdrawn": int(withdrawn),
        "deliveries": [str(d) for d in delivery_ids],
        "models_flagged": int(flagged),
        "local_done_at": now.isoformat(),
        # fixed at erasure (the key epoch in force then), so that a certificate re-issued later says the same
        "backups_unreadable_by": backups_by.isoformat() if backups_by else None,
    }
    # the entry goes in before the row changes: the request's UPDATE is flushed once, later (commit or step 2)
    audit.record(
        session,
        actor=WORKER,
        action="requests.erasure.performed",
        target=audit_target(row),
        details={
            "subject_id": str(row.subject_id),
            "kept_categories": sorted(k["category"] for k in kept),
            "consents_withdrawn": int(withdrawn),
            "processors_notified": len(delivery_ids),
            "models_flagged": int(flagged),
            **counts,
        },
    )
    row.result = result
    row.step = "awaiting_processors"


def processor_statuses(session: Session, row: DataSubjectRequest) -> list[dict[str, Any]]:
    """The delivery status of each processor notified for this erasure."""
    ids = [uuid.UUID(d) for d in row.result.get("deliveries", [])]
    if not ids:
        return []
    statuses = []
    for view in consent.delivery_status(session, ids):
        data = fields_of(view)
        raw = str(first_given(data, "status", "state") or "pending").lower()
        status = "confirmed" if raw in _CONFIRMED else "failed" if raw in _FAILED else "pending"
        statuses.append(
            {
                "processor": str(first_given(data, "processor_name", "processor_id")),
                "status": status,
                "confirmed_at": first_given(data, "acknowledged_at", "delivered_at", "confirmed_at")
                if status == "confirmed"
                else None,
            }
        )
    return statuses


def certify_erasure(
    session: Session, request_id: uuid.UUID, *, now: datetime | None = None, force: bool = False
) -> dict[str, Any]:
    """Erasure step 2: once every processor has answered (or the wait is over, or `force`), sign the
    certificate and close the request. Returns `{"waiting": True}` while processors are still pending."""
    now = now or utcnow()
    row = lock_request(session, request_id)
    if not _may_certify(row):
        return {"request_id": str(row.id), "skipped": row.step}
    outcome = _certify(session, row, now=now, force=force)
    session.flush()
    return outcome


def _certify(
    session: Session,
    row: DataSubjectRequest,
    *,
    now: datetime,
    force: bool,
    actor: Principal = WORKER,
    details: dict[str, Any] | None = None,
    by_hand: bool = False,
) -> dict[str, Any]:
    policy = get_policy()
    downstream = processor_statuses(session, row)
    local_done = datetime.fromisoformat(row.result["local_done_at"])
    deadline = local_done + timedelta(hours=policy.erasure.processor_wait_hours)
    pending = [d for d in downstream if d["status"] == "pending"]
    if pending and now < deadline and not force:
        return {"request_id": str(row.id), "waiting": True, "pending": len(pending)}
    keys = current_app.extensions["governance.keys"]
    claims = certificates.build_claims(
        issuer=current_app.extensions["governance.settings"].base_url,
        certificate_id=uuid.uuid5(uuid.NAMESPACE_URL, f"erasure-certificate:{row.id}"),
        request_id=row.id,
        subject_id=row.subject_id,
        jurisdiction=row.jurisdiction,
        received_at=row.received_at,
        completed_at=now,
        deleted=row.result["deleted"],
        kept=row.result["kept"],
        consents_withdrawn=row.result["consents_withdrawn"],
        downstream=downstream,
        models_flagged=row.result["models_flagged"],
        backups_unreadable_by=row.result.get("backups_unreadable_by"),
    )
    certificate = certificates.sign_certificate(claims, keys.signing_key(CERTIFICATE_KEY))
    crash_point("erasure:certificate_signed")
    items = [ItemOutcome(f"category:{c}", done=True) for c in row.result["deleted"]]
    items += [ItemOutcome(f"category:{k['category']}", done=False, reason=k["reason"]) for k in row.result["kept"]]
    items += [
        ItemOutcome(
            f"processor:{d['processor']}",
            done=d["status"] == "confirmed",
            reason=None if d["status"] == "confirmed" else "The processor has not confirmed the deletion yet.",
        )
        for d in downstream
    ]
    # no autoflush: the request row (changed by step 1 in this same transaction, or below) is written once,
    # with the transition's entry
    with session.no_autoflush:
        audit.record(
            session,
            actor=actor,
            action="requests.certificate.issued",
            target=audit_target(row),
            details={
                "certificate_id": claims.jti,
                "processors_confirmed": sum(d["status"] == "confirmed" for d in downstream),
                "processors_unconfirmed": sum(d["status"] != "confirmed" for d in downstream),
            },
        )
    row.certificate = certificate
    row.step = "done"
    row.result = {
        **row.result,
        "downstream": [{**d, "confirmed_at": text_or_none(d["confirmed_at"])} for d in downstream],
        "certificate_id": claims.jti,
    }
    transition(session, row, outcome_status(items), actor=actor, now=now, items=items, details=details, by_hand=by_hand)
    return {"request_id": str(row.id), "certificate_id": claims.jti, "status": row.status}


def certificate_of(session: Session, request_id: uuid.UUID) -> str:
    row = session.get(DataSubjectRequest, request_id)
    if row is None or row.certificate is None:
        raise RequestNotFoundError("No certificate for this request.")
    return row.certificate


def certificate_jwks() -> dict[str, Any]:
    keys = current_app.extensions["governance.keys"]
    return certificates.jwks([keys.public_key(CERTIFICATE_KEY)])
