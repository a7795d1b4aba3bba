"""Audit job handlers: the periodic sealer and the periodic verification (its report is what pages show)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from governance.audit import reports, service
from governance.jobs import JobContext, register


@register("audit.seal", lease_seconds=120)
def seal(ctx: JobContext) -> dict[str, Any]:
    """Sequence pending entries into the Merkle tree and sign a checkpoint when due (idempotent)."""
    with current_app.app_context():
        config = service.current_config()
    result = service.seal_all(ctx.session, config)
    return {"sealed": result.sealed, "size": result.size}


@register(reports.JOB_KIND, lease_seconds=900, max_attempts=3)
def verify(ctx: JobContext) -> dict[str, Any]:
    """Seal what is pending, then verify (incrementally, or the whole log when a full run is due or was asked
    for) and store the report (idempotent: a rerun stores one more report)."""
    with current_app.app_context():
        config = service.current_config()
        full_every = current_app.extensions["governance.settings"].get_float("AUDIT_VERIFY_FULL_SECONDS", 3600.0)
    service.seal_all(ctx.session, config)
    stored = reports.run_verification(ctx.session, config, full=bool(ctx.payload.get("full")), full_every=full_every)
    if stored is None:
        return {"ran": None}
    return {"ran": stored.kind, "ok": stored.ok, "entries": stored.entries, "seconds": stored.seconds}
