"""The vault's job handlers: master-key re-wrap (resumable, with progress) and the daily retention run."""

from __future__ import annotations

import uuid
from typing import Any

from governance.access.principals import Principal
from governance.jobs import JobContext, register, register_periodic

REWRAP_JOB = "vault.rotate_master_key"
RETENTION_JOB = "vault.retention"
SYSTEM = Principal.system("vault")


@register(REWRAP_JOB, lease_seconds=300, max_attempts=10)
def rotate_master_key(ctx: JobContext) -> dict[str, Any]:
    """Re-wrap data keys in committed batches until none is left under an old version, then retire it.

    Idempotent: after a crash the next attempt carries on from what is committed.
    """
    from governance.vault import keymanagement

    rotation_id = uuid.UUID(ctx.payload["rotation_id"])
    batch_size = int(ctx.payload.get("batch_size", 2000))
    session = ctx.session()
    try:
        total = session.get_one(keymanagement.KeyRotation, rotation_id).total
        session.rollback()

        def report(done: int) -> None:
            ctx.progress(done, max(total, done), "re-wrapping data keys")
            ctx.check_cancelled()

        done = keymanagement.rewrap_all(session, rotation_id, batch_size=batch_size, on_batch=report)
        with session.begin():
            view = keymanagement.finish_master_rotation(session, rotation_id, actor=SYSTEM)
        destroyed = keymanagement.retire_provider_versions(view.retired_versions)
        ctx.progress(view.total, view.total, "done")
        return {"rewrapped": done, "retired_versions": view.retired_versions, "provider_destroyed": destroyed}
    finally:
        session.close()


@register(RETENTION_JOB, lease_seconds=600)
def apply_retention(ctx: JobContext) -> dict[str, Any]:
    """Delete fields and events older than every purpose using them allows (counts go to the audit log)."""
    from governance.consent.service import purposes
    from governance.vault.retention import apply_retention as apply
    from governance.vault.retention import retention_days_by_category
    from governance.vault.runtime import get_runtime

    catalog = get_runtime().catalog
    days = retention_days_by_category(catalog, purposes())
    session = ctx.session()
    try:
        with session.begin():
            return apply(session, catalog=catalog, retention_days=days, actor=SYSTEM)
    finally:
        session.close()


def register_schedules() -> None:
    register_periodic(RETENTION_JOB, every_seconds=24 * 3600)
