"""Training job handlers: the training run itself (governance.training.runner), and the periodic upkeep (orphaned
jobs, lineage flags). The handlers own the transactions: the service functions they call never commit."""

from __future__ import annotations

from typing import Any

from governance.jobs import JobContext, register, register_periodic
from governance.training import runner, service

RECONCILE_JOB = "training.reconcile"
FLAGS_JOB = "training.refresh_flags"


# The lease is renewed after every epoch and while polling for cancellation (every ~2 s between steps).
@register(service.JOB_KIND, lease_seconds=600, max_attempts=3)
def run_training(ctx: JobContext) -> dict[str, Any]:
    return runner.run_training_job(ctx)


@register(RECONCILE_JOB, lease_seconds=120, max_attempts=3)
def reconcile(ctx: JobContext) -> dict[str, Any]:
    with ctx.session() as session:
        count = service.reconcile_orphaned_jobs(session)
        session.commit()
    return {"reconciled": count}


@register(FLAGS_JOB, lease_seconds=600, max_attempts=3)
def refresh_flags(ctx: JobContext) -> dict[str, Any]:
    with ctx.session() as session:
        added = service.refresh_flags(session)
        session.commit()
    return {"new_flags": added}


def register_schedules(*, reconcile_seconds: int, flags_seconds: int) -> None:
    register_periodic(RECONCILE_JOB, every_seconds=reconcile_seconds)
    register_periodic(FLAGS_JOB, every_seconds=flags_seconds)
