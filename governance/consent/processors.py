"""Processors (downstream systems) and the signed webhooks that tell them about withdrawals and expiries.

An admin registers a processor (name, HTTPS endpoint, events); the service derives its signing secret from the
`consent_webhooks` key and shows it once. Each notification becomes one delivery row per processor and a job;
the worker posts it, signed (see `webhooks.py`), and retries with backoff until the processor answers 2xx.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from governance import audit, jobs
from governance.access.principals import ActorRef, Principal
from governance.consent import webhooks
from governance.consent.errors import InvalidDecisionError, ProcessorNotFoundError
from governance.consent.models import Processor, WebhookDelivery
from governance.db import utcnow

DELIVERY_JOB = "consent.webhook.deliver"
WEBHOOK_KEY_NAME = "consent_webhooks"
MAX_ATTEMPTS = 12  # about two days of retries with the backoff of webhooks.retry_delay
DEFAULT_EVENTS = ("consent.withdrawn", "consent.expired", "consent.objected", "subject.erased")
_EVENT_NAME = re.compile(r"^[a-z][a-z_]*(\.[a-z_]+)+$")
TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class ProcessorView:
    id: uuid.UUID
    name: str
    url: str
    events: list[str]
    purposes: list[str] | None
    active: bool
    secret_version: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: uuid.UUID
    processor_id: uuid.UUID
    event: str
    subject_id: uuid.UUID
    status: str  # pending, delivered, failed
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


def _view(p: Processor) -> ProcessorView:
    return ProcessorView(
        p.id, p.name, p.url, list(p.events), list(p.purposes) if p.purposes else None, p.active,
        p.secret_version, p.created_at,
    )  # fmt: skip


def _delivery_view(d: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        d.id, d.processor_id, d.event, d.subject_id, d.status, d.attempts, d.last_status_code, d.last_error,
        d.created_at, d.last_attempt_at, d.delivered_at,
    )  # fmt: skip


def _service_key() -> bytes:
    return current_app.extensions["governance.keys"].secret(WEBHOOK_KEY_NAME)


def processor_secret(processor: ProcessorView | Processor) -> str:
    return webhooks.derive_secret(_service_key(), str(processor.id), processor.secret_version)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    settings = current_app.extensions["governance.settings"]
    allowed = {"https"} if settings.is_production else {"https", "http"}
    if parts.scheme not in allowed or not parts.hostname or parts.username or parts.password:
        raise InvalidDecisionError(
            "The endpoint must be an https:// URL without credentials.", code="invalid_url", fields={"url": "invalid"}
        )
    return url


def _check_events(events: Iterable[str]) -> list[str]:
    names = sorted(set(events))
    bad = [e for e in names if e != "*" and not _EVENT_NAME.match(e)]
    if not names or bad:
        raise InvalidDecisionError(
            "Events must be names such as consent.withdrawn (or *).", fields={"events": "invalid"}
        )
    return names


def register_processor(
    session: Session,
    *,
    name: str,
    url: str,
    actor: Principal | ActorRef,
    events: Iterable[str] = DEFAULT_EVENTS,
    purposes: Iterable[str] | None = None,
) -> tuple[ProcessorView, str]:
    """Register a processor; returns it and its signing secret (shown once, never stored)."""
    # deferred: the catalog alone, but importing it runs consent.service's __init__, which imports this module
    from governance.consent.service.catalog import purpose

    keys = sorted({purpose(k).key for k in purposes}) if purposes is not None else None
    if session.scalar(sa.select(Processor.id).where(Processor.name == name)) is not None:
        raise InvalidDecisionError("A processor with this name exists.", code="processor_exists", status=409)
    ref = actor.ref if isinstance(actor, Principal) else actor
    processor = Processor(
        id=uuid.uuid4(),
        name=name,
        url=_check_url(url),
        events=_check_events(events),
        purposes=keys,
        active=True,
        secret_version=1,
        created_by=f"{ref.kind}:{ref.id}",
        created_at=utcnow(),
    )
    session.add(processor)
    session.flush()
    forget_processors(session)
    audit.record(
        session, actor=ref, action="consent.processor.registered", target=("processor", processor.id),
        details={"events": processor.events, "purposes": keys},
    )  # fmt: skip
    return _view(processor), processor_secret(processor)


def list_processors(session: Session) -> list[ProcessorView]:
    return [_view(p) for p in session.scalars(sa.select(Processor).order_by(Processor.name))]


def _get(session: Session, processor_id: uuid.UUID) -> Processor:
    processor = session.get(Processor, processor_id)
    if processor is None:
        raise ProcessorNotFoundError()
    return processor


def set_active(
    session: Session, processor_id: uuid.UUID, active: bool, *, actor: Principal | ActorRef
) -> ProcessorView:
    processor = _get(session, processor_id)
    processor.active = active
    forget_processors(session)
    audit.record(
        session, actor=actor, action="consent.processor.activated" if active else "consent.processor.deactivated",
        target=("processor", processor.id),
    )  # fmt: skip
    return _view(processor)


def rotate_secret(
    session: Session, processor_id: uuid.UUID, *, actor: Principal | ActorRef
) -> tuple[ProcessorView, str]:
    """A new signing secret for the processor (the old one stops working at once); returned once."""
    processor = _get(session, processor_id)
    processor.secret_version += 1
    audit.record(
        session, actor=actor, action="consent.processor.secret_rotated", target=("processor", processor.id),
        details={"secret_version": processor.secret_version},
    )  # fmt: skip
    return _view(processor), processor_secret(processor)


def notify_processors(
    session: Session, *, event: str, subject_id: uuid.UUID, payload: dict[str, Any]
) -> list[uuid.UUID]:
    """Queue a signed webhook about `subject_id` to every active processor subscribed to `event`.

    `payload` holds ids and enumerated values only (no personal data); a `purposes` list narrows the
    processors to those registered for one of them. Returns the delivery ids (sent by jobs, in this transaction).
    """
    if not _EVENT_NAME.match(event):
        raise ValueError("event names look like consent.withdrawn")
    wanted = set(payload.get("purposes") or ())
    ids = []
    for processor in _active_processors(session):
        if event not in processor.events and "*" not in processor.events:
            continue
        if processor.purposes and wanted and not wanted & set(processor.purposes):
            continue
        delivery_id = uuid.uuid4()
        job_id = jobs.enqueue(
            session, DELIVERY_JOB, {"delivery_id": str(delivery_id)}, max_attempts=MAX_ATTEMPTS,
            created_by="system:consent",
        )  # fmt: skip
        session.add(
            WebhookDelivery(
                id=delivery_id,
                processor_id=processor.id,
                event=event,
                subject_id=subject_id,
                payload=payload,
                status="pending",
                attempts=0,
                job_id=job_id,
                created_at=utcnow(),
            )
        )
        ids.append(delivery_id)
    if ids:
        session.flush()
    return ids


@dataclass(frozen=True, slots=True)
class _Subscription:
    id: uuid.UUID
    events: tuple[str, ...]
    purposes: tuple[str, ...] | None


PROCESSOR_CACHE_EXTENSION = "governance.consent.active_processors"
PROCESSOR_CACHE_SECONDS = 5.0  # default of GOVERNANCE_CONSENT_PROCESSOR_CACHE_SECONDS (at most 60)


def _active_processors(session: Session) -> list[_Subscription]:
    """The active processors' subscriptions, kept in this process for a few seconds: every withdrawal needs
    them and they change a few times a year. A change made by this process applies at once (`forget_processors`
    runs on every change and again after its commit); one made by another worker, within the cache's seconds
    (GOVERNANCE_CONSENT_PROCESSOR_CACHE_SECONDS; 0 reads the table on every call)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions["governance.settings"]
    seconds = min(settings.get_float("CONSENT_PROCESSOR_CACHE_SECONDS", PROCESSOR_CACHE_SECONDS), 60.0)
    cached = app.extensions.get(PROCESSOR_CACHE_EXTENSION)
    if seconds > 0 and cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    t = Processor.__table__.c
    found = [
        _Subscription(row.id, tuple(row.events or ()), tuple(row.purposes) if row.purposes is not None else None)
        for row in session.execute(sa.select(t.id, t.events, t.purposes).where(t.active.is_(True)))
    ]
    if seconds > 0 and not session.info.get(_CHANGED_IN_TRANSACTION):  # never cache an uncommitted change
        app.extensions[PROCESSOR_CACHE_EXTENSION] = (time.monotonic() + seconds, found)
    return found


