"""Audit job handlers: the periodic sealer."""

from __future__ import annotations

from typing import Any

from flask import current_app

from governance.audit import service
from governance.jobs import JobContext, register


@register("audit.seal", lease_seconds=120)
def seal(ctx: JobContext) -> dict[str, Any]:
    """Sequence pending entries into the Merkle tree and sign a checkpoint when due (idempotent)."""
    with current_app.app_context():
        config = service.current_config()
    result = service.seal_all(ctx.session, config)
    return {"sealed": result.sealed, "size": result.size}
