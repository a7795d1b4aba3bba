"""Consent jobs: webhook deliveries, the expiry sweep and bulk imports. The handlers call the service and own
the transactions (services never commit)."""

from __future__ import annotations

import uuid
from typing import Any

from governance.consent import imports, processors, service
from governance.jobs import JobContext, register, register_periodic

EXPIRY_JOB = "consent.expire"
EXPIRY_EVERY_SECONDS = 3600
EXPIRY_BATCH = 500


@register(processors.DELIVERY_JOB, lease_seconds=60, max_attempts=processors.MAX_ATTEMPTS)
def deliver_webhook(ctx: JobContext) -> dict[str, Any]:
    """One delivery attempt, committed; an unacknowledged attempt then raises so that the worker retries with
    backoff."""
    with ctx.session() as session:
        attempt = processors.deliver(session, uuid.UUID(ctx.payload["delivery_id"]), attempt=ctx.attempt)
        session.commit()
    if attempt.retry:
        raise processors.WebhookNotAcknowledgedError(attempt.error)
    return {"status": attempt.status}


@register(EXPIRY_JOB, lease_seconds=300, max_attempts=3)
def expire_consents(ctx: JobContext) -> dict[str, Any]:
    """Record `expired` for every over-age consent, in batches (each batch one transaction)."""
    total = 0
    while True:
        with ctx.session() as session:
            recorded = service.expire_due(session, limit=EXPIRY_BATCH)
            session.commit()
        total += recorded
        ctx.progress(total, None, "consents expired")
        if recorded < EXPIRY_BATCH:
            return {"expired": total}


@register(imports.JOB_KIND, lease_seconds=300, max_attempts=5)
def run_import(ctx: JobContext) -> dict[str, Any]:
    """The import: batches of rows, each committed with its cursor (resumable), then the import marked done."""
    import_id = uuid.UUID(ctx.payload["import_id"])
    with ctx.session() as session:
        pending = imports.pending_rows(session, import_id)
    if isinstance(pending, str):
        return {"status": pending}
    rows, total = pending
    for start in range(0, len(rows), imports.BATCH):
        with ctx.session() as session:
            done = imports.import_batch(session, import_id, rows[start : start + imports.BATCH])
            session.commit()
        ctx.progress(done, total, "rows processed")
    with ctx.session() as session:
        result = imports.finish(session, import_id)
        session.commit()
    return result


def register_schedules() -> None:
    register_periodic(EXPIRY_JOB, every_seconds=EXPIRY_EVERY_SECONDS)
