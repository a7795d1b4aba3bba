"""The vault's job handlers: master-key re-wrap (resumable, with progress), the hourly key epoch (new master
version per epoch, destruction of versions past the backup retention) and the daily retention run."""

from __future__ import annotations

import uuid
from typing import Any

from governance.access.principals import Principal
from governance.core.runtime import runtime
from governance.jobs import JobContext, register, register_periodic
from governance.vault import blind_index_rotation, keymanagement, retention
from governance.vault.runtime import get_runtime

REWRAP_JOB = "vault.rotate_master_key"
EPOCH_JOB = "vault.key_epoch"
EPOCH_CHECK_SECONDS = 3600  # KeySchedule.margin (one day) covers a late run of this
RETENTION_JOB = "vault.retention"
REINDEX_JOB = "vault.reindex_blind"
SYSTEM = Principal.system("vault")


@register(REWRAP_JOB, lease_seconds=300, max_attempts=10)
def rotate_master_key(ctx: JobContext) -> dict[str, Any]:
    """Re-wrap data keys in committed batches until none is left under an old version, then retire it (its
    key material is destroyed by `vault.key_epoch` once the backup retention is over).

    Idempotent: after a crash the next attempt carries on from what is committed.
    """
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
        ctx.progress(view.total, view.total, "done")
        return {"rewrapped": done, "retired_versions": view.retired_versions}
    finally:
        session.close()


@register(EPOCH_JOB, lease_seconds=900, max_attempts=10)
def key_epoch(ctx: JobContext) -> dict[str, Any]:
    """Open a new master-key epoch when the active version is older than the epoch length (re-wrapping every
    data key, resumable) and destroy retired versions whose backup retention is over."""
    session = ctx.session()
    try:
        return keymanagement.run_key_epoch(session, actor=SYSTEM)
    finally:
        session.close()


@register(REINDEX_JOB, lease_seconds=300, max_attempts=10)
def reindex_blind(ctx: JobContext) -> dict[str, Any]:
    """Re-index every subject under the new blind-index key version in committed batches, then retire the old
    version for lookups. Idempotent: after a crash the next attempt carries on from what is committed."""
    rotation_id = uuid.UUID(ctx.payload["rotation_id"])
    batch_size = int(ctx.payload.get("batch_size", 1000))
    session = ctx.session()
    try:
        total = session.get_one(blind_index_rotation.BlindIndexRotation, rotation_id).total
        session.rollback()

        def report(done: int) -> None:
            ctx.progress(done, max(total, done), "re-indexing subjects")
            ctx.check_cancelled()

        return blind_index_rotation.run_index_rotation(
            session, rotation_id, actor=SYSTEM, batch_size=batch_size, on_batch=report
        )
    finally:
        session.close()


@register(RETENTION_JOB, lease_seconds=600)
def apply_retention(ctx: JobContext) -> dict[str, Any]:
    """Delete fields and events older than every purpose using them allows (counts go to the audit log)."""
    catalog = get_runtime().catalog
    days = retention.retention_days_by_category(catalog, runtime().get(retention.RETENTION_PURPOSES).read())
    session = ctx.session()
    try:
        with session.begin():
            return retention.apply_retention(session, catalog=catalog, retention_days=days, actor=SYSTEM)
    finally:
        session.close()


def register_schedules() -> None:
    register_periodic(RETENTION_JOB, every_seconds=24 * 3600)
    register_periodic(EPOCH_JOB, every_seconds=EPOCH_CHECK_SECONDS)
