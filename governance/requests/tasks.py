"""Job handlers: export and erasure as durable, crash-safe jobs; bundle purging and the overdue sweep.

Crash safety: each step is ONE transaction that also moves the request's step marker, and every step first
locks the request row and skips itself when the marker says it is done. A worker killed anywhere either lost
the whole step (rolled back, nothing visible) or finished it; the job runs again after its lease and carries on
from the marker, so each step takes effect exactly once.

    export:  [collect → write → seal → store bundle, close request]                         one step
    erasure: [retention plan → shred → withdraw consents → notify processors → flag models] step 1
             [wait for processor acknowledgements → sign certificate, close request]         step 2
             (one transaction for both when no processor was notified: nothing to wait for)
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import Flask

from governance import jobs
from governance.db import utcnow
from governance.requests import service
from governance.requests.crashpoints import crash_point

PURGE_JOB = "requests.purge_bundles"
OVERDUE_JOB = "requests.overdue_sweep"


def export_job(ctx: jobs.JobContext) -> dict[str, Any]:
    request_id = uuid.UUID(ctx.payload["request_id"])
    with ctx.session() as session, session.begin():
        result = service.run_export(session, request_id)
    crash_point("export:committed")
    return result


def erasure_job(ctx: jobs.JobContext) -> dict[str, Any]:
    request_id = uuid.UUID(ctx.payload["request_id"])
    with ctx.session() as session, session.begin():
        # step 1, and step 2 in the same transaction when no processor has to confirm
        outcome = service.erase(session, request_id)
    crash_point("erasure:local_committed")
    if outcome.get("status") is not None or outcome.get("skipped") == "done":
        crash_point("erasure:completed")
        return outcome
    with ctx.session() as session, session.begin():
        outcome = service.certify_erasure(session, request_id)
        if outcome.get("waiting"):
            # look again later, in a follow-up job queued in this same transaction
            poll = int(ctx.payload.get("poll", 0)) + 1
            minutes = ctx.app.extensions["governance.settings"].get_float("REQUESTS_PROCESSOR_POLL_MINUTES", 5.0)
            jobs.enqueue(
                session,
                service.ERASURE_JOB,
                {"request_id": str(request_id), "poll": poll},
                run_after=utcnow() + timedelta(minutes=minutes),
                dedupe_key=f"{service.ERASURE_JOB}:{request_id}:poll:{poll}",
                created_by="system:requests.worker",
            )
    crash_point("erasure:completed")
    return outcome


def purge_job(ctx: jobs.JobContext) -> dict[str, Any]:
    with ctx.session() as session, session.begin():
        return {"deleted": service.purge_expired_bundles(session)}


def overdue_job(ctx: jobs.JobContext) -> dict[str, Any]:
    with ctx.session() as session, session.begin():
        return {"alerted": service.sweep_overdue(session)}


def register_tasks(app: Flask) -> None:
    settings = app.extensions["governance.settings"]
    lease = settings.get_int("REQUESTS_JOB_LEASE_SECONDS", 120)
    jobs.register(service.EXPORT_JOB, lease_seconds=lease, max_attempts=10)(export_job)
    jobs.register(service.ERASURE_JOB, lease_seconds=lease, max_attempts=10)(erasure_job)
    jobs.register(PURGE_JOB, lease_seconds=lease)(purge_job)
    jobs.register(OVERDUE_JOB, lease_seconds=lease)(overdue_job)
    jobs.register_periodic(PURGE_JOB, every_seconds=3600)
    jobs.register_periodic(OVERDUE_JOB, every_seconds=3600)
