"""Export (access, portability): collecting the subject's data through the contract functions, the sealed
bundle, one-session download links, and deletion after retention."""

from __future__ import annotations

import hashlib
import io
import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.consent import service as consent
from governance.db import rowcount, utcnow
from governance.gateway import service as gateway
from governance.requests import bundle as bundles
from governance.requests.crashpoints import crash_point
from governance.requests.errors import (
    DownloadLinkGoneError,
    InvalidTransitionError,
    RequestNotFoundError,
    SubjectAlreadyErasedError,
)
from governance.requests.lifecycle import (
    ItemOutcome,
    RequestKind,
    Status,
)
from governance.requests.models import DataSubjectRequest, DownloadLink, ExportBundle
from governance.requests.records import (
    BUNDLE_KEK,
    WORKER,
    RequestView,
    audit_target,
    check_subject,
    fields_of,
    first_given,
    get_policy,
    lock_request,
    requests_for_subject,
    text_or_none,
    transition,
)
from governance.training import service as training
from governance.vault import service as vault


def _event_row(event: Any) -> dict[str, Any]:
    data = fields_of(event)
    return {
        "id": str(first_given(data, "event_id", "id")),
        "category": str(first_given(data, "category")),
        "occurred_at": first_given(data, "occurred_at"),
        "data": {
            "item_id": data.get("item_id"),
            "value": data.get("value"),
            "context": dict(data.get("context") or {}),
        },
    }


def _decision_row(event: Any) -> dict[str, Any]:
    data = fields_of(event)
    return {
        "purpose": str(first_given(data, "purpose")),
        "decision": str(first_given(data, "decision")),
        "notice_version": text_or_none(first_given(data, "notice_version")),
        "method": text_or_none(first_given(data, "method")),
        "occurred_at": first_given(data, "collected_at", "recorded_at"),
        "receipt_id": text_or_none(first_given(data, "id")),
    }


def _receipt_row(receipt: Any) -> dict[str, Any]:
    data = fields_of(receipt)
    raw_body = data.get("receipt")
    body: Mapping[str, Any] = raw_body if isinstance(raw_body, Mapping) else {}
    issued = first_given(body, "iat", "issued_at")
    return {
        "receipt_id": str(first_given(data, "record_id", "id")),
        "issued_at": datetime.fromtimestamp(issued, tz=UTC) if isinstance(issued, int | float) else issued,
        "content": data,
    }


def _release_row(release: Any) -> dict[str, Any]:
    data = fields_of(release)
    return {
        "release_id": str(first_given(data, "release_id", "id")),
        "purpose": str(first_given(data, "purpose")),
        "released_at": first_given(data, "released_at", "completed_at", "created_at"),
        "recipient": text_or_none(first_given(data, "client_id", "recipient", "client")),
    }


def _model_row(model: Any) -> dict[str, Any]:
    data = fields_of(model)
    return {
        "model_id": str(first_given(data, "model_id", "id", "job_id")),
        "purpose": str(first_given(data, "purpose")),
        "trained_at": first_given(data, "trained_at", "finished_at", "created_at"),
        "status": text_or_none(first_given(data, "status")),
        "flagged": first_given(data, "flagged", "erased_data_flag"),
    }


def _request_row(view: RequestView) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "kind": view.kind,
        "status": view.status,
        "received_at": view.received_at,
        "due_on": view.due_on.isoformat(),
        "closed_at": view.closed_at,
    }


def collect_export(session: Session, row: DataSubjectRequest, *, now: datetime) -> bundles.ExportContent:
    """Gather the subject's data through the other domains' contract functions (events stay a stream)."""
    subject = check_subject(session, row.subject_id)
    subject_data = fields_of(subject)
    # the worker reads in clear on the subject's own request (audited by the vault as vault.profile.read_clear)
    profile = vault.read_profile(session, row.subject_id, actor=WORKER, view="clear")["fields"]
    events: Iterator[dict[str, Any]] = (_event_row(e) for e in vault.iter_events(session, row.subject_id))
    return bundles.ExportContent(
        generated_at=now,
        request={"id": str(row.id), "kind": row.kind, "received_at": row.received_at, "jurisdiction": row.jurisdiction},
        subject={
            "id": str(row.subject_id),
            "jurisdiction": text_or_none(subject_data.get("jurisdiction")),
            "created_at": subject_data.get("created_at"),
        },
        profile=profile,
        consent_decisions=[_decision_row(e) for e in consent.history(session, row.subject_id)],
        consent_receipts=[_receipt_row(r) for r in consent.receipts(session, row.subject_id)],
        events=events,
        requests=[_request_row(v) for v in requests_for_subject(session, row.subject_id)],
        dataset_releases=[_release_row(r) for r in gateway.releases_including(session, row.subject_id)],
        training_jobs=[_model_row(m) for m in training.models_including(session, row.subject_id)],
    )


