"""Consent jobs: webhook deliveries, the expiry sweep and bulk imports (handlers call the service)."""

from __future__ import annotations

import uuid
from typing import Any

from governance.consent import processors
from governance.jobs import JobContext, register, register_periodic

EXPIRY_JOB = "consent.expire"
EXPIRY_EVERY_SECONDS = 3600
EXPIRY_BATCH = 500


@register(processors.DELIVERY_JOB, lease_seconds=60, max_attempts=processors.MAX_ATTEMPTS)
def deliver_webhook(ctx: JobContext) -> dict[str, Any]:
    """One delivery attempt; an unacknowledged attempt raises so that the worker retries with backoff."""
    with ctx.session() as session:
        status = processors.deliver(session, uuid.UUID(ctx.payload["delivery_id"]), attempt=ctx.attempt)
    return {"status": status}


@register(EXPIRY_JOB, lease_seconds=300, max_attempts=3)
def expire_consents(ctx: JobContext) -> dict[str, Any]:
    """Record `expired` for every over-age consent, in batches (each batch one transaction)."""
    from governance.consent import service

    total = 0
    while True:
        with ctx.session() as session:
            recorded = service.expire_due(session, limit=EXPIRY_BATCH)
            session.commit()
        total += recorded
        ctx.progress(total, None, "consents expired")
        if recorded < EXPIRY_BATCH:
            return {"expired": total}


@register("consent.import", lease_seconds=300, max_attempts=5)
def run_import(ctx: JobContext) -> dict[str, Any]:
    from governance.consent import imports

    return imports.run(ctx, uuid.UUID(ctx.payload["import_id"]))


def register_schedules() -> None:
    register_periodic(EXPIRY_JOB, every_seconds=EXPIRY_EVERY_SECONDS)