_CHANGED_IN_TRANSACTION = "governance.consent.processors_changed"


def forget_processors(session: Session | None = None) -> None:
    """Drop this process's cached subscriptions; with a session, again when its transaction ends (so that a
    read between the change and its commit cannot keep the old list)."""
    current_app.extensions.pop(PROCESSOR_CACHE_EXTENSION, None)
    if session is not None:
        session.info[_CHANGED_IN_TRANSACTION] = True
        if not sa.event.contains(session, "after_transaction_end", _forget_after_transaction):
            sa.event.listen(session, "after_transaction_end", _forget_after_transaction)


def _forget_after_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CHANGED_IN_TRANSACTION, None)
        if has_app_context():
            current_app.extensions.pop(PROCESSOR_CACHE_EXTENSION, None)


def delivery_status(session: Session, delivery_ids: Iterable[uuid.UUID]) -> list[DeliveryView]:
    wanted = list(delivery_ids)
    if not wanted:
        return []
    rows = session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(wanted)))
    by_id = {d.id: d for d in rows}
    return [_delivery_view(by_id[i]) for i in wanted if i in by_id]


def deliveries(
    session: Session, *, processor_id: uuid.UUID | None = None, status: str | None = None, limit: int = 100
) -> list[DeliveryView]:
    stmt = sa.select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc()).limit(limit)
    if processor_id is not None:
        stmt = stmt.where(WebhookDelivery.processor_id == processor_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return [_delivery_view(d) for d in session.scalars(stmt)]


def redeliver(session: Session, delivery_id: uuid.UUID, *, actor: Principal | ActorRef) -> DeliveryView:
    """Queue a failed delivery again (after the processor fixed its endpoint)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise ProcessorNotFoundError("No such delivery.")
    if delivery.status != "delivered":
        delivery.status = "pending"
        delivery.job_id = jobs.enqueue(
            session, DELIVERY_JOB, {"delivery_id": str(delivery.id)}, max_attempts=MAX_ATTEMPTS,
            created_by="system:consent",
        )  # fmt: skip
        audit.record(session, actor=actor, action="consent.webhook.redelivered", target=("delivery", delivery.id))
    return _delivery_view(delivery)


class WebhookNotAcknowledgedError(Exception):
    """The processor did not answer 2xx (the job retries). Carries no response content."""


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """The outcome of one attempt: the delivery's status, and the error when the processor did not acknowledge
    it and it will be retried (the job commits the attempt, then raises WebhookNotAcknowledgedError)."""

    status: str  # delivered | failed | missing | pending
    error: str | None = None

    @property
    def retry(self) -> bool:
        return self.status == "pending"


def deliver(session: Session, delivery_id: uuid.UUID, *, attempt: int) -> DeliveryAttempt:
    """Send one delivery (one job attempt) and record the attempt in the session; never commits (the job in
    tasks.py does, before it raises for a retry)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status == "delivered":
        return DeliveryAttempt("delivered" if delivery else "missing")
    processor = session.get(Processor, delivery.processor_id)
    if processor is None or not processor.active:
        delivery.status = "failed"
        delivery.last_error = "processor inactive"
        return DeliveryAttempt("failed")
    body = json.dumps(
        {
            "id": str(delivery.id),
            "event": delivery.event,
            "subject_id": str(delivery.subject_id),
            "created_at": delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    secret = processor_secret(processor).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "governance-webhooks/1",
        webhooks.SIGNATURE_HEADER: webhooks.sign(secret, body, int(time.time())),
        webhooks.DELIVERY_HEADER: str(delivery.id),
        webhooks.EVENT_HEADER: delivery.event,
    }
    code: int | None
    try:
        code = _post(processor.url, body, headers)
        error = None if 200 <= code < 300 else f"HTTP {code}"
    except (OSError, ValueError) as exc:  # connection refused, timeout, TLS, bad URL
        code, error = None, type(exc).__name__
    delivery.attempts += 1
    delivery.last_attempt_at = utcnow()
    delivery.last_status_code = code
    delivery.last_error = error
    if error is None:
        delivery.status = "delivered"
        delivery.delivered_at = delivery.last_attempt_at
        audit.record(
            session, actor=ActorRef("system", "consent.webhooks"), action="consent.webhook.delivered",
            target=("delivery", delivery.id),
            details={"processor_id": str(processor.id), "attempts": delivery.attempts},
        )  # fmt: skip
        return DeliveryAttempt("delivered")
    if attempt >= MAX_ATTEMPTS:
        delivery.status = "failed"
        audit.record(
            session, actor=ActorRef("system", "consent.webhooks"), action="consent.webhook.failed",
            target=("delivery", delivery.id),
            details={"processor_id": str(processor.id), "attempts": delivery.attempts},
        )  # fmt: skip
        return DeliveryAttempt("failed")
    return DeliveryAttempt("pending", error)