def run_export(session: Session, request_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """The export job's one step, in the caller's transaction: build, seal and store the bundle, close the
    request. Idempotent: a request already past this step (or no longer in progress) is left as it is."""
    now, policy = now or utcnow(), get_policy()
    row = lock_request(session, request_id)
    if row.status != Status.IN_PROGRESS.value or row.step == "done":
        return {"request_id": str(row.id), "skipped": row.status}
    try:
        content = collect_export(session, row, now=now)
    except SubjectAlreadyErasedError:
        # the subject's erasure finished first: there is nothing left to export, and the subject is told why
        row.rejection_code, row.step = "subject_erased", "done"
        transition(
            session, row, Status.REJECTED, actor=WORKER, now=now, reason=policy.rejection_reasons["subject_erased"]
        )
        return {"request_id": str(row.id), "rejected": "subject_erased"}
    plain = io.BytesIO()
    written = bundles.write_bundle(content, plain)
    crash_point("export:collected")
    bundle_id = uuid.uuid4()
    key = bundles.new_bundle_key()
    sealed = io.BytesIO()
    plain.seek(0)
    bundles.seal(plain, sealed, key, bundle_id)
    keys = current_app.extensions["governance.keys"]
    session.add(
        ExportBundle(
            id=bundle_id,
            request_id=row.id,
            subject_id=row.subject_id,
            sealed=sealed.getvalue(),
            wrapped_key=bundles.wrap_bundle_key(keys.secret(BUNDLE_KEK), key, bundle_id),
            kek_name=BUNDLE_KEK,
            size=written.size,
            event_count=written.event_count,
            created_at=now,
            expires_at=now + timedelta(days=policy.export.bundle_retention_days),
        )
    )
    crash_point("export:sealed")
    row.step = "done"
    row.result = {
        "bundle_id": str(bundle_id),
        "events": written.event_count,
        "size": written.size,
        "expires_at": (now + timedelta(days=policy.export.bundle_retention_days)).isoformat(),
    }
    items = [ItemOutcome(entry.name, done=True) for entry in written.files]
    audit.record(
        session,
        actor=WORKER,
        action="requests.bundle.created",
        target=("bundle", bundle_id),
        details={"request_id": str(row.id), "events": written.event_count, "bytes": written.size},
    )
    transition(session, row, Status.COMPLETED, actor=WORKER, now=now, items=items)
    session.flush()
    return {"request_id": str(row.id), "bundle_id": str(bundle_id), "events": written.event_count}


# --- downloads -----------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _principal_ref(actor: Principal) -> str:
    return f"{actor.kind}:{actor.id}"


def issue_download_link(
    session: Session, request_id: uuid.UUID, *, actor: Principal, now: datetime | None = None
) -> tuple[str, datetime]:
    """A fresh one-session download token for a completed export; returns (token, expires_at).

    The token is returned once and stored only as a hash. Raises `RequestNotFoundError` or
    `DownloadLinkGoneError` when there is no bundle (yet, or any more)."""
    now, policy = now or utcnow(), get_policy()
    row = session.get(DataSubjectRequest, request_id)
    if row is None or row.kind not in (RequestKind.ACCESS.value, RequestKind.PORTABILITY.value):
        raise RequestNotFoundError()
    found = session.scalars(select(ExportBundle).where(ExportBundle.request_id == request_id)).first()
    if found is None:
        raise InvalidTransitionError("The export is not ready yet.", code="export_not_ready")
    if found.deleted_at is not None or found.expires_at <= now:
        raise DownloadLinkGoneError("The export was deleted after its retention period.")
    token = secrets.token_urlsafe(32)
    expires_at = min(now + timedelta(minutes=policy.export.download_link_minutes), found.expires_at)
    session.add(
        DownloadLink(
            id=uuid.uuid4(),
            bundle_id=found.id,
            token_hash=_token_hash(token),
            issued_to=_principal_ref(actor),
            expires_at=expires_at,
            uses=0,
            created_at=now,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="requests.link.issued",
        target=audit_target(row),
        details={"bundle_id": str(found.id), "valid_seconds": int((expires_at - now).total_seconds())},
    )
    session.flush()
    return token, expires_at


def link_request(session: Session, token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(request id, subject id) behind a download token, for the access decision; None when unknown."""
    row = session.execute(
        select(ExportBundle.request_id, ExportBundle.subject_id)
        .join(DownloadLink, DownloadLink.bundle_id == ExportBundle.id)
        .where(DownloadLink.token_hash == _token_hash(token))
    ).first()
    return (row[0], row[1]) if row else None


def open_download(session: Session, token: str, *, actor: Principal, now: datetime | None = None) -> tuple[bytes, str]:
    """Decrypt the bundle behind `token` for `actor`: (zip bytes, file name).

    The first session to use a link owns it; another session gets 404 (`RequestNotFoundError`), an expired
    link or a deleted bundle 410 (`DownloadLinkGoneError`)."""
    now = now or utcnow()
    link = session.scalars(
        select(DownloadLink).where(DownloadLink.token_hash == _token_hash(token)).with_for_update()
    ).first()
    if link is None:
        raise RequestNotFoundError()
    who = _principal_ref(actor)
    if link.bound_to is not None and link.bound_to != who:
        raise RequestNotFoundError()
    if link.expires_at <= now:
        raise DownloadLinkGoneError()
    found = session.get(ExportBundle, link.bundle_id)
    if found is None or found.sealed is None or found.wrapped_key is None or found.expires_at <= now:
        raise DownloadLinkGoneError("The export was deleted after its retention period.")
    if link.bound_to is None:
        link.bound_to, link.first_used_at = who, now
    link.uses += 1
    keys = current_app.extensions["governance.keys"]
    key = bundles.unwrap_bundle_key(keys.secret(found.kek_name), found.wrapped_key, found.id)
    plain = io.BytesIO()
    bundles.open_sealed(io.BytesIO(found.sealed), plain, key, found.id)
    audit.record(
        session,
        actor=actor,
        action="requests.bundle.downloaded",
        target=("request", found.request_id),
        details={"bundle_id": str(found.id), "use": link.uses},
    )
    session.flush()
    return plain.getvalue(), f"export-{found.request_id}.zip"


def purge_expired_bundles(session: Session, *, now: datetime | None = None) -> int:
    """Delete bundles past their retention: content and wrapped key go; the row stays as proof."""
    now = now or utcnow()
    expired = session.scalars(
        select(ExportBundle)
        .where(ExportBundle.deleted_at.is_(None), ExportBundle.expires_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    return _delete(session, expired, now=now, reason="retention_elapsed")


def _delete_bundles(session: Session, subject_id: uuid.UUID, *, now: datetime, reason: str) -> int:
    """Delete every live bundle of a subject (an erasure leaves no export of the erased data behind)."""
    live = session.scalars(
        select(ExportBundle)
        .where(ExportBundle.subject_id == subject_id, ExportBundle.deleted_at.is_(None))
        .with_for_update()
    ).all()
    return _delete(session, live, now=now, reason=reason)


def _delete_links_of_subject(session: Session, subject_id: uuid.UUID) -> int:
    """Delete every download-link row of a subject's bundles, live or already purged (erasure: the token
    hashes and the sessions that used them go too; the bundle rows stay as proof, without content or key)."""
    bundles = select(ExportBundle.id).where(ExportBundle.subject_id == subject_id).scalar_subquery()
    result = session.execute(delete(DownloadLink).where(DownloadLink.bundle_id.in_(bundles)))
    return rowcount(result)


def _delete(session: Session, found_bundles: Iterable[ExportBundle], *, now: datetime, reason: str) -> int:
    """Drop the sealed content and the wrapped key (the row stays as proof) and end every link."""
    deleted = list(found_bundles)
    for found in deleted:
        found.sealed, found.wrapped_key, found.deleted_at = None, None, now
        audit.record(
            session,
            actor=WORKER,
            action="requests.bundle.deleted",
            target=("bundle", found.id),
            details={"request_id": str(found.request_id), "reason": reason},
        )
    if deleted:
        session.execute(
            update(DownloadLink).where(DownloadLink.bundle_id.in_([b.id for b in deleted])).values(expires_at=now)
        )
    session.flush()
    return len(deleted)
