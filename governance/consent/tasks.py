"""Consent jobs: webhook deliveries, the expiry sweep, bulk imports and pruning old idempotency keys. The
handlers call the service and own the transactions (services never commit)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from governance.consent import imports, processors, service
from governance.jobs import JobContext, register, register_periodic

EXPIRY_JOB = "consent.expire"
EXPIRY_EVERY_SECONDS = 3600
EXPIRY_BATCH = 500
PRUNE_KEYS_JOB = "consent.prune_idempotency_keys"
PRUNE_KEYS_EVERY_SECONDS = 3600


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
    step = functools.partial(service.expire_due, limit=EXPIRY_BATCH)
    return {"expired": _in_batches(ctx, step, EXPIRY_BATCH, progress="consents expired")}


@register(PRUNE_KEYS_JOB, lease_seconds=300, max_attempts=3)
def prune_idempotency_keys(ctx: JobContext) -> dict[str, Any]:
    """Delete idempotency keys older than GOVERNANCE_IDEMPOTENCY_KEY_HOURS, in batches (each one transaction)."""
    retention = key_retention(ctx.app.extensions["governance.settings"])
    step = functools.partial(service.prune_idempotency_keys, retention=retention, limit=service.PRUNE_BATCH)
    return {"deleted": _in_batches(ctx, step, service.PRUNE_BATCH)}


def _in_batches(ctx: JobContext, step: Callable[[Session], int], batch: int, progress: str | None = None) -> int:
    """Run `step` (one batch, returning how many rows it handled) in a transaction each until a batch falls short."""
    total = 0
    while True:
        with ctx.session() as session:
            done = step(session)
            session.commit()
        total += done
        if progress:
            ctx.progress(total, None, progress)
        if done < batch:
            return total


def key_retention(settings: Any) -> timedelta:
    """At least an hour: a client's retries of one write must still find its key."""
    hours = settings.get_int("IDEMPOTENCY_KEY_HOURS", int(service.KEY_RETENTION.total_seconds() // 3600))
    return timedelta(hours=max(1, hours))


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
    register_periodic(PRUNE_KEYS_JOB, every_seconds=PRUNE_KEYS_EVERY_SECONDS)
